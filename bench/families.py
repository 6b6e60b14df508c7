"""Task families beyond intents: label texts, the adaptive mixture and tuning at fit time, family by family.

    python bench/families.py --data ../shared/data --validate   # the validation family: chooses the tuner's settings
    python bench/families.py --data ../shared/data --validate --retime   # its fit times again, one at a time
    python bench/families.py --data ../shared/data              # every family (resumes where it stopped)
    python bench/families.py --data ../shared/data --setfit     # adds SetFit's cells (minutes each; not in CI)
    python bench/families.py --data ../shared/data --fomaml runs/tuner-fomaml   # the tuner from a FOMAML start
    python bench/families.py --report                           # the tables from what has run

Design, settings and readings: docs/experiments/2026-12-04-families.md. Each task is scored on at most
1,000 texts of its test split; five support sets per number of examples, drawn from its train split (dev, or
the unscored part of test, where it has none); a task of more than 20 classes is scored in 5-way episodes.
Every finished cell is appended to ``runs/families/cells.jsonl``, so an interrupted run loses nothing.
Writes docs/results/families.json (or families_validation.json).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import time
from pathlib import Path

from fewshot_nlp import DEFAULT_ENCODER, FewShotClassifier, SentenceEncoder, TuningArguments, macro_f1
from fewshot_nlp.encoders import resolve_encoder
from fewshot_nlp.evaluation import PrecomputedEncoder, mean_confidence_interval
from fewshot_nlp.tasks import CSV_CORPORA, data_root, load_task_set
from fewshot_nlp.tasks.episodes import Episode

ROOT = Path(__file__).resolve().parents[1]
STANCE = [f"tweet_stance_{t}" for t in ("abortion", "atheism", "climate", "feminist", "hillary")]
FAMILIES = {
    "intents": ["banking77"],
    "tweet sentiment": ["tweet_sentiment"],
    "tweet emotion": ["tweet_emotion"],
    "stance": STANCE,
    "hate + offensive": ["tweet_hate", "tweet_offensive"],
    "irony": ["tweet_irony"],
    "topics": ["ag_news"],
}
VALIDATION_TASK = "tweet_emoji"
SHOTS, SUPPORT_SETS, TEST_TEXTS, MAX_WAY, EPISODE_WAY = (0, 8, 16), 5, 1000, 20, 5
TUNING_GRID = [(4, 1e-4), (8, 5e-5), (8, 1e-4), (16, 5e-5)]
BASELINE = ("minilm", "fixed")  # the plain MiniLM's prototypes with label texts at weight 1
FROZEN = {"names": None, "examples": 0.0, "fixed": 1.0, "adaptive": "auto"}  # method -> prior_weight


class Task:
    """A task's support pool, its scored texts and its label texts."""

    def __init__(self, name: str, data: str):
        splits = CSV_CORPORA[name][1] if name in CSV_CORPORA else ("train", "test")
        test = load_task_set(f"{name}:test", data)
        rows = [(t, c) for c in test.classes for t in test.by_class[c]]
        random.Random(0).shuffle(rows)
        self.scored, rest = rows[:TEST_TEXTS], rows[TEST_TEXTS:]
        pool_split = next((s for s in ("train", "dev") if s in splits), None)
        if pool_split is None:  # test only: the support sets come from the texts that are not scored
            self.pool: dict = {}
            for text, label in rest:
                self.pool.setdefault(label, []).append(text)
        else:
            self.pool = load_task_set(f"{name}:{pool_split}", data).by_class
        self.name, self.classes = name, sorted(self.pool)
        self.label_texts = {c: test.label_text(c) for c in self.classes}

    def episode(self, shot: int, seed: int, scored=None, way: int | None = None) -> Episode:
        """Support set ``seed`` of ``shot`` examples per class, over ``way`` classes drawn with the seed
        (5 when the task has more than 20 classes; all of them otherwise), and its scored texts."""
        way = way or (EPISODE_WAY if len(self.classes) > MAX_WAY else None)
        classes = (
            sorted(random.Random(f"{self.name}-classes-{seed}").sample(self.classes, way)) if way else self.classes
        )
        rng = random.Random(f"{self.name}-{shot}-{seed}")
        support = [(t, c) for c in classes for t in rng.sample(self.pool[c], min(shot, len(self.pool[c])))]
        scored = [(t, c) for t, c in (scored or self.scored) if c in classes]
        return Episode(classes, *_columns(support), *_columns(scored), seed=seed)


def _columns(rows) -> tuple[list, list]:
    return [t for t, _ in rows], [c for _, c in rows]


def score(predict, episode: Episode) -> dict:
    predictions = predict(episode.query_texts)
    correct = sum(p == y for p, y in zip(predictions, episode.query_labels))
    return {"accuracy": correct / len(predictions), "macro_f1": macro_f1(predictions, episode.query_labels)}


def run_method(method: str, encoders: dict, cache: dict, episode: Episode, label_texts: dict, tuning) -> dict:
    """One method fitted on ``episode``'s support set and scored on its queries."""
    encoder_name, kind = method.split("/", 1)
    labels = {c: label_texts[c] for c in episode.classes}
    if kind in FROZEN:
        options = {} if FROZEN[kind] is None else {"prior_weight": FROZEN[kind]}
        classifier = FewShotClassifier(cache[encoder_name], labels, **options)
        start = time.perf_counter()
        if kind != "names":
            classifier.fit(episode.support_texts, episode.support_labels)
        result = score(classifier.predict, episode)
        return {**result, "prior_weight": classifier.prior_weight_, "seconds": round(time.perf_counter() - start, 3)}
    start = time.perf_counter()
    if kind.startswith("tuned"):
        # "tuned-SxLR": the adaptive weight, the classifier's default when these cells first ran (docs/experiments);
        # "tuned-SxLR:fixed": today's default weight of 1
        weight = 1.0 if kind.endswith(":fixed") else "auto"
        classifier = FewShotClassifier(encoders[encoder_name], labels, prior_weight=weight)
        classifier.fit(episode.support_texts, episode.support_labels, tune=tuning)
        record = {f"tuning_{k}" if k == "seed" else k: v for k, v in classifier.tuning.items()}  # not the cell's seed
        predict, extra = classifier.predict, {"prior_weight": classifier.prior_weight_, **record}
    else:
        from baselines import LogisticRegressionProbe, SetFitMethod  # bench/baselines.py

        adapt = (
            LogisticRegressionProbe(cache[encoder_name])
            if kind == "logreg"
            else SetFitMethod(resolve_encoder(DEFAULT_ENCODER))
        )
        predict, extra = adapt(episode), {}
    seconds = time.perf_counter() - start
    return {**score(predict, episode), **extra, "seconds": round(seconds, 3)}


class Cells:
    """Finished cells, one JSON line each, read back on start: a stopped run resumes."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = path.read_text().splitlines() if path.exists() else []
        self.rows = [json.loads(line) for line in lines if line.strip()]
        self.done = {self.key(r) for r in self.rows}

    @staticmethod
    def key(row: dict) -> tuple:
        return row["task"], row["method"], row["shot"], row["seed"]

    def add(self, row: dict) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        self.rows.append(row)
        self.done.add(self.key(row))


def plan(args) -> list[tuple]:
    """(task, method, shot, seed) of every cell this command asks for, cheapest first."""
    tuned = f"tuned-{args.tune_steps}x{args.tune_lr:g}"
    cells = []
    for family, tasks in FAMILIES.items():
        for task in tasks:
            for seed in range(SUPPORT_SETS):
                cells += [(family, task, f"{e}/names", 0, seed) for e in ("minilm", "default")]
                for shot in SHOTS[1:]:
                    methods = [f"{e}/{m}" for e in ("minilm", "default") for m in ("examples", "fixed", "adaptive")]
                    methods += ["default/logreg", f"default/{tuned}"] + (["minilm/setfit"] if args.setfit else [])
                    cells += [(family, task, m, shot, seed) for m in methods]
                cells.append((family, task, f"default/{tuned}:fixed", 8, seed))  # tune=True as the package ships it
                if args.fomaml and task.startswith("tweet_"):  # held out of both starts' training
                    cells.append((family, task, f"fomaml/{tuned}", 8, seed))
    return sorted(cells, key=lambda c: ("tuned" in c[2], "setfit" in c[2]))


def validation_episode(task: Task, data: str, shot: int, seed: int) -> Episode:
    """A 5-way episode of the validation task, scored on at most 200 dev texts of its classes."""
    dev = load_task_set(f"{task.name}:dev", data)
    rows = [(t, c) for c in dev.classes for t in dev.by_class[c]]
    random.Random(seed).shuffle(rows)
    episode = task.episode(shot, seed, scored=rows, way=EPISODE_WAY)
    episode.query_texts, episode.query_labels = episode.query_texts[:200], episode.query_labels[:200]
    return episode


def retime(args, data: str) -> dict:
    """Fit seconds of each tuning setting and of SetFit on the first 3 validation episodes, run one after
    another in this process alone (the validation cells ran beside other jobs, so their seconds are not)."""
    encoders = {"default": SentenceEncoder(), "minilm": SentenceEncoder(DEFAULT_ENCODER)}
    task, seconds = Task(VALIDATION_TASK, data), {}
    for seed in range(3):
        episode = validation_episode(task, data, 8, seed)
        for method in [f"default/tuned-{s}x{lr:g}" for s, lr in TUNING_GRID] + ["minilm/setfit"]:
            tuning = _tuning_of(method)
            result = run_method(method, encoders, {}, episode, task.label_texts, tuning)
            seconds.setdefault(method, []).append(result["seconds"])
            print(f"{method} set {seed}: {result['seconds']:.1f} s", flush=True)
    return {method: round(sum(v) / len(v), 2) for method, v in seconds.items()}


def _tuning_of(method: str) -> TuningArguments | None:
    if "/tuned-" not in method:
        return None
    steps, lr = method.split("tuned-")[1].removesuffix(":fixed").split("x")
    return TuningArguments(steps=int(steps), learning_rate=float(lr))


def validation_plan(args) -> list[tuple]:
    cells = [(None, VALIDATION_TASK, "default/adaptive", 8, seed) for seed in range(10)]
    cells += [
        (None, VALIDATION_TASK, f"default/tuned-{s}x{lr:g}", 8, seed) for s, lr in TUNING_GRID for seed in range(10)
    ]
    return cells + [(None, VALIDATION_TASK, "minilm/setfit", 8, seed) for seed in range(3)]


def run(args) -> None:
    data = str(data_root(args.data, required=False) or "")
    if not data:
        raise SystemExit(f"no data folder at {args.data!r}: this benchmark needs ../shared/data (--data).")
    cells = Cells(ROOT / "runs" / "families" / ("validation.jsonl" if args.validate else "cells.jsonl"))
    todo = [c for c in (validation_plan(args) if args.validate else plan(args)) if c[1:] not in cells.done]
    print(f"{len(todo)} cells to run, {len(cells.done)} done")
    encoders = {"minilm": SentenceEncoder(DEFAULT_ENCODER), "default": SentenceEncoder()}
    if args.fomaml:  # recipes/meta_train_for_tuning.py's output: the default meta-trained for the tuner
        encoders["fomaml"] = FewShotClassifier.from_pretrained(args.fomaml).encoder
    cache = {name: PrecomputedEncoder(encoder) for name, encoder in encoders.items()}
    tasks: dict = {}
    for index, (family, name, method, shot, seed) in enumerate(todo):
        task = tasks.get(name) or tasks.setdefault(name, Task(name, data))
        episode = validation_episode(task, data, shot, seed) if args.validate else task.episode(shot, seed)
        result = run_method(method, encoders, cache, episode, task.label_texts, _tuning_of(method))
        cells.add({"family": family, "task": name, "method": method, "shot": shot, "seed": seed, **result})
        print(f"[{index + 1}/{len(todo)}] {name} {method} K={shot} set {seed}: {result['accuracy']:.3f}", flush=True)
    write(cells, args)


def summarise(rows: list[dict], keys) -> dict:
    """Mean accuracy, macro-F1 and seconds of each group of rows, with the accuracy's 95% interval."""
    groups: dict = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    out = {}
    for group, members in sorted(groups.items(), key=lambda kv: str(kv[0])):
        accuracy, ci = mean_confidence_interval([m["accuracy"] for m in members])
        out[" | ".join(map(str, group))] = {
            "accuracy": round(accuracy, 4),
            "ci95": round(ci, 4),
            "macro_f1": round(sum(m["macro_f1"] for m in members) / len(members), 4),
            "seconds": round(sum(m["seconds"] for m in members) / len(members), 2),
            "n": len(members),
        }
    return out


def paired(rows: list[dict], method: str, baseline: str, shot: int, family: str) -> dict | None:
    """``method`` minus ``baseline`` on the family's (task, support set) pairs, with a 95% interval."""
    by = {(r["task"], r["seed"]): r["accuracy"] for r in rows if r["method"] == baseline and r["shot"] == shot}
    diffs = [
        r["accuracy"] - by[(r["task"], r["seed"])]
        for r in rows
        if r["method"] == method and r["shot"] == shot and r["family"] == family and (r["task"], r["seed"]) in by
    ]
    if not diffs:
        return None
    mean, ci = mean_confidence_interval(diffs)
    return {"difference": round(mean, 4), "ci95": round(ci, 4), "pairs": len(diffs)}


def mixture_check(rows: list[dict], encoder: str, shot: int = 8) -> dict:
    """Per task: the adaptive mixture against the better of label texts alone and examples alone (means over the
    support sets), in accuracy and in macro-F1 (the test splits of hate, offensive and stance are imbalanced)."""
    out = {}
    for task in sorted({r["task"] for r in rows}):
        mean = {}
        for method, k in (("names", 0), ("examples", shot), ("adaptive", shot)):
            mine = [r for r in rows if r["task"] == task and r["method"] == f"{encoder}/{method}" and r["shot"] == k]
            if mine:
                mean[method] = {m: sum(r[m] for r in mine) / len(mine) for m in ("accuracy", "macro_f1")}
        if len(mean) == 3:
            out[task] = {
                f"{method} {metric}": round(values[metric], 4) for method, values in mean.items() for metric in values
            }
            for metric in ("accuracy", "macro_f1"):
                better = max(mean["names"][metric], mean["examples"][metric])
                out[task][f"adaptive_minus_better {metric}"] = round(mean["adaptive"][metric] - better, 4)
    return out


def write(cells: Cells, args) -> None:
    rows = cells.rows
    meta = {
        "command": "python bench/families.py --data ../shared/data" + (" --validate" if args.validate else ""),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU",
        "date": datetime.date.today().isoformat(),
        "design": "docs/experiments/2026-12-04-families.md",
    }
    if args.validate:
        result = {**meta, "task": VALIDATION_TASK, "methods": summarise(rows, ("method",))}
        timing = ROOT / "runs" / "families" / "retime.json"
        if timing.exists():
            result["fit_seconds_alone"] = json.loads(timing.read_text())
        path = ROOT / "docs" / "results" / "families_validation.json"
    else:
        families = {}
        for family in FAMILIES:
            mine = [r for r in rows if r["family"] == family]
            methods = sorted({r["method"] for r in mine} - {"/".join(BASELINE)})
            families[family] = {
                "cells": summarise(mine, ("method", "shot")),
                "against_minilm_fixed": {
                    f"{m} | {k}": paired(rows, m, "/".join(BASELINE), k, family)
                    for m in methods
                    for k in SHOTS[1:]
                    if paired(rows, m, "/".join(BASELINE), k, family)
                },
            }
        fomaml = sorted({r["method"] for r in rows if r["method"].startswith("fomaml/")})
        starts = {  # the tuner from a FOMAML start against the tuner from the default, same support sets
            family: paired(rows, method, method.replace("fomaml/", "default/"), 8, family)
            for method in fomaml
            for family in FAMILIES
            if paired(rows, method, method.replace("fomaml/", "default/"), 8, family)
        }
        result = {
            **meta,
            "families": families,
            "mixture": {e: mixture_check(rows, e) for e in ("minilm", "default")},
            "fomaml_against_default_start": starts,
        }
        path = ROOT / "docs" / "results" / "families.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("FEWSHOT_NLP_DATA", str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--validate", action="store_true", help="the validation family: the tuner's settings")
    parser.add_argument("--setfit", action="store_true", help="add SetFit's cells (minutes each)")
    parser.add_argument("--report", action="store_true", help="write the JSON from the cells run so far")
    parser.add_argument("--retime", action="store_true", help="with --validate: fit seconds, one job at a time")
    parser.add_argument("--fomaml", help="a folder written by recipes/meta_train_for_tuning.py: its tuned cells")
    parser.add_argument("--tune-steps", type=int, default=TuningArguments.steps)
    parser.add_argument("--tune-lr", type=float, default=TuningArguments.learning_rate)
    args = parser.parse_args()
    if args.retime:
        data = str(data_root(args.data))
        timing = retime(args, data)
        (ROOT / "runs" / "families" / "retime.json").write_text(json.dumps(timing, indent=1))
        write(Cells(ROOT / "runs" / "families" / "validation.jsonl"), args)
    elif args.report:
        write(Cells(ROOT / "runs" / "families" / ("validation.jsonl" if args.validate else "cells.jsonl")), args)
    else:
        run(args)


if __name__ == "__main__":
    main()
