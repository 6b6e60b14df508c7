"""``fewshot-nlp predict``: classify a file of texts with a saved classifier, or one built from examples and/or
label descriptions (optionally self-trained on the texts first)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .inputs import (
    OUTPUT_FORMATS,
    TEXT_FORMATS,
    UsageError,
    check_backend_option,
    check_model,
    input_file,
    read_examples,
    read_labels,
    read_texts,
)


def check_predict(args) -> None:
    if not (args.model or args.examples or args.labels):
        raise UsageError("give --model FOLDER, or --examples CSV and/or --labels YAML to build a classifier.")
    if args.model and args.encoder:
        raise UsageError("--encoder builds a new classifier; a --model already has its encoder. Give one of them.")
    if Path(args.output).suffix not in OUTPUT_FORMATS:
        raise UsageError(f"--output {args.output}: unknown format; use a .csv or .jsonl name.")
    if args.self_train and (args.model or not args.labels):
        raise UsageError("--self-train builds a new classifier from --labels YAML (not a --model); give --labels.")
    check_model(args.model, "--model")
    check_model(args.encoder, "--encoder")
    check_backend_option(args)
    args.texts = read_texts(input_file(args.input, "input", TEXT_FORMATS), args.text_column)
    examples = input_file(args.examples, "--examples", (".csv",)) if args.examples else None
    args.example_rows = read_examples(examples, args.text_column, args.label_column) if examples else None
    args.descriptions = read_labels(input_file(args.labels, "--labels", (".yaml", ".yml"))) if args.labels else None


PREDICTION_COLUMNS = [
    *("text", "label", "nearest_label", "nearest_probability", "score", "oos_threshold", "out_of_scope"),
    "prior_weight",
]


def _prediction_row(prediction) -> dict:
    """One output row; a multi-label decision is written as its labels joined by '|'."""
    row = prediction.to_dict()
    if isinstance(row["label"], list):
        row["label"] = "|".join(map(str, row["label"]))
    row["nearest_probability"] = round(row["nearest_probability"], 6)
    row["score"] = round(row["score"], 6)
    return row


def predict(args) -> int:
    """Classify a file of texts with a saved model, or one built from examples and/or descriptions."""
    from .. import FewShotClassifier

    backend = "torch" if args.self_train else args.backend  # training needs torch; the result runs on --backend
    classifier = FewShotClassifier.from_pretrained(
        args.model or args.encoder, labels=args.descriptions, backend=backend
    )
    if args.self_train:  # the examples, if any, guide the labelling and join the training
        classifier = classifier.self_train(args.texts, examples=args.example_rows).set_backend(args.backend)
    elif args.example_rows:
        # A saved model keeps what it knows; a new one is fitted on the examples.
        learn = classifier.add_examples if args.model else classifier.fit
        learn(*args.example_rows)
    if args.oos_threshold is not None:
        classifier.oos_threshold = args.oos_threshold
    rows = [_prediction_row(p) for p in classifier.explain(args.texts)]
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="", encoding="utf-8") as handle:
        if output.suffix == ".jsonl":
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        else:
            writer = csv.DictWriter(handle, PREDICTION_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    if args.save:
        classifier.save_pretrained(args.save)
    rejected = sum(row["out_of_scope"] for row in rows)
    print(
        f"wrote {len(rows)} predictions to {output}"
        + (f" ({rejected} out of scope)" if classifier.oos_threshold is not None else "")
        + (f"; saved the classifier to {args.save}" if args.save else "")
    )
    return 0
