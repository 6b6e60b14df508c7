"""The default classifier on PyTorch, ONNX Runtime (float32) and ONNX Runtime int8, side by side.

    python bench/backends.py --data ../shared/data          # the full run: docs/results/backends.json
    python bench/backends.py --data ../shared/data --quick  # a smoke run (runs/backends/quick.json)

Throughput: ``predict`` of the default classifier (150 labels) on the first 2,000 CLINC150 test texts, batch 64,
``--repeats`` (5) interleaved runs per backend (other load hits all three alike), the median; every backend on
``--threads`` (default: every core; torch's and ONNX Runtime's intra-op pools alike). Accuracy: the comparison's frozen
episodes (``bench/compare.py``, ``runs/compare/episodes``) with its ``default`` method, per backend, and the largest
difference of any query's probability from PyTorch's. Start-up: in a fresh process, ``from_pretrained`` of a saved
classifier that carries its export (import time apart) and its first ``predict``, the median of ``--startup-runs``
(3). Exports go to a scratch folder (``runs/backends``), so the timings include none; the first loads (export
included) are reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import torch
from compare import DATASET_NAMES, SETTINGS, episodes_digest, frozen_episodes, held_out_task_sets  # bench/compare.py
from harness import RESULTS, ROOT, add_data_option, command, interval, today  # bench/harness.py

from fewshot_nlp import FewShotClassifier, __version__
from fewshot_nlp.backends import BACKENDS, INSTALL, QUANTISATION, onnx_available
from fewshot_nlp.evaluation import PrecomputedEncoder
from fewshot_nlp.tasks import load_task_set

TARGETS = {"onnx_speedup": 1.5, "int8_speedup": 2.5, "probability_difference": 1e-4, "int8_points": 0.5, "load_s": 2.0}
STARTUP = """
import json, sys, time
started = time.perf_counter()
from fewshot_nlp import FewShotClassifier
imported = time.perf_counter()
classifier = FewShotClassifier.from_pretrained(sys.argv[1], backend=sys.argv[2])
loaded = time.perf_counter()
classifier.predict(["where is my new card?"])
done = time.perf_counter()
print(json.dumps({"import_s": imported - started, "load_s": loaded - imported, "first_predict_s": done - loaded}))
"""


def cpu_flags() -> list[str]:
    """The CPU's vector extensions that decide int8 speed (VNNI does int8 dot products in one instruction)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return []
    return sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"})


def load(backend: str, scratch: Path) -> tuple[FewShotClassifier, float]:
    """The default classifier on ``backend``, and the seconds its export (if any) took."""
    os.environ["FEWSHOT_NLP_CACHE"] = str(scratch / "cache")  # a fresh cache: the export is timed once
    started = time.perf_counter()
    classifier = FewShotClassifier.from_pretrained(backend=backend)
    return classifier, round(time.perf_counter() - started, 2)


def throughput(labelled: dict, texts: list[str], repeats: int) -> dict:
    """Median texts/s of ``predict`` per backend (classifiers of 150 labels), the backends' runs interleaved."""
    runs = {b: [] for b in labelled}
    for classifier in labelled.values():
        classifier.predict(texts[:64])  # warm-up
    for _ in range(repeats):
        for backend, classifier in labelled.items():
            started = time.perf_counter()
            classifier.predict(texts)
            runs[backend].append(len(texts) / (time.perf_counter() - started))
    median = {b: statistics.median(r) for b, r in runs.items()}
    return {
        "texts": len(texts),
        "repeats": repeats,
        "batch_size": next(iter(labelled.values())).encoder.batch_size,
        "texts_per_s": {b: round(m, 1) for b, m in median.items()},
        "speedup": {b: round(m / median["torch"], 2) for b, m in median.items()},
        "runs": {b: [round(r, 1) for r in rs] for b, rs in runs.items()},
    }


def accuracy(classifiers: dict, data: str, episodes_5way: int, episodes_all: int, work: Path) -> tuple[list, dict]:
    """Per cell and backend: accuracy on the comparison's episodes; and the largest probability difference."""
    rows, largest = [], {b: 0.0 for b in classifiers if b != "torch"}
    for dataset, task_set in held_out_task_sets(data).items():
        texts = list(dict.fromkeys(task_set.texts_and_labels()[0]))
        cached = {b: PrecomputedEncoder(c.encoder, texts, show_progress_bar=False) for b, c in classifiers.items()}
        for setting in SETTINGS:
            n = episodes_all if setting.startswith("all") else episodes_5way
            episodes, _ = frozen_episodes(task_set, dataset, setting, n, work)
            row = {"dataset": DATASET_NAMES[dataset], "setting": setting, "way": episodes[0].way}
            row |= {
                "shot": SETTINGS[setting][1],
                "episodes": len(episodes),
                "episodes_sha256": episodes_digest(episodes),
            }
            scores = {b: [] for b in classifiers}
            for episode in episodes:
                probabilities = {}
                for backend, encoder in cached.items():  # the comparison's "default": descriptions and examples
                    classifier = FewShotClassifier(encoder)
                    classifier.add_labels({c: task_set.descriptions[c] for c in episode.classes})
                    classifier.fit(episode.support_texts, episode.support_labels)
                    probabilities[backend] = classifier.predict_proba(episode.query_texts)
                    predicted = [classifier.classes_[i] for i in probabilities[backend].argmax(1).tolist()]
                    scores[backend].append(
                        sum(p == y for p, y in zip(predicted, episode.query_labels)) / len(predicted)
                    )
                for backend in largest:
                    difference = (probabilities[backend] - probabilities["torch"]).abs().max().item()
                    largest[backend] = max(largest[backend], difference)
            for backend, values in scores.items():
                row[backend] = dict(zip(("accuracy", "ci95"), interval(values)))
            for backend in largest:
                row[f"{backend}_points"] = round(100 * (row[backend]["accuracy"] - row["torch"]["accuracy"]), 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows, {b: float(f"{d:.3g}") for b, d in largest.items()}


def startup(classifier: FewShotClassifier, backend: str, scratch: Path, runs: int) -> dict:
    """Median seconds of import, ``from_pretrained`` and first ``predict`` in fresh processes, of a saved folder."""
    folder = scratch / f"saved-{backend}"
    classifier.save_pretrained(folder)  # carries the export (onnx/)
    measured = []
    for _ in range(runs):
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "FEWSHOT_NLP_CACHE": str(scratch / "empty-cache")}
        result = subprocess.run(
            [sys.executable, "-c", STARTUP, str(folder), backend], capture_output=True, text=True, env=env, check=True
        )
        measured.append(json.loads(result.stdout.strip().splitlines()[-1]))
    if (scratch / "empty-cache").exists():
        raise SystemExit(f"the {backend} start-up exported again instead of using {folder}/onnx: a bug.")
    return {key: round(statistics.median(m[key] for m in measured), 2) for key in measured[0]} | {"runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_option(parser)
    parser.add_argument("--texts", type=int, default=2000, help="CLINC150 test texts to predict")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=600, help="5-way episodes per cell (the comparison's 600)")
    parser.add_argument("--episodes-all", type=int, default=600, help="all-way episodes per cell")
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch and ONNX Runtime intra-op threads")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "compare" / "episodes", help="frozen episodes")
    parser.add_argument("--quick", action="store_true", help="smoke run: 200 texts, 1 repeat, 20/3 episodes, 1 start")
    args = parser.parse_args()
    if not (Path(args.data) / "intents" / "clinc150").is_dir():
        print(f"no CLINC150 data at {args.data} (give --data or $FEWSHOT_NLP_DATA); nothing to measure.")
        return
    if not onnx_available():
        raise SystemExit(f"the ONNX backends need the onnx extra: {INSTALL}")
    if args.quick:
        args.texts, args.repeats, args.episodes, args.episodes_all, args.startup_runs = 200, 1, 20, 3, 1
    torch.set_num_threads(args.threads)  # ONNX Runtime sessions take torch's thread count when they start
    scratch = ROOT / "runs" / "backends"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        scratch = Path(folder)
        loaded = {b: load(b, scratch) for b in BACKENDS}
        classifiers = {b: c for b, (c, _) in loaded.items()}
        texts = load_task_set("clinc150:test", args.data).texts_and_labels()[0][: args.texts]
        labels = [f"label {i}" for i in range(150)]
        labelled = {b: FewShotClassifier(c.encoder, labels=labels) for b, c in classifiers.items()}
        speed = throughput(labelled, texts, args.repeats)
        print(json.dumps(speed), flush=True)
        rows, differences = accuracy(classifiers, args.data, args.episodes, args.episodes_all, args.work)
        starts = {b: startup(labelled[b], b, scratch, args.startup_runs) for b in BACKENDS}
        print(json.dumps(starts), flush=True)
    report = {
        "command": command(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores ({', '.join(cpu_flags()) or 'no AVX2'})",
        "date": today(),
        "version": __version__,
        "versions": {p: version(p) for p in ("torch", "onnxruntime", "onnx", "transformers", "sentence-transformers")},
        "threads": args.threads,
        "quantisation": QUANTISATION,
        "first_load_seconds": {b: s for b, (_, s) in loaded.items()},  # from_pretrained, the export included
        "throughput": speed,
        "accuracy": rows,
        "max_probability_difference": differences,
        "startup": starts,
        "targets": TARGETS,
    }
    out = scratch.parent / "quick.json" if args.quick else RESULTS / "backends.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
