"""Benchmark of the frozen-encoder classifier: episodic accuracy and predict throughput.

    python bench/classifier.py --data ../shared/data

Accuracy (95% CI) on the CLINC150 and BANKING77 test splits for prototypes, zero-shot (label
names, or the project's label descriptions) and the mixtures: 5-way 1-shot and 5-shot over 600 episodes, all classes at once
with 5 shots over 50 episodes. Throughput of ``FewShotClassifier.predict`` against raw
``SentenceTransformer.encode`` on the same 2,000 texts. Writes docs/results/classifier.json
and the table between the ``classifier`` markers in docs/experiments/2026-11-26-frozen-encoder.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from harness import ROOT, add_data_option, record, write_section  # bench/harness.py

from fewshot_nlp import (
    DEFAULT_ENCODER,
    EpisodeSampler,
    FewShotClassifier,
    SentenceEncoder,
    __version__,
    evaluate_episodes,
)
from fewshot_nlp.tasks import load_task_set

METHODS = {
    # name: (label text: None, "names" or "descriptions"; fit on the support?)
    "prototypes": (None, True),
    "zero-shot (label names)": ("names", False),
    "zero-shot (descriptions)": ("descriptions", False),
    "mixture (names as prior)": ("names", True),
    "mixture (descriptions as prior)": ("descriptions", True),
}


def label_text(task_set, classes, kind):
    if kind is None:
        return None
    return {c: task_set.descriptions[c] for c in classes} if kind == "descriptions" else list(classes)


def accuracy_rows(encoder, data_root, episodes_5way: int, episodes_all: int) -> list[dict]:
    rows = []
    for name, task_set in (
        ("CLINC150", load_task_set("clinc150", data_root, split="test")),
        ("BANKING77", load_task_set("banking77", data_root, split="test")),
    ):
        settings = [(5, 1, episodes_5way), (5, 5, episodes_5way), (None, 5, episodes_all)]
        for way, shot, n in settings:
            episodes = EpisodeSampler(task_set, way=way, shot=shot, query=15, seed=0).sample(n)
            for method, (label_kind, use_support) in METHODS.items():
                if not use_support and shot != 5:
                    continue  # zero-shot ignores the shots: report it once per way
                started = time.perf_counter()
                result = evaluate_episodes(
                    lambda enc, ep, kind=label_kind, ts=task_set: FewShotClassifier(
                        enc, labels=label_text(ts, ep.classes, kind)
                    ),
                    episodes,
                    encoder,
                    use_support=use_support,
                    progress=False,
                )
                rows.append(
                    {
                        "dataset": name,
                        "way": episodes[0].way,
                        "shot": shot if use_support else 0,
                        "method": method,
                        "accuracy": round(result.accuracy, 4),
                        "ci95": round(result.ci95, 4),
                        "episodes": result.episodes,
                        "seconds": round(time.perf_counter() - started, 1),
                    }
                )
                print(rows[-1], flush=True)
    return rows


def throughput(encoder: SentenceEncoder, texts: list[str], repeats: int = 5) -> dict:
    """Median texts/second of predict vs raw encode, alternating runs so both see the same machine state."""
    classifier = FewShotClassifier(encoder, labels=[f"label {i}" for i in range(150)])
    st_model = encoder.model
    raw, ours = [], []
    st_model.encode(texts[:64], batch_size=encoder.batch_size)  # warm-up
    for _ in range(repeats):
        started = time.perf_counter()
        st_model.encode(texts, batch_size=encoder.batch_size, normalize_embeddings=True, convert_to_tensor=True)
        raw.append(len(texts) / (time.perf_counter() - started))
        started = time.perf_counter()
        classifier.predict(texts)
        ours.append(len(texts) / (time.perf_counter() - started))
    return {
        "texts": len(texts),
        "repeats": repeats,
        "batch_size": encoder.batch_size,
        "raw_encode_texts_per_s": round(statistics.median(raw), 1),
        "predict_texts_per_s": round(statistics.median(ours), 1),
        "ratio": round(statistics.median(ours) / statistics.median(raw), 3),
    }


def markdown(rows: list[dict], speed: dict, meta: dict) -> str:
    lines = [
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}  ",
        f"Date: {meta['date']}, fewshot-nlp {meta['version']}, torch {meta['torch']}, encoder: embedded all-MiniLM-L6-v2 (frozen)",
        "",
        "| dataset | way | shot | method | accuracy | 95% CI | episodes |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['dataset']} | {r['way']} | {r['shot']} | {r['method']} | {r['accuracy']:.4f} | ± {r['ci95']:.4f} | {r['episodes']} |"
        for r in rows
    ]
    lines += [
        "",
        f"Throughput on {speed['texts']} CLINC150 texts (batch {speed['batch_size']}, median of {speed['repeats']}): "
        f"raw `SentenceTransformer.encode` {speed['raw_encode_texts_per_s']} texts/s, "
        f"`FewShotClassifier.predict` (150 labels) {speed['predict_texts_per_s']} texts/s, "
        f"ratio **{speed['ratio']}** (target >= 0.95).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_option(parser)
    parser.add_argument("--episodes", type=int, default=600, help="5-way episodes per setting")
    parser.add_argument("--episodes-all", type=int, default=50, help="all-way episodes per setting")
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args()

    encoder = SentenceEncoder(DEFAULT_ENCODER)  # the plain frozen MiniLM: these are its floors
    rows = accuracy_rows(encoder, args.data, args.episodes, args.episodes_all)
    texts = load_task_set("clinc150", args.data, split="test").texts_and_labels()[0][:2000]
    speed = throughput(encoder, texts)
    print(speed)
    flags = (f" --episodes {args.episodes}" if args.episodes != 600 else "") + (
        f" --episodes-all {args.episodes_all}" if args.episodes_all != 50 else ""
    )
    meta = record("python bench/classifier.py --data ../shared/data" + flags)
    meta |= {"version": __version__, "torch": torch.__version__}
    out = Path(args.out)
    (out / "results").mkdir(parents=True, exist_ok=True)
    (out / "results" / "classifier.json").write_text(
        json.dumps({**meta, "accuracy": rows, "throughput": speed}, indent=2)
    )
    write_section(out, "classifier", markdown(rows, speed, meta))


if __name__ == "__main__":
    main()
