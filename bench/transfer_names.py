"""The transfer cells with label names instead of descriptions: what a names-only user gets on a held-out corpus.

    python bench/transfer_names.py --data ../shared/data    # BANKING77 and SGD folds (their runs must be trained)

``bench/transfer.py`` reads each class's label text as its description where the corpus (or the project) has one.
This scores the same episodes with every label text its templated name ("This text is about <humanised name>."),
for the frozen MiniLM and the reported recipe's adapter (as shipped) alike, on the held-out corpora that have
descriptions and a run on disk. The prototypes-only cell reads no label text, so it must equal the transfer table's.
Writes docs/results/transfer_names.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from transfer import EVAL, ROOT, SETTINGS, accuracies, episodes_for, main_for_one_run  # bench/transfer.py

from fewshot_nlp import ClassificationTaskSet, FewShotClassifier, SentenceEncoder
from fewshot_nlp.evaluation import mean_confidence_interval
from fewshot_nlp.tasks import load_task_set

OUT = ROOT / "docs" / "results" / "transfer_names.json"
RUN = "full-hard-cloze-all-seed2-lora-r32"  # the reported recipe's seed left on disk, as shipped
FOLDS = ["banking77", "sgd"]  # the held-out corpora with label descriptions (SNIPS has names only)


def fold(held_out: str, data: str, runs: Path, frozen: SentenceEncoder) -> dict:
    model_dir = runs / f"{RUN}-{held_out}"
    if not (model_dir / EVAL).is_file():
        raise SystemExit(f"{model_dir} has no {EVAL}: run bench/transfer.py --variant {RUN} first.")
    described = load_task_set(f"{held_out}:test", data)
    episodes = episodes_for(described)  # the transfer table's episodes: they depend on texts and classes only
    names = ClassificationTaskSet(*described.texts_and_labels(), name=described.name)  # no descriptions
    before = accuracies(frozen, names, episodes)
    after = accuracies(FewShotClassifier.from_pretrained(model_dir).encoder, names, episodes)
    with_descriptions = {c["setting"]: c for c in json.loads((model_dir / EVAL).read_text())["cells"]}
    cells = []
    for setting, *_ in SETTINGS:
        difference, ci = mean_confidence_interval([a - f for a, f in zip(after[setting], before[setting])])
        cells.append(
            {
                "setting": setting,
                "frozen": round(mean_confidence_interval(before[setting])[0], 4),
                "adapted": round(mean_confidence_interval(after[setting])[0], 4),
                "difference": round(difference, 4),
                "difference_ci95": round(ci, 4),
                "with_descriptions": {k: with_descriptions[setting][k] for k in ("frozen", "adapted", "difference")},
            }
        )
    return {"held_out": held_out, "classes": len(described.classes), "cells": cells}


def table(folds: list[dict]) -> str:
    """Points against the frozen MiniLM, names (descriptions in brackets), one row per fold and cell."""
    lines = [
        "| held out | cell | frozen, names (descriptions) | adapter - frozen, names | with descriptions |",
        "|---|---|---|---|---|",
    ]
    for f in folds:
        for c in f["cells"]:
            d = c["with_descriptions"]
            lines.append(
                f"| {f['held_out']} | {c['setting']} | {c['frozen']:.3f} ({d['frozen']:.3f}) "
                f"| {100 * c['difference']:+.2f} ± {100 * c['difference_ci95']:.2f} | {100 * d['difference']:+.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    main_for_one_run(__doc__, FOLDS, fold, table, OUT, RUN)


if __name__ == "__main__":
    main()
