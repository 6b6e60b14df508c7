"""Side by side: this package's methods against SetFit, a logistic-regression probe and fine-tuning.

    python bench/compare.py --data ../shared/data            # everything (resumes where it stopped)
    python bench/compare.py --methods setfit,logreg --settings 5w1s   # a subset
    python bench/compare.py --report                         # tables and plots from what has run
    python bench/compare.py --retime --timing-episodes 2     # times again, on a quiet machine

Every method sees the same frozen episodes (``runs/compare/episodes/*.json``, ``EpisodeSampler(seed=0)``, 15 queries
per class) from the test split of the classes held out of meta-training (``bench/class_splits/``): CLINC150 (30
classes) and BANKING77 (15); 5-way 1-shot and 5-shot, all held-out classes at once with 5 and 8 shots. Methods without
a gradient step (zero-shot, prototypes, mixture, the default adapter, meta-trained protonet, logistic regression) run
``--episodes`` (600) on cached embeddings, timed apart without the cache on ``--timing-episodes``; methods that train
per episode (fomaml with test-time adaptation, SetFit, fine-tuning) run the first ``--episodes-expensive`` (30), and
``--episodes-expensive-all-way`` (5) at all-way, timed as they run. Per-episode results are kept in
``runs/compare/cells/`` after every episode, tied to their episodes and to a meta-trained method's weights (another
model reruns the cell). Writes docs/results/compare.json, the ``compare`` section of
docs/experiments/2026-11-26-comparison.md and three plots (docs/compare_accuracy.png, compare_time.png and
compare_headline.png), rebuilt from the cell files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from importlib.metadata import version
from pathlib import Path

import torch
from harness import DOCS, ROOT, add_data_option, interval, machine, today, write_section  # bench/harness.py

from fewshot_nlp import DEFAULT_ENCODER, FewShotClassifier, SentenceEncoder, __version__
from fewshot_nlp.encoders import default_adapter_available, default_adapter_revision, resolve_encoder
from fewshot_nlp.evaluation import PrecomputedEncoder
from fewshot_nlp.tasks import EpisodeSampler, load_class_split, load_task_set
from fewshot_nlp.tasks.episodes import load_episodes, save_episodes

ORDER = ["zeroshot", "prototypes", "mixture", "default", "protonet", "logreg", "fomaml", "setfit", "finetune"]
LABELS = {
    "zeroshot": "zero-shot (descriptions)",
    "prototypes": "prototypes (frozen)",
    "mixture": "mixture: prototypes + descriptions",
    "default": "default adapter, mixture (trained on every class of both corpora: not transfer)",
    "protonet": "meta-trained protonet",
    "logreg": "logistic regression probe",
    "fomaml": "meta-trained fomaml + 3 adaptation steps",
    "setfit": "SetFit (README defaults)",
    "finetune": "full fine-tuning",
}
TRAINING = {"fomaml", "setfit", "finetune"}  # methods that train per episode: fewer episodes
SETTING_ORDER = ["5w1s", "5w5s", "all5s", "all8s"]
DATASET_NAMES = {"clinc150": "CLINC150", "banking77": "BANKING77"}


def planned_episodes(key: str, setting: str, settings: dict) -> int:
    """Episodes a method runs in a setting: all of them on cached embeddings when it does not
    train; fewer when it trains per episode, and fewest when it trains on all classes at once."""
    if key not in TRAINING:
        return settings["episodes"]
    if setting.startswith("all"):
        return settings.get("episodes_expensive_all_way", settings["episodes_expensive"])
    return settings["episodes_expensive"]


def _median(values: list) -> float | None:
    """Times are summarised by their median: robust to the odd episode slowed by other work."""
    return round(statistics.median(values), 4) if values else None


def _row(cell: dict, n: int | None = None) -> dict:
    accuracies, timing = cell["accuracy"][:n], cell["timing"]
    mean, ci = interval(accuracies)
    return {
        "method": LABELS[cell["method"]],
        "key": cell["method"],
        "dataset": DATASET_NAMES.get(cell["dataset"], cell["dataset"]),
        "setting": cell["setting"],
        "way": cell["way"],
        "shot": cell["shot"],
        "accuracy": mean,
        "ci95": ci,
        "episodes": len(accuracies),
        "adapt_seconds": _median([r["adapt_seconds"] for r in timing]),
        "predict_ms_per_text": _median([1000 * r["predict_seconds_per_text"] for r in timing]),
        "adapt_cpu_seconds": _median([r["adapt_cpu_seconds"] for r in timing if "adapt_cpu_seconds" in r]),
        "timed_episodes": len(timing),
        "episodes_sha256": cell["episodes_sha256"],
    }


def load_cells(cells: Path) -> list[dict]:
    found = [json.loads(p.read_text()) for p in sorted(cells.glob("*.json"))]
    found = [c for c in found if c["accuracy"]]
    return sorted(found, key=lambda c: (c["dataset"], SETTING_ORDER.index(c["setting"]), ORDER.index(c["method"])))


def merge_rows(found: list[dict], published: dict, date: str) -> tuple[list[dict], list[dict]]:
    """All rows, and every setting's rows restricted to the episodes its cheapest-run method ran.

    Cells that ran here make rows dated ``date``. A published row (``published``: the last
    compare.json) is kept for a cell that did not run here, when it was scored on the same
    episodes; its per-episode file is gone, so it joins the paired table only at its own episode
    count (or through its published paired row at that count), never truncated: a paired table
    never mixes episode counts.
    """
    key = lambda r: (r["dataset"], r["setting"], r["key"])  # noqa: E731
    rows = [_row(c) | {"run": date} for c in found]
    cells = {key(row): cell for cell, row in zip(found, rows)}
    digests = {(r["dataset"], r["setting"]): r["episodes_sha256"] for r in rows}

    def reusable(r):
        same = digests.get((r["dataset"], r["setting"]), r["episodes_sha256"]) == r["episodes_sha256"]
        return same and key(r) not in cells

    old = published.get("date")
    kept = [r | {"run": r.get("run", old)} for r in published.get("results", []) if reusable(r)]
    old_paired = {key(r): r for r in published.get("same_episodes_as_trained_methods", []) if reusable(r)}
    order = lambda r: (r["dataset"], SETTING_ORDER.index(r["setting"]), ORDER.index(r["key"]))  # noqa: E731
    rows = sorted(rows + kept, key=order)
    paired = []
    for group in dict.fromkeys((r["dataset"], r["setting"]) for r in rows):
        members = [r for r in rows if (r["dataset"], r["setting"]) == group]
        n = min(r["episodes"] for r in members)
        if all(r["episodes"] == n for r in members):
            continue
        for r in members:
            if key(r) in cells:
                paired.append(_row(cells[key(r)], n) | {"run": date})
            elif r["episodes"] == n:
                paired.append(r)
            elif key(r) in old_paired and old_paired[key(r)]["episodes"] == n:
                paired.append(old_paired[key(r)] | {"run": r["run"]})
    return rows, paired


def _table(rows: list[dict], with_times: bool) -> list[str]:
    head = "| dataset | setting | method | accuracy | 95% CI | episodes | run |"
    rule = "|---|---|---|---|---|---|---|"
    if with_times:
        head += " adapt s (wall, median) | adapt CPU s (median) | predict ms / text (median) | timed episodes |"
        rule += "---|---|---|---|"
    lines = [head, rule]
    for r in rows:
        line = f"| {r['dataset']} | {r['setting']} | {r['method']} | {r['accuracy']:.4f} | ± {r['ci95']:.4f} | {r['episodes']} | {r.get('run', '')} |"
        if with_times:
            cpu = "" if r["adapt_cpu_seconds"] is None else f"{r['adapt_cpu_seconds']:.3f}"
            line += f" {r['adapt_seconds']:.3f} | {cpu} | {r['predict_ms_per_text']:.2f} | {r['timed_episodes']} |"
        lines.append(line)
    return lines


def run_time_table(rows: list[dict], planned, queries_per_class: int = 15) -> list[str]:
    """What a full rerun of bench/compare.py costs per method on this machine, from the median
    times x the episodes it runs uncached (the cached accuracy episodes take seconds)."""
    lines = [
        "| method | settings measured | uncached episodes per setting | estimated minutes |",
        "|---|---|---|---|",
    ]
    total, cells = 0.0, len({r["dataset"] for r in rows}) * len(SETTING_ORDER)
    for key in ORDER:
        measured = [r for r in rows if r["key"] == key and r["adapt_seconds"] is not None]
        if not measured:
            continue
        episodes = {r["setting"]: planned(key, r["setting"]) for r in measured}
        seconds = sum(
            episodes[r["setting"]]
            * (r["adapt_seconds"] + r["predict_ms_per_text"] / 1000 * r["way"] * queries_per_class)
            for r in measured
        )
        total += seconds
        counts = ", ".join(f"{s} {episodes[s]}" for s in SETTING_ORDER if s in episodes)
        lines.append(f"| {LABELS[key]} | {len(measured)} of {cells} | {counts} | {seconds / 60:.1f} |")
    lines.append(f"| all of the above | | | {total / 60:.1f} |")
    return lines


def plot(rows: list[dict], docs: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    colours = {key: plt.cm.tab10(i) for i, key in enumerate(ORDER)}
    written = []

    figure, axes = plt.subplots(len(datasets), 2, figsize=(12, 4.2 * len(datasets)), squeeze=False)
    for i, dataset in enumerate(datasets):
        for j, (title, settings) in enumerate(
            (("5-way", ("5w1s", "5w5s")), ("all held-out classes", ("all5s", "all8s")))
        ):
            axis = axes[i][j]
            for key in ORDER:
                points = [r for r in rows if r["dataset"] == dataset and r["key"] == key and r["setting"] in settings]
                if key == "zeroshot":
                    points = points[:1]
                if not points:
                    continue
                shots = [settings.index(r["setting"]) if key != "zeroshot" else -1 for r in points]
                axis.errorbar(
                    shots, [r["accuracy"] for r in points], yerr=[r["ci95"] for r in points], marker="o", capsize=3,
                    color=colours[key], label=f"{LABELS[key]} ({points[0]['episodes']} ep.)",
                )  # fmt: skip
            shots = [next((r["shot"] for r in rows if r["setting"] == s and r["shot"]), 0) for s in settings]
            shot_names = [f"{k} shot{'s' if k > 1 else ''}" for k in shots]
            axis.set_xticks([-1, 0, 1], ["0 (zero-shot)", *shot_names])
            way = next((r["way"] for r in rows if r["dataset"] == dataset and r["setting"] == settings[0]), "")
            axis.set_title(f"{dataset} held-out classes, {title}: {way}-way")
            axis.set_ylabel("accuracy")
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7, loc="lower right")
    save(figure, docs / "compare_accuracy.png", written, dpi=110)

    figure, axes = plt.subplots(len(datasets), len(SETTING_ORDER), figsize=(18, 4 * len(datasets)), squeeze=False)
    for i, dataset in enumerate(datasets):
        for j, setting in enumerate(SETTING_ORDER):
            axis = axes[i][j]
            for r in rows:
                if r["dataset"] == dataset and r["setting"] == setting and r["adapt_seconds"]:
                    axis.errorbar(
                        r["adapt_seconds"], r["accuracy"], yerr=r["ci95"], marker="o", capsize=3,
                        color=colours[r["key"]], label=LABELS[r["key"]],
                    )  # fmt: skip
            axis.set_xscale("log")
            axis.set_title(f"{dataset} {setting}")
            axis.set_xlabel("adaptation seconds per episode (CPU, log scale)")
            axis.set_ylabel("accuracy")
            axis.grid(alpha=0.3, which="both")
    handles = {label: h for axis in axes.flat for h, label in zip(*axis.get_legend_handles_labels())}
    figure.legend(handles.values(), handles.keys(), loc="lower center", ncol=4, fontsize=8)
    save(figure, docs / "compare_time.png", written, rect=(0, 0.06, 1, 1))

    # the README's headline: every held-out class at once, 5 examples each, accuracy against time
    figure, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 5.4), squeeze=False)
    for axis, dataset in zip(axes[0], datasets):
        for r in rows:
            if r["dataset"] == dataset and r["setting"] == "all5s" and r["adapt_seconds"]:
                axis.errorbar(
                    r["adapt_seconds"], r["accuracy"], yerr=r["ci95"], marker="o", capsize=3,
                    color=colours[r["key"]], label=f"{LABELS[r['key']]} ({r['episodes']} ep.)",
                )  # fmt: skip
        way = next((r["way"] for r in rows if r["dataset"] == dataset and r["setting"] == "all5s"), "")
        axis.set_xscale("log")
        axis.set_title(f"{dataset}: {way} held-out classes, 5 examples each")
        axis.set_xlabel("seconds to adapt (2-core CPU, log scale)")
        axis.set_ylabel("accuracy (95% CI)")
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.18), ncol=2, frameon=False)
    save(figure, docs / "compare_headline.png", written)
    plt.close("all")
    return written


def save(figure, path: Path, written: list[str], dpi: int = 100, **layout) -> None:
    figure.tight_layout(**layout)
    figure.savefig(path, dpi=dpi)
    written.append(path.name)


def write_report(cells: Path, metadata: dict) -> None:
    docs = DOCS
    results = docs / "results" / "compare.json"
    published = json.loads(results.read_text()) if results.exists() else {}
    rows, paired = merge_rows(load_cells(cells), published, metadata["date"])
    if not rows:
        raise SystemExit(f"no finished cells under {cells}: run bench/compare.py first.")
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps({**metadata, "results": rows, "same_episodes_as_trained_methods": paired}, indent=1))
    plots = plot(rows, docs)
    lines = [
        f"Command: `{metadata['command']}`  ",
        f"Machine: {metadata['machine']}  ",
        f"Date of this report: {metadata['date']} (the run column dates each row; a cell not rerun keeps its "
        "published row); "
        + ", ".join(f"{k} {v}" for k, v in metadata["versions"].items())
        + f"; seed {metadata['seed']}",
        "",
        "All episodes, every method (cheap methods: cached embeddings for accuracy, uncached runs for the times):",
        "",
        *_table(rows, with_times=True),
        "",
    ]
    if paired:
        lines += [
            "The same comparison restricted to the episodes the training methods ran (paired: identical "
            "support and query sets for every row):",
            "",
            *_table(paired, with_times=False),
            "",
        ]
    settings = metadata["settings"]

    def planned(key, setting):
        return planned_episodes(key, setting, settings) if key in TRAINING else settings["timing_episodes"]

    lines += [
        "Time a full rerun needs on this machine, estimated from the median times above: methods that "
        "train run every episode uncached; the others run their accuracy episodes on cached embeddings "
        "(seconds) and their timed episodes uncached:",
        "",
        *run_time_table(rows, planned),
        "",
    ]
    lines += [f"![{name}](../{name})" for name in plots]  # the log sits in docs/experiments/
    log = write_section(docs, "compare", "\n".join(lines))
    print(f"wrote docs/results/compare.json, the compare section of {log}, {', '.join('docs/' + p for p in plots)}")


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
    add_data_option(parser)
    parser.add_argument("--methods", default=",".join(ORDER), help=f"comma-separated subset of {','.join(ORDER)}")
    parser.add_argument("--datasets", default=",".join(DATASET_NAMES))
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--episodes", type=int, default=600, help="episodes for methods without training")
    parser.add_argument("--episodes-expensive", type=int, default=30, help="episodes for methods that train")
    parser.add_argument(
        "--episodes-expensive-all-way", type=int, default=5, help="the same at all-way (SetFit: minutes)"
    )
    parser.add_argument("--timing-episodes", type=int, default=10, help="uncached episodes that time cheap methods")
    parser.add_argument("--protonet", default="runs/intents-protonet", help="meta-trained protonet model folder")
    parser.add_argument("--fomaml", default="runs/intents-fomaml-clinc", help="meta-trained fomaml model folder")
    parser.add_argument("--adapt-steps", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "compare", help="episodes and per-episode results")
    parser.add_argument("--report", action="store_true", help="only rebuild tables and plots from finished cells")
    parser.add_argument("--no-report", action="store_true", help="run the cells, leave the tables and plots alone")
    parser.add_argument(
        "--retime", action="store_true", help="time the first --timing-episodes of finished cells again"
    )
    args = parser.parse_args()
    chosen = {kind: getattr(args, kind).split(",") for kind in ("methods", "datasets", "settings")}
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
        "machine": machine(),
        "date": today(),
        "versions": {
            name: version(name)
            for name in ("fewshot-nlp", "torch", "transformers", "sentence-transformers", "setfit", "scikit-learn")
        },
        "seed": 0,
        "settings": {
            key: getattr(args, key)
            for key in ("episodes", "episodes_expensive", "episodes_expensive_all_way", "timing_episodes")
            + ("adapt_steps", "protonet", "fomaml")
        },
        "library": __version__,
    }


if __name__ == "__main__":
    main()
