"""What a full fine-tune keeps when it ships as a LoRA adapter: accuracy against the rank of the fit.

    python bench/adapter_rank.py --data ../shared/data --held-out banking77 snips

Reads the full fine-tunes of ``bench/transfer.py`` (``runs/transfer/full-<X>/``, trained without
corpus X) and scores on X, paired against the frozen MiniLM on the transfer benchmark's episodes:
every linear layer's weight change applied whole (biases, norms and embeddings left as frozen),
then its rank-r truncated SVD (``SentenceEncoder.add_lora_from``, merged) for each rank. Writes
docs/results/adapter_rank.json and the ``adapter_rank`` section of the transfer log.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
from pathlib import Path

import torch
from classifier import write_section  # bench/classifier.py
from transfer import HELD_OUT, ROOT, SETTINGS, accuracies, episodes_for  # bench/transfer.py

from fewshot_nlp import DEFAULT_ENCODER, FewShotClassifier, SentenceEncoder
from fewshot_nlp.evaluation import mean_confidence_interval
from fewshot_nlp.lora import all_linear_modules, merge_lora
from fewshot_nlp.tasks import load_task_set


def fitted_encoder(tuned: SentenceEncoder, rank: int | None) -> SentenceEncoder:
    """The frozen MiniLM plus the tuned linear weights' change: whole (``None``) or its rank-r fit."""
    encoder = SentenceEncoder(DEFAULT_ENCODER)
    if rank is None:
        weights = tuned.transformer.state_dict()
        with torch.no_grad():
            for name in all_linear_modules(encoder.transformer):
                encoder.transformer.get_submodule(name).weight.copy_(weights[f"{name}.weight"])
        return encoder
    encoder.add_lora_from(tuned, {"r": rank, "lora_alpha": 2 * rank, "target_modules": "all-linear"})
    merge_lora(encoder.transformer)
    return encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("FEWSHOT_NLP_DATA", "../shared/data"))
    parser.add_argument("--held-out", nargs="+", choices=HELD_OUT, default=["banking77", "snips"])
    parser.add_argument("--ranks", nargs="+", type=int, default=[8, 16, 32, 64, 128])
    parser.add_argument("--runs", default=str(ROOT / "runs" / "transfer"), help="folder of bench/transfer.py's runs")
    args = parser.parse_args()
    runs = Path(args.runs)
    results = {}
    for held_out in args.held_out:
        run, frozen_file = runs / f"full-{held_out}", runs / f"frozen-{held_out}.json"
        if not (run / "config.json").is_file() or not frozen_file.is_file():
            raise SystemExit(f"{run} or {frozen_file} is missing: run bench/transfer.py --variant full first.")
        tuned = FewShotClassifier.from_pretrained(run).encoder
        task_set = load_task_set(f"{held_out}:test", args.data)
        episodes, frozen = episodes_for(task_set), json.loads(frozen_file.read_text())
        rows = {}
        for rank in [None, *args.ranks]:
            scores = accuracies(fitted_encoder(tuned, rank), task_set, episodes)
            rows["whole" if rank is None else f"rank {rank}"] = {
                name: mean_confidence_interval([a - f for a, f in zip(scores[name], frozen[name])])
                for name, *_ in SETTINGS
            }
            print(held_out, rank, json.dumps(rows[list(rows)[-1]]), flush=True)
        results[held_out] = rows
    out = {
        "command": "python bench/adapter_rank.py --data ../shared/data --held-out " + " ".join(args.held_out),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "date": datetime.date.today().isoformat(),
        "results": results,
    }
    (ROOT / "docs" / "results" / "adapter_rank.json").write_text(json.dumps(out, indent=2))
    lines = [f"Command: `{out['command']}`  ", f"Machine: {out['machine']}  ", f"Date: {out['date']}", ""]
    for held_out, rows in results.items():
        lines += [
            f"**full fine-tune without {held_out}, scored on {held_out}**: difference from frozen, points ± 95% CI",
            "",
            "| linear layers' change | " + " | ".join(name for name, *_ in SETTINGS) + " |",
            "|---|" + "---|" * len(SETTINGS),
        ]
        for row, cells in rows.items():
            lines.append(
                f"| {row} | " + " | ".join(f"{100 * d:+.2f} ± {100 * ci:.2f}" for d, ci in cells.values()) + " |"
            )
        lines.append("")
    write_section(ROOT / "docs", "adapter_rank", "\n".join(lines))


if __name__ == "__main__":
    main()
