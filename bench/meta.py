"""Benchmark of meta-trained adapters against the frozen encoder, on classes never trained on.

    python bench/meta.py --data ../shared/data --model runs/intents-protonet-clinc --model runs/intents-fomaml-clinc

Episodes come from the test split of each corpus, restricted to the meta-test classes of
the models' class split (all models must share it); a corpus no model trained on (e.g.
BANKING77 for models trained on CLINC150 alone) is used whole: an intent set never seen. Settings: 5-way 1-shot and
5-shot (``--episodes``, 600), all classes at once with 5 shots (``--episodes-all``, 50).
Reference rows use the frozen embedded MiniLM: prototypes, zero-shot descriptions, mixture.
Every other row also gives its paired difference to frozen prototypes on the same episodes.
FOMAML models are also run with test-time adaptation (``--adapt-steps``), on fewer episodes
(``--adapt-episodes`` / ``--adapt-episodes-all``) because every episode then trains.
Writes docs/results/meta.json and the ``meta`` section of its docs/experiments/ log.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from harness import DOCS, RESULTS, add_data_option, header, interval, record, write_result, write_section

from fewshot_nlp import EpisodeSampler, FewShotClassifier, __version__, evaluate_episodes
from fewshot_nlp.tasks import load_task_set


def task_sets(data: str, models: dict) -> dict:
    """Each corpus restricted to the models' meta-test classes, or whole if no model trained on it."""
    sets = {}
    for name in ("clinc150", "banking77"):
        task_set = load_task_set(name, data, split="test")
        splits = {json.dumps(m.meta_training["class_split"].get(name), sort_keys=True) for m in models.values()}
        if len(splits) != 1:
            raise SystemExit(f"the models saw different {name} classes in training; compare like with like")
        split = json.loads(splits.pop())
        if split is None:
            sets[f"{name} (never trained on, all {len(task_set.classes)} classes)"] = task_set
        else:
            sets[f"{name} held-out classes ({len(split['test'])})"] = task_set.subset(split["test"])
    return sets


def evaluate(
    name, model, task_set, episodes, adapt_steps=0, labels=None, use_support=True, reference=None
) -> tuple[dict, list[float]]:
    """The table row and the per-episode accuracies. With ``reference`` (the per-episode accuracies
    of frozen prototypes on the same episodes, possibly more of them: the first ones pair up),
    the row also holds the paired difference."""

    def make(encoder, episode):
        classifier = FewShotClassifier(encoder, metric=model.head.metric, temperature=model.head.temperature)
        classifier.meta_training = model.meta_training
        if labels is not None:
            classifier.add_labels({c: task_set.descriptions[c] for c in episode.classes})
        return classifier

    started = time.perf_counter()
    result = evaluate_episodes(make, episodes, model.encoder, use_support, progress=False, adapt_steps=adapt_steps)
    seconds = time.perf_counter() - started
    row = {
        "method": name,
        "way": episodes[0].way,
        "shot": len(episodes[0].support_texts) // episodes[0].way if use_support else 0,
        "accuracy": round(result.accuracy, 4),
        "ci95": round(result.ci95, 4),
        "episodes": result.episodes,
        "seconds_per_episode": round(seconds / len(episodes), 3),
    }
    if reference is not None:  # paired on the same episodes, their difficulty cancels: the interval that decides
        paired = interval(a - r for a, r in zip(result.per_episode, reference))
        row |= {"delta_vs_frozen_prototypes": paired[0], "delta_ci95": paired[1]}
    print(row, flush=True)
    return row, result.per_episode


def paired_cell(row: dict) -> str:
    """'+0.0113 ± 0.0040', bold when the interval excludes zero (a difference, not noise)."""
    if "delta_vs_frozen_prototypes" not in row:
        return "reference"
    delta, ci = row["delta_vs_frozen_prototypes"], row["delta_ci95"]
    cell = f"{delta:+.4f} ± {ci:.4f}"
    return f"**{cell}**" if abs(delta) > ci else cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_option(parser)
    parser.add_argument("--model", action="append", help="meta-trained model folder (repeatable)")
    parser.add_argument("--section", default="meta", help="marker of the section to write in docs/experiments/")
    parser.add_argument("--episodes", type=int, default=600)
    parser.add_argument("--episodes-all", type=int, default=50)
    parser.add_argument("--adapt-steps", type=int, default=3)
    parser.add_argument("--adapt-episodes", type=int, default=100)
    parser.add_argument("--adapt-episodes-all", type=int, default=10)
    parser.add_argument("--report-only", action="store_true", help="rewrite the section from its results JSON")
    args = parser.parse_args()
    if args.report_only:
        write_report(args.section, json.loads((RESULTS / f"{args.section}.json").read_text()))
        return
    if not args.model:
        parser.error("give at least one --model (or --report-only)")

    models = {path: FewShotClassifier.from_pretrained(path) for path in args.model}
    frozen = FewShotClassifier.from_pretrained(metric="euclidean", temperature=0.1)
    results = {}
    for data_name, task_set in task_sets(args.data, models).items():
        rows = []
        for way, shot, n, n_adapt in (
            (5, 1, args.episodes, args.adapt_episodes),
            (5, 5, args.episodes, args.adapt_episodes),
            (None, 5, args.episodes_all, args.adapt_episodes_all),
        ):
            episodes = EpisodeSampler(task_set, way=way, shot=shot, query=15, seed=0).sample(n)
            row, reference = evaluate("frozen prototypes", frozen, task_set, episodes)
            rows.append(row)
            name = "frozen mixture (descriptions)"
            rows.append(evaluate(name, frozen, task_set, episodes, labels=True, reference=reference)[0])
            if shot == 5:
                name = "frozen zero-shot (descriptions)"
                rows.append(evaluate(name, frozen, task_set, episodes, 0, True, False, reference)[0])
            for path, model in models.items():
                algorithm = model.meta_training["algorithm"]
                name = f"{algorithm} prototypes ({Path(path).name})"
                rows.append(evaluate(name, model, task_set, episodes, reference=reference)[0])
                if algorithm == "fomaml" and args.adapt_steps:
                    name = f"{algorithm} + {args.adapt_steps} adaptation steps ({Path(path).name})"
                    adapted = episodes[:n_adapt]
                    rows.append(evaluate(name, model, task_set, adapted, args.adapt_steps, reference=reference)[0])
        results[data_name] = rows

    meta = {
        **record(),
        "version": __version__,
        "torch": torch.__version__,
        "training": {p: m.meta_training | {"arguments": None} for p, m in models.items()},
    }
    write_report(args.section, {**meta, "results": results})


def write_report(section: str, report: dict) -> None:
    """docs/results/<section>.json and the ``section`` in its docs/experiments/ log."""
    write_result(section, report)
    lines = header(report)
    for data_name, rows in report["results"].items():
        lines += [
            f"**{data_name}**",
            "",
            "| method | way | shot | accuracy | 95% CI | vs frozen prototypes, same episodes (paired 95% CI) "
            "| episodes | s / episode |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['method']} | {r['way']} | {r['shot']} | {r['accuracy']:.4f} | ± {r['ci95']:.4f} | "
            f"{paired_cell(r)} | {r['episodes']} | {r['seconds_per_episode']} |"
            for r in rows
        ]
        lines.append("")
    write_section(DOCS, section, "\n".join(lines))


if __name__ == "__main__":
    main()
