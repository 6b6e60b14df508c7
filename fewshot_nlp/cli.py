"""The ``fewshot-nlp`` command (also ``python -m fewshot_nlp``)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from importlib import resources
from pathlib import Path

PACKAGE_DATA = "fewshot_nlp.data"


def _packaged(name: str) -> Path:
    return Path(str(resources.files(PACKAGE_DATA) / name))


def _print_table(rows: list[list], header: list[str]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


# --------------------------------------------------------------------- quickstart
def quickstart(args) -> int:
    """Fit on the packaged example set (+ two described labels), predict, and evaluate if data is there."""
    from . import FewShotClassifier
    from .encoders import DEFAULT_MODEL
    from .tasks import ClassificationTaskSet, read_label_descriptions

    examples = ClassificationTaskSet.from_csv(_packaged("quickstart_examples.csv"))
    descriptions = read_label_descriptions(_packaged("quickstart_labels.yaml"))
    texts = [t for t in _packaged("quickstart_texts.txt").read_text().splitlines() if t.strip()]

    classifier = FewShotClassifier.from_pretrained(labels=descriptions)
    classifier.fit(*examples.texts_and_labels())
    adapted = classifier.encoder.name_or_path == DEFAULT_MODEL
    print(
        f"Classifier on the embedded all-MiniLM-L6-v2{' with its meta-trained adapter' if adapted else ''}: "
        f"{len(examples)} examples of "
        f"{len(examples.classes)} labels, plus {len(descriptions)} labels known only by description "
        f"({', '.join(descriptions)}).\n"
    )
    probabilities = classifier.predict_proba(texts)
    predictions = classifier.predict(texts)
    rows = []
    for text, label, row in zip(texts, predictions, probabilities):
        top2 = row.topk(2)
        runner_up = classifier.classes_[top2.indices[1]]
        rows.append([text, label, f"{top2.values[0]:.2f}", f"{runner_up} ({top2.values[1]:.2f})"])
    _print_table(rows, ["text", "prediction", "prob", "runner-up"])
    _quickstart_evaluation(args, classifier.encoder)
    return 0


def _quickstart_evaluation(args, encoder) -> None:
    from . import FewShotClassifier, evaluate_episodes
    from .encoders import DEFAULT_MODEL
    from .tasks import EpisodeSampler, data_root, read_clinc150

    # --data, then $FEWSHOT_NLP_DATA, then ../shared/data (where the project's own data lives beside a checkout)
    if args.data is not None:
        root = data_root(args.data)  # a wrong --data is an error, not a silent skip
    else:
        root = data_root(None, required=False) or data_root(Path("..", "shared", "data"), required=False)
    if root is None or not (root / "intents" / "clinc150").is_dir():
        print(
            "\nNo CLINC150 data found (looked at --data, $FEWSHOT_NLP_DATA and ../shared/data); "
            "skipping the episodic evaluation."
        )
        return
    task_set = read_clinc150(root, split="test")
    sampler = EpisodeSampler(task_set, way=5, shot=5, query=15, seed=0)
    episodes = sampler.sample(args.episodes)
    print(f"\nEpisodic evaluation on CLINC150 (test split), 5-way 5-shot, {len(episodes)} episodes:")
    if encoder.name_or_path == DEFAULT_MODEL:
        print(
            "  (the default adapter was meta-trained on CLINC150's train split: the test texts are new, "
            "the intents are not; docs/benchmarks.md, section 'transfer', scores corpora it never saw)"
        )
    result = evaluate_episodes(lambda enc, ep: FewShotClassifier(enc), episodes, encoder, progress=False)
    print(f"  prototype accuracy: {result}")


# ------------------------------------------------------------------------ predict
def _read_texts(path: Path, column: str) -> list[str]:
    if not path.is_file():
        raise SystemExit(f"error: no such input file: {path}")
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if column not in (reader.fieldnames or []):
                raise SystemExit(
                    f"error: {path} has no column {column!r}; columns are {reader.fieldnames}. Use --text-column."
                )
            return [row[column] for row in reader]
    if path.suffix == ".jsonl":
        return [json.loads(line)[column] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def predict(args) -> int:
    """Classify a file of texts with a saved model, or one built from examples and/or descriptions."""
    from . import FewShotClassifier
    from .tasks import ClassificationTaskSet, read_label_descriptions

    if not (args.model or args.examples or args.labels):
        raise SystemExit("error: give --model, or --examples CSV and/or --labels YAML to build a classifier.")
    descriptions = read_label_descriptions(args.labels) if args.labels else None
    classifier = FewShotClassifier.from_pretrained(args.model or args.encoder, labels=descriptions)
    if args.examples:
        examples = ClassificationTaskSet.from_csv(args.examples, args.text_column, args.label_column)
        # A saved model keeps what it knows; a new one is fitted on the examples.
        learn = classifier.add_examples if args.model else classifier.fit
        learn(*examples.texts_and_labels())
    if args.oos_threshold is not None:
        classifier.oos_threshold = args.oos_threshold
    texts = _read_texts(Path(args.input), args.text_column)
    probabilities = classifier.predict_proba(texts)
    labels = classifier.predict(texts)
    confidence = probabilities.max(dim=1).values.tolist()
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".jsonl":
        with output.open("w", encoding="utf-8") as handle:
            for text, label, p in zip(texts, labels, confidence):
                handle.write(json.dumps({"text": text, "label": label, "probability": round(p, 6)}) + "\n")
    else:
        with output.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label", "probability"])
            for text, label, p in zip(texts, labels, confidence):
                writer.writerow([text, "|".join(map(str, label)) if isinstance(label, list) else label, f"{p:.6f}"])
    if args.save:
        classifier.save_pretrained(args.save)
    print(
        f"wrote {len(texts)} predictions to {output}" + (f"; saved the classifier to {args.save}" if args.save else "")
    )
    return 0


# ----------------------------------------------------------------------- evaluate
def evaluate(args) -> int:
    """Episodic accuracy of a classifier (saved, or new on an encoder) on a task set's classes.

    A meta-trained model is evaluated on its meta-test classes of that task set (the class
    split saved with it), never on the classes it was trained on; ``--classes all`` overrides.
    """
    from . import FewShotClassifier, evaluate_episodes
    from .tasks import TASK_READERS, EpisodeSampler, load_task_set, parse_task_name

    base = FewShotClassifier.from_pretrained(args.model)
    options = {"split": args.split} if args.tasks in TASK_READERS else {}
    task_set = load_task_set(args.tasks, root=args.data, **options)
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


# ---------------------------------------------------------------------- meta-train
def load_config(cls, config: str | None, overrides: list[str], required: tuple[str, ...] = ()):
    """A config dataclass from a YAML file and ``key=value`` overrides (values parsed as YAML)."""
    import dataclasses

    import yaml

    values = {}
    if config:
        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"no such config file: {path}")
        values = yaml.safe_load(path.read_text()) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path} must hold a mapping of {cls.__name__} fields.")
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep:
            raise ValueError(f"override {override!r} must look like key=value, e.g. steps=100.")
        values[key.strip()] = yaml.safe_load(value)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown settings {unknown}; known settings are {sorted(known)}.")
    for name in required:
        if name not in values:
            raise ValueError(f"{name} is not set; add it to the config or pass {name}=...")
    return cls(**values)


def load_training_arguments(config: str | None, overrides: list[str]):
    """Meta-training arguments from a YAML file and ``key=value`` overrides.

    ``problem: translation`` in either selects :class:`TranslationMetaTrainingArguments`;
    otherwise classification's :class:`MetaTrainingArguments`.
    """
    import yaml

    from .meta import MetaTrainingArguments, TranslationMetaTrainingArguments

    problem = (
        (yaml.safe_load(Path(config).read_text()) or {}).get("problem") if config and Path(config).is_file() else None
    )
    for override in overrides:
        key, _, value = override.partition("=")
        problem = yaml.safe_load(value) if key.strip() == "problem" else problem
    cls = TranslationMetaTrainingArguments if problem == "translation" else MetaTrainingArguments
    return load_config(cls, config, overrides, required=("output_dir",))


def meta_train(args) -> int:
    """Meta-train a LoRA adapter over many episodes (see recipes/configs)."""
    from .meta import MetaTrainer, TranslationMetaTrainer

    training_args = load_training_arguments(args.config, args.overrides)
    trainer = TranslationMetaTrainer if training_args.problem == "translation" else MetaTrainer
    output = trainer(training_args).train(resume=args.resume)
    print(f"meta-trained model written to {output}")
    return 0


# -------------------------------------------------------------------------- tasks
def tasks_info(args) -> int:
    """Sizes of a task set: classes and texts (and class groups), or Bible languages and verse pairs."""
    from .tasks import load_task_set, read_bible

    task_set = read_bible(args.data) if args.name == "bible" else load_task_set(args.name, root=args.data)
    for key, value in task_set.info().items():
        print(f"{key:>18}: {value}")
    if hasattr(task_set, "split_classes") and len(task_set.classes) >= 3:
        split = task_set.split_classes(seed=0)
        sizes = ", ".join(f"{part} {len(classes)}" for part, classes in split.items())
        print(f"{'class split':>18}: {sizes} classes (class-disjoint 60/20/20, seed 0)")
    for group, classes in getattr(task_set, "groups", {}).items():
        print(f"{'group ' + group:>18}: {len(classes)} classes")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fewshot-nlp", description="Few-shot text classification.")
    commands = parser.add_subparsers(dest="command", required=True)

    quick = commands.add_parser("quickstart", help="classify example texts with the embedded default encoder")
    quick.add_argument("--data", help="folder holding intents/clinc150 (default: $FEWSHOT_NLP_DATA)")
    quick.add_argument("--episodes", type=int, default=100, help="CLINC150 episodes to evaluate (default 100)")
    quick.set_defaults(run=quickstart)

    pred = commands.add_parser("predict", help="classify a file of texts")
    pred.add_argument("input", help="texts: .txt (one per line), .csv or .jsonl (see --text-column)")
    pred.add_argument("--model", help="saved classifier folder or Hub id")
    pred.add_argument("--encoder", help="encoder for a new classifier (default: embedded all-MiniLM-L6-v2)")
    pred.add_argument("--examples", help="CSV of labelled examples (columns --text-column, --label-column)")
    pred.add_argument("--labels", help="YAML mapping label -> description (zero-shot labels)")
    pred.add_argument("--text-column", default="text")
    pred.add_argument("--label-column", default="label")
    pred.add_argument("--oos-threshold", type=float, help="best score under which the label is 'oos'")
    pred.add_argument("--output", "-o", default="predictions.csv", help="output .csv or .jsonl")
    pred.add_argument("--save", help="also save the classifier to this folder")
    pred.set_defaults(run=predict)

    ev = commands.add_parser("evaluate", help="episodic accuracy with a 95%% confidence interval")
    ev.add_argument("--model", help="saved classifier or encoder (default: embedded all-MiniLM-L6-v2)")
    ev.add_argument("--tasks", required=True, help="task set name (clinc150, banking77) or a text,label CSV")
    ev.add_argument("--data", help="data folder (default: $FEWSHOT_NLP_DATA)")
    ev.add_argument("--split", default="test")
    ev.add_argument("--method", choices=["prototype", "zero-shot", "mixture"], default="prototype")
    ev.add_argument(
        "--label-text",
        choices=["names", "descriptions"],
        default="names",
        help="what zero-shot / mixture embed per label: its name, or the project's description",
    )
    ev.add_argument("--way", default="5", help="classes per episode, or 'all'")
    ev.add_argument(
        "--classes",
        choices=["test", "val", "train", "all"],
        default="test",
        help="which classes of a meta-trained model's class split to draw episodes from (default: test)",
    )
    ev.add_argument("--adapt-steps", type=int, default=0, help="test-time adaptation steps (fomaml models)")
    ev.add_argument("--shot", type=int, default=5)
    ev.add_argument("--query", type=int, default=15)
    ev.add_argument("--episodes", type=int, default=600)
    ev.add_argument("--seed", type=int, default=0)
    ev.set_defaults(run=evaluate)

    meta = commands.add_parser("meta-train", help="meta-train a LoRA adapter (classification or translation)")
    meta.add_argument("--config", help="YAML file of meta-training arguments (see recipes/configs/)")
    meta.add_argument("overrides", nargs="*", help="key=value settings that override the config")
    meta.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in output_dir")
    meta.set_defaults(run=meta_train)

    tasks = commands.add_parser("tasks", help="inspect task sets")
    tasks_commands = tasks.add_subparsers(dest="tasks_command", required=True)
    info = tasks_commands.add_parser("info", help="classes, sizes and groups of a task set")
    info.add_argument("name", help="clinc150, banking77, bbc_news, chatterbot, bible, or a .csv/.json/.jsonl file")
    info.add_argument("--data", help="data folder (default: $FEWSHOT_NLP_DATA)")
    info.set_defaults(run=tasks_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
