"""Put a meta-trained adapter into the package as its default, with its training record and card.

    python recipes/ship_default_adapter.py runs/default-adapter --data ../shared/data

Reads the model folder written by
``fewshot-nlp meta-train --config recipes/configs/default_adapter.yaml data=../shared/data``
and writes ``fewshot_nlp/default_adapter/``: the LoRA weights (safetensors, float16, at most
3 MB; a full fine-tune ships as the rank-``--rank`` fit of its weight change),
``adapter_config.json`` (what ``SentenceEncoder(None)`` needs to rebuild the encoder),
``training_record.json`` (corpora and the sha256 of every file read, recipe, steps,
validation scores, wall time, machine) and ``README.md`` (the model card).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path

from safetensors.torch import save_file

from fewshot_nlp import DEFAULT_ENCODER, FewShotClassifier, SentenceEncoder, __version__
from fewshot_nlp.encoders import ADAPTER_CONFIG, ADAPTER_WEIGHTS, DEFAULT_ADAPTER_DIR, DEFAULT_MODEL
from fewshot_nlp.tasks import CSV_CORPORA, parse_task_name

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 3 * 1024 * 1024
FOLDERS = {"clinc150": "intents/clinc150", "banking77": "intents/banking77"} | {
    name: folder for name, (folder, _) in CSV_CORPORA.items()
}

CARD = """# Default adapter of fewshot-nlp

A rank-{r} LoRA adapter on every linear layer of all-MiniLM-L6-v2 ({origin}), meta-trained by
fewshot-nlp {version} so that a sentence lands near its label's text (description, else "This
text is about <name>.") and near other sentences of its class. `FewShotClassifier.from_pretrained()` merges it
into the embedded MiniLM (no extra cost at prediction time);
`FewShotClassifier.from_pretrained("{plain}")` gives the plain, frozen MiniLM.

- Trained on {classes} of {corpora}.
- {steps} steps (weights of step {best_step} kept, best validation accuracy {best_val:.4f}),
  {minutes:.0f} minutes on {machine}; every argument is in `training_record.json`.
- Rebuild: `{command}`, then `python recipes/ship_default_adapter.py runs/default-adapter --data DATA`.
- What it is worth on corpora it never saw: docs/results.md, 'What meta-training buys'
  (leave-one-corpus-out). On CLINC150, BANKING77, SGD, SNIPS, GoEmotions, FewRel and AG News
  it has seen the classes: scores there are not transfer.
- Files: `{weights}` (safetensors), `{config}`, `training_record.json` (corpora and the sha256 of
  every file read, arguments, validation history, time, machine).
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def corpus_fingerprints(tasks: list[str], data: Path) -> dict:
    """sha256 of every file in each training corpus' folder: what "trained on" means exactly."""
    prints = {}
    for task in tasks:
        if Path(task).is_file():  # a CSV of the user's own
            prints[task] = {Path(task).name: sha256(Path(task))}
            continue
        name, _ = parse_task_name(task)
        folder = data / FOLDERS[name]
        prints[task] = {p.name: sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}
    return prints


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="model folder written by meta-train with recipes/configs/default_adapter.yaml")
    parser.add_argument("--data", default=os.environ.get("FEWSHOT_NLP_DATA", "../shared/data"))
    parser.add_argument(
        "--rank", type=int, default=32, help="rank of the adapter extracted from a full fine-tune (32: under 3 MiB)"
    )
    args = parser.parse_args(argv)
    run = Path(args.run)
    model = FewShotClassifier.from_pretrained(run)
    meta = model.meta_training or {}
    arguments = meta.get("arguments") or {}
    if model.encoder.name_or_path != DEFAULT_ENCODER:
        raise SystemExit(f"{run} was not trained from {DEFAULT_ENCODER}; it cannot be the default.")
    extracted = model.encoder.lora_settings is None
    if extracted:  # a full fine-tune: ship the rank-r fit of its weight change (SentenceEncoder.add_lora_from)
        adapter = SentenceEncoder(DEFAULT_ENCODER)
        adapter.add_lora_from(
            model.encoder, {"r": args.rank, "lora_alpha": 2 * args.rank, "target_modules": "all-linear"}
        )
        model.encoder = adapter
    DEFAULT_ADAPTER_DIR.mkdir(exist_ok=True)
    weights = DEFAULT_ADAPTER_DIR / ADAPTER_WEIGHTS
    # float16 halves the file: the adapter's update is a small change to float32 weights, and is
    # merged in float32 (tests/test_recipes.py checks the merged embeddings against the float32 fit)
    save_file({name: t.half() for name, t in model.encoder.lora_state_dict().items()}, weights)
    size = weights.stat().st_size
    if size > MAX_BYTES:
        weights.unlink()
        raise SystemExit(f"the adapter is {size / 2**20:.1f} MiB, over the 3 MiB the package allows: lower --rank.")
    history = json.loads((run / "training_history.json").read_text())
    record = {
        "base_model": DEFAULT_ENCODER,
        "corpora": arguments.get("tasks"),
        "corpus_sha256": corpus_fingerprints(arguments.get("tasks", []), Path(args.data)),
        "arguments": arguments,
        "steps_run": meta.get("steps_run"),
        "best_step": meta.get("best_step"),
        "best_val_accuracy": meta.get("best_val_accuracy"),
        "validation": [r for r in history if "val_accuracy" in r],
        "training_seconds": meta.get("training_seconds"),
        "wall_seconds": meta.get("wall_seconds"),
        "training_texts_per_second": meta.get("training_texts_per_second"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "date": datetime.date.today().isoformat(),
        "fewshot_nlp": __version__,
        "commit": git_commit(),
        "adapter_sha256": sha256(weights),
        "adapter": "the truncated SVD of each linear layer's weight change in a full fine-tune"
        if extracted
        else "the LoRA adapter as trained",
    }
    config = {
        "name": DEFAULT_MODEL,
        "base_model": DEFAULT_ENCODER,
        "lora": vars(model.encoder.lora_settings),
        "trained_with": {"metric": model.head.metric, "prior_weight": model.head.prior_weight},
    }
    (DEFAULT_ADAPTER_DIR / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    (DEFAULT_ADAPTER_DIR / "training_record.json").write_text(json.dumps(record, indent=2) + "\n")
    (DEFAULT_ADAPTER_DIR / "README.md").write_text(
        CARD.format(
            r=model.encoder.lora_settings.r,
            origin=record["adapter"],
            version=__version__,
            plain=DEFAULT_ENCODER,
            corpora=", ".join(record["corpora"]),
            classes="all classes"
            if arguments.get("class_fractions", [1])[0] == 1
            else f"the meta-train classes ({arguments['class_fractions'][0]:.0%}) of each",
            steps=record["steps_run"],
            best_step=record["best_step"],
            best_val=record["best_val_accuracy"],
            minutes=(record["wall_seconds"] or record["training_seconds"] or 0) / 60,
            machine=record["machine"],
            command="fewshot-nlp meta-train --config recipes/configs/default_adapter.yaml data=DATA",
            weights=ADAPTER_WEIGHTS,
            config=ADAPTER_CONFIG,
        )
    )
    print(f"default adapter written to {DEFAULT_ADAPTER_DIR} ({weights.stat().st_size / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
