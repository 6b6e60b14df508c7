"""Tables and plots of bench/compare.py, rebuilt from its per-episode cell files.

Writes docs/results/compare.json, the ``compare`` section of docs/experiments/2026-11-26-comparison.md,
docs/compare_accuracy.png (accuracy against shots, 95% CI bars) and docs/compare_time.png
(accuracy against adaptation time, log scale).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from fewshot_nlp import mean_confidence_interval

ROOT = Path(__file__).resolve().parents[1]
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
    accuracies = cell["accuracy"][:n]
    mean, ci = mean_confidence_interval(accuracies)
    timing = cell["timing"]
    return {
        "method": LABELS[cell["method"]],
        "key": cell["method"],
        "dataset": DATASET_NAMES.get(cell["dataset"], cell["dataset"]),
        "setting": cell["setting"],
        "way": cell["way"],
        "shot": cell["shot"],
        "accuracy": round(mean, 4),
        "ci95": round(ci, 4),
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
                    shots,
                    [r["accuracy"] for r in points],
                    yerr=[r["ci95"] for r in points],
                    marker="o",
                    capsize=3,
                    color=colours[key],
                    label=f"{LABELS[key]} ({points[0]['episodes']} ep.)",
                )
            shots = [next((r["shot"] for r in rows if r["setting"] == s and r["shot"]), 0) for s in settings]
            shot_names = [f"{k} shot{'s' if k > 1 else ''}" for k in shots]
            axis.set_xticks([-1, 0, 1], ["0 (zero-shot)", *shot_names])
            way = next((r["way"] for r in rows if r["dataset"] == dataset and r["setting"] == settings[0]), "")
            axis.set_title(f"{dataset} held-out classes, {title}: {way}-way")
            axis.set_ylabel("accuracy")
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path = docs / "compare_accuracy.png"
    figure.savefig(path, dpi=110)
    written.append(path.name)

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
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    path = docs / "compare_time.png"
    figure.savefig(path, dpi=100)
    written.append(path.name)

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
    figure.tight_layout()
    path = docs / "compare_headline.png"
    figure.savefig(path, dpi=100)
    written.append(path.name)
    plt.close("all")
    return written


def write_report(cells: Path, metadata: dict) -> None:
    from classifier import write_section  # bench/classifier.py

    docs = ROOT / "docs"
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
