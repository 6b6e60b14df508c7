"""``fewshot-nlp quickstart``: the package's main job on the embedded default, end to end in a minute."""

from __future__ import annotations

from pathlib import Path

from .inputs import UsageError, check_positive, packaged, print_table


def quickstart(args) -> int:
    """Fit on the packaged example set (+ two described labels), predict, and evaluate if data is there."""
    from .. import FewShotClassifier
    from ..encoders import DEFAULT_MODEL
    from ..tasks import ClassificationTaskSet, read_label_descriptions

    examples = ClassificationTaskSet.from_csv(packaged("quickstart_examples.csv"))
    descriptions = read_label_descriptions(packaged("quickstart_labels.yaml"))
    texts = [t for t in packaged("quickstart_texts.txt").read_text().splitlines() if t.strip()]

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
    print_table(rows, ["text", "prediction", "prob", "runner-up"])
    _quickstart_evaluation(args, classifier.encoder)
    return 0


def _quickstart_evaluation(args, encoder) -> None:
    from .. import FewShotClassifier, evaluate_episodes
    from ..encoders import DEFAULT_MODEL
    from ..tasks import EpisodeSampler, data_root, read_clinc150

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
            "the intents are not; docs/results.md, 'What meta-training buys', scores corpora it never saw)"
        )
    result = evaluate_episodes(lambda enc, ep: FewShotClassifier(enc), episodes, encoder, progress=False)
    print(f"  prototype accuracy: {result}")


def check_quickstart(args) -> None:
    if args.data is not None and not Path(args.data).is_dir():
        raise UsageError(f"--data {args.data}: no such folder; point it at the folder that holds intents/.")
    check_positive(args, "episodes")
