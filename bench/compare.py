"""Side by side: this package's methods against SetFit, a logistic-regression probe and fine-tuning.

    python bench/compare.py --data ../shared/data            # everything (resumes where it stopped)
    python bench/compare.py --methods setfit,logreg --settings 5w1s   # a subset
    python bench/compare.py --report                         # tables and plots from what has run
    python bench/compare.py --retime --timing-episodes 2     # times again, on a quiet machine

Every method sees exactly the same frozen episodes (``runs/compare/episodes/*.json``, drawn by
``EpisodeSampler(seed=0)``, 15 queries per class) from the test split of the classes held out of
meta-training (``bench/class_splits/``): CLINC150 (30 classes) and BANKING77 (15 classes);
settings 5-way 1-shot and 5-shot, all held-out classes at once with 5 and 8 shots.

Cheap methods (no gradient step: zero-shot, prototypes, mixture, the package's default adapter
with the mixture, meta-trained protonet, logistic regression) run ``--episodes`` (600) episodes
on cached embeddings; their adaptation and prediction times are measured separately, without
the cache, on the first ``--timing-episodes``.
Methods that train per episode (fomaml with test-time adaptation, SetFit, fine-tuning) run the
first ``--episodes-expensive`` (30) of the same episodes, timed as they run, and the first
``--episodes-expensive-all-way`` (5) in the all-way settings, where one SetFit episode takes
minutes (the report's run-time table estimates what a full rerun costs). Per-episode results
are kept in ``runs/compare/cells/`` after every episode, so an interrupted run loses nothing; a
cell is tied to its episodes and, for meta-trained methods, to the model's weights (another
model reruns the cell instead of resuming it).
Writes docs/results/compare.json, the ``compare`` section of docs/experiments/2026-11-26-comparison.md and two plots.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import time
from importlib.metadata import version
from pathlib import Path

import torch
from report import (  # bench/report.py: names, tables, plots
    DATASET_NAMES,
    ORDER,
    TRAINING,
    planned_episodes,
    write_report,
)

from fewshot_nlp import DEFAULT_ENCODER, FewShotClassifier, SentenceEncoder, __version__
from fewshot_nlp.encoders import default_adapter_available, default_adapter_revision, resolve_encoder
from fewshot_nlp.evaluation import PrecomputedEncoder
from fewshot_nlp.tasks import EpisodeSampler, load_class_split, load_task_set
from fewshot_nlp.tasks.episodes import load_episodes, save_episodes

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"5w1s": (5, 1), "5w5s": (5, 5), "all5s": (None, 5), "all8s": (None, 8)}


def held_out_task_sets(data: str) -> dict:
    sets = {}
    for name in DATASET_NAMES:
        test_classes = load_class_split(ROOT / "bench" / "class_splits" / f"{name}.json")["test"]
        sets[name] = load_task_set(name, data, split="test").subset(test_classes)
    return sets


def frozen_episodes(task_set, dataset: str, setting: str, n: int, folder: Path) -> tuple[list, str]:
    """The first ``n`` episodes of a setting, written once and read back by every later run."""
    way, shot = SETTINGS[setting]
    path = folder / f"{dataset}_{setting}.json"
    episodes = load_episodes(path) if path.exists() else []
    if len(episodes) < n:
        folder.mkdir(parents=True, exist_ok=True)
        episodes = EpisodeSampler(task_set, way=way, shot=shot, query=15, seed=0).sample(n)
        save_episodes(episodes, path)
    return episodes[:n], episodes_digest(episodes)  # the whole file's episodes, as written


def episodes_digest(episodes) -> str:
    """Identifies episodes by what every method is shown (classes, support and query sets).

    Label texts, which episodes carry since the transfer work, are left out: they are derived
    from the classes, and leaving them out keeps the digests of the rows published before them.
    """
    plain = [{k: v for k, v in e.to_dict().items() if k != "label_texts"} for e in episodes]
    return hashlib.sha256(json.dumps(plain, ensure_ascii=False).encode()).hexdigest()[:16]


def _load_meta_trained(path: str, algorithm: str):
    if not Path(path).is_dir():
        raise SystemExit(
            f"{path} does not exist: train it first (see recipes/configs/intents_{algorithm}*.yaml) "
            f"or leave '{algorithm}' out of --methods."
        )
    model = FewShotClassifier.from_pretrained(path)
    if model.meta_training["algorithm"] != algorithm:
        raise SystemExit(f"{path} was trained with {model.meta_training['algorithm']}, not {algorithm}.")
    for name in DATASET_NAMES:
        trained = model.meta_training["class_split"].get(name)
        held_out = load_class_split(ROOT / "bench" / "class_splits" / f"{name}.json")["test"]
        if trained is not None and set(trained["train"]) & set(held_out):
            raise SystemExit(f"{path} trained on {name} classes that this benchmark holds out; use its class split.")
    return model


def model_digest(path: str) -> str:
    """Identifies a meta-trained model by its weights, so a cell is never resumed with another one."""
    digest = hashlib.sha256()
    for tensors in sorted(Path(path).glob("*.safetensors")):
        digest.update(tensors.read_bytes())
    return digest.hexdigest()[:16]


def build_method(key: str, encoder, descriptions: dict, args):
    """``adapt(episode) -> predict`` for one method; ``encoder`` may be a cache (cheap methods)."""
    from baselines import FineTuning, LogisticRegressionProbe, SetFitMethod  # bench/baselines.py

    body = resolve_encoder(None)  # the embedded MiniLM folder
    if key in ("zeroshot", "prototypes", "mixture", "default", "protonet"):
        head = {}
        if key == "protonet":
            head = {"metric": args.protonet_model.head.metric, "temperature": args.protonet_model.head.temperature}

        def adapt(episode):
            classifier = FewShotClassifier(encoder, **head)
            if key in ("zeroshot", "mixture", "default"):
                classifier.add_labels({c: descriptions[c] for c in episode.classes})
            if key != "zeroshot":
                classifier.fit(episode.support_texts, episode.support_labels)
            return classifier.predict

        return adapt
    if key == "logreg":
        return LogisticRegressionProbe(encoder)
    if key == "fomaml":
        model = args.fomaml_model
        start = {n: p.detach().clone() for n, p in model.encoder.lora_parameters().items()}

        def adapt(episode):
            with torch.no_grad():  # every episode adapts from the meta-learned adapter
                for name, parameter in model.encoder.lora_parameters().items():
                    parameter.copy_(start[name])
            classifier = FewShotClassifier(model.encoder, metric=model.head.metric, temperature=model.head.temperature)
            classifier.meta_training = model.meta_training
            classifier.fit(episode.support_texts, episode.support_labels, adapt_steps=args.adapt_steps)
            return classifier.predict

        return adapt
    if key == "setfit":
        return SetFitMethod(body)
    if key == "finetune":
        return FineTuning(body)
    raise ValueError(f"unknown method {key!r}; choose from {ORDER}.")


def run_episode(adapt, episode) -> dict:
    """Accuracy, wall seconds and CPU seconds (this process, all threads) of adapting and predicting.

    CPU seconds are the fairer cost when other work shares the machine: wall time then
    stretches, CPU time hardly does.
    """
    started, started_cpu = time.perf_counter(), time.process_time()
    predict = adapt(episode)
    adapted, adapted_cpu = time.perf_counter(), time.process_time()
    predictions = predict(episode.query_texts)
    predicted, predicted_cpu = time.perf_counter(), time.process_time()
    correct = sum(p == t for p, t in zip(predictions, episode.query_labels))
    n = len(episode.query_texts)
    return {
        "index": episode.index,
        "accuracy": correct / len(episode.query_labels),
        "adapt_seconds": adapted - started,
        "adapt_cpu_seconds": adapted_cpu - started_cpu,
        "predict_seconds_per_text": (predicted - adapted) / n,
        "predict_cpu_seconds_per_text": (predicted_cpu - adapted_cpu) / n,
    }


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)  # a run killed mid-write leaves the previous file whole


def run_cell(key, dataset, setting, task_set, episodes, digest, encoders, args) -> dict:
    """Per-episode accuracy (and times) of one method in one setting, resumed from its cell file."""
    path = args.work / "cells" / f"{dataset}__{setting}__{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    cell = json.loads(path.read_text()) if path.exists() else {}
    model = args.model_digests.get(key)  # None for methods without a meta-trained model
    if cell.get("episodes_sha256") != digest or cell.get("model_sha256") != model:
        if cell.get("accuracy"):
            print(f"{path}: other episodes or another {key} model; its results are replaced", flush=True)
        way, shot = episodes[0].way, 0 if key == "zeroshot" else SETTINGS[setting][1]
        cell = {"method": key, "dataset": dataset, "setting": setting, "way": way, "shot": shot}
        cell |= {"episodes_sha256": digest, "model_sha256": model, "accuracy": [], "timing": []}
    expensive = key in TRAINING
    n = min(len(episodes), planned_episodes(key, setting, vars(args)))
    label = f"{DATASET_NAMES[dataset]} {setting} {key}"
    cached = encoders.get(key, encoders["frozen"])  # this method's encoder, with its embeddings cached
    if args.retime:  # measure times again, on a quiet machine, without touching the accuracies
        method = build_method(key, cached.encoder, task_set.descriptions, args)
        timed = min(args.timing_episodes, len(cell["accuracy"]))
        cell["timing"] = [run_episode(method, e) for e in episodes[:timed]] + cell["timing"][timed:]
        _write_json(path, cell)
    elif expensive:
        method = build_method(key, encoders["frozen"], task_set.descriptions, args)
        for episode in episodes[len(cell["timing"]) : n]:
            cell["timing"].append(run_episode(method, episode))
            cell["accuracy"] = [r["accuracy"] for r in cell["timing"]]
            _write_json(path, cell)
            print(f"{label}: episode {len(cell['timing'])}/{n} {cell['timing'][-1]}", flush=True)
    else:
        if len(cell["accuracy"]) < n:
            method = build_method(key, cached, task_set.descriptions, args)
            cell["accuracy"] = [run_episode(method, e)["accuracy"] for e in episodes[:n]]
            _write_json(path, cell)
        if len(cell["timing"]) < args.timing_episodes:
            method = build_method(key, cached.encoder, task_set.descriptions, args)
            cell["timing"] = [run_episode(method, e) for e in episodes[: args.timing_episodes]]
            _write_json(path, cell)
    accuracies = cell["accuracy"]
    print(f"{label}: {sum(accuracies) / len(accuracies):.4f} over {len(accuracies)} episodes", flush=True)
    return cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("FEWSHOT_NLP_DATA", "../shared/data"))
    parser.add_argument("--methods", default=",".join(ORDER), help=f"comma-separated subset of {','.join(ORDER)}")
    parser.add_argument("--datasets", default=",".join(DATASET_NAMES))
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--episodes", type=int, default=600, help="episodes for methods without training")
    parser.add_argument("--episodes-expensive", type=int, default=30, help="episodes for methods that train")
    parser.add_argument(
        "--episodes-expensive-all-way",
        type=int,
        default=5,
        help="episodes for methods that train, at all-way (SetFit's sentence pairs grow with the support set: "
        "minutes per episode on 2 cores)",
    )
    parser.add_argument("--timing-episodes", type=int, default=10, help="uncached episodes that time cheap methods")
    parser.add_argument("--protonet", default="runs/intents-protonet", help="meta-trained protonet model folder")
    parser.add_argument("--fomaml", default="runs/intents-fomaml-clinc", help="meta-trained fomaml model folder")
    parser.add_argument("--adapt-steps", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "compare", help="episodes and per-episode results")
    parser.add_argument("--report", action="store_true", help="only rebuild tables and plots from finished cells")
    parser.add_argument("--no-report", action="store_true", help="run the cells, leave the tables and plots alone")
    parser.add_argument(
        "--retime", action="store_true", help="re-measure the times of the first --timing-episodes of finished cells"
    )
    args = parser.parse_args()
    chosen = {
        "methods": args.methods.split(","),
        "datasets": args.datasets.split(","),
        "settings": args.settings.split(","),
    }
    for kind, known in (("methods", ORDER), ("datasets", DATASET_NAMES), ("settings", SETTINGS)):
        unknown = set(chosen[kind]) - set(known)
        if unknown:
            parser.error(f"unknown {kind} {sorted(unknown)}; choose from {','.join(known)}")

    if not args.report:
        torch.manual_seed(0)
        args.protonet_model = _load_meta_trained(args.protonet, "protonet") if "protonet" in chosen["methods"] else None
        args.fomaml_model = _load_meta_trained(args.fomaml, "fomaml") if "fomaml" in chosen["methods"] else None
        args.model_digests = {
            key: model_digest(getattr(args, key)) for key in ("protonet", "fomaml") if key in chosen["methods"]
        }
        if "default" in chosen["methods"]:
            if not default_adapter_available():
                raise SystemExit("this checkout ships no default adapter: leave 'default' out of --methods.")
            args.model_digests["default"] = default_adapter_revision()
        task_sets = held_out_task_sets(args.data)
        for dataset in chosen["datasets"]:
            texts = task_sets[dataset].texts_and_labels()[0]
            encoders = {"frozen": PrecomputedEncoder(SentenceEncoder(DEFAULT_ENCODER), texts)}
            if args.protonet_model is not None:
                encoders["protonet"] = PrecomputedEncoder(args.protonet_model.encoder, texts)
            if "default" in chosen["methods"]:  # the package's default encoder: MiniLM with its adapter merged
                encoders["default"] = PrecomputedEncoder(SentenceEncoder(), texts)
            for setting in chosen["settings"]:
                n = max(args.episodes, args.episodes_expensive)
                episodes, digest = frozen_episodes(task_sets[dataset], dataset, setting, n, args.work / "episodes")
                for key in chosen["methods"]:
                    run_cell(key, dataset, setting, task_sets[dataset], episodes, digest, encoders, args)
    if not args.no_report:
        write_report(args.work / "cells", metadata(args))


def metadata(args) -> dict:
    return {
        "command": "python bench/compare.py --data ../shared/data",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU",
        "date": datetime.date.today().isoformat(),
        "versions": {
            name: version(name)
            for name in ("fewshot-nlp", "torch", "transformers", "sentence-transformers", "setfit", "scikit-learn")
        },
        "seed": 0,
        "settings": {
            "episodes": args.episodes,
            "episodes_expensive": args.episodes_expensive,
            "episodes_expensive_all_way": args.episodes_expensive_all_way,
            "timing_episodes": args.timing_episodes,
            "adapt_steps": args.adapt_steps,
            "protonet": args.protonet,
            "fomaml": args.fomaml,
        },
        "library": __version__,
    }


if __name__ == "__main__":
    main()
