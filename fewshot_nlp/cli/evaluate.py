"""``fewshot-nlp evaluate``: episodic accuracy of a classifier on a task set, with a 95% confidence interval."""

from __future__ import annotations

from .inputs import UsageError, check_backend_option, check_model, check_positive, check_task_name


def evaluate(args) -> int:
    """Episodic accuracy of a classifier (saved, or new on an encoder) on a task set's classes.

    A meta-trained model is evaluated on its meta-test classes of that task set (the class
    split saved with it), never on the classes it was trained on; ``--classes all`` overrides.
    """
    from .. import FewShotClassifier, evaluate_episodes
    from ..tasks import TASK_READERS, EpisodeSampler, load_task_set, parse_task_name

    options = {"split": args.split} if args.tasks in TASK_READERS else {}
    task_set = load_task_set(args.tasks, root=args.data, **options)  # data errors before the model loads
    base = FewShotClassifier.from_pretrained(args.model, backend=args.backend)
    splits = (base.meta_training or {}).get("class_split") or {}
    corpus = parse_task_name(args.tasks)[0]  # a model trained on "sgd:train" has a split of sgd
    split = splits.get(args.tasks) or next((v for k, v in splits.items() if parse_task_name(k)[0] == corpus), None)
    if split and args.classes != "all":
        if not split[args.classes]:
            sizes = ", ".join(f"{part} {len(classes)}" for part, classes in split.items())
            raise ValueError(
                f"the model's class split of {corpus} has no {args.classes!r} classes ({sizes}); "
                "pick another part with --classes, or --classes all."
            )
        task_set = task_set.subset(split[args.classes])
    elif args.classes != "all":
        print(f"note: the model has no class split for {args.tasks}; evaluating on all its classes")
    if args.label_text == "descriptions" and not task_set.descriptions:
        raise ValueError(f"{args.tasks} has no label descriptions; use --label-text names.")
    way = None if args.way == "all" else int(args.way)
    sampler = EpisodeSampler(task_set, way=way, shot=args.shot, query=args.query, seed=args.seed)
    episodes = sampler.sample(args.episodes)

    def make(encoder, episode):
        classifier = FewShotClassifier(encoder, metric=base.head.metric, temperature=base.head.temperature)
        classifier.meta_training = base.meta_training
        if args.method in ("zero-shot", "mixture"):
            described = args.label_text == "descriptions"
            classifier.add_labels(
                {c: task_set.descriptions.get(c) for c in episode.classes} if described else episode.classes
            )
        return classifier

    use_support = args.method != "zero-shot"
    result = evaluate_episodes(make, episodes, base.encoder, use_support=use_support, adapt_steps=args.adapt_steps)
    label_text = f" (label {args.label_text})" if args.method != "prototype" else ""
    adapted = f", {args.adapt_steps} adaptation steps" if args.adapt_steps else ""
    print(
        f"{args.tasks} ({args.split}, {len(task_set.classes)} classes) {episodes[0].way}-way {args.shot}-shot, "
        f"{args.method}{label_text}{adapted}: accuracy {result}"
    )
    return 0


def check_evaluate(args) -> None:
    check_model(args.model, "--model")
    check_backend_option(args)
    check_task_name(args.tasks, args.data)
    if args.way != "all" and not (args.way.isdigit() and int(args.way) >= 2):
        raise UsageError(f"--way {args.way}: give a number of classes (2 or more) or 'all'.")
    check_positive(args, "shot", "query", "episodes")
