"""Task families beyond intents: label texts, the adaptive mixture and tuning at fit time, family by family.

    python bench/families.py --data ../shared/data --validate   # the validation family: chooses the tuner's settings
    python bench/families.py --data ../shared/data --validate --retime   # its fit times again, one at a time
    python bench/families.py --data ../shared/data              # every family (resumes where it stopped)
    python bench/families.py --data ../shared/data --setfit     # SetFit's cells at 8 and 16 (minutes each; not in CI)
    python bench/families.py --data ../shared/data --fomaml runs/tuner-fomaml   # the tuner from a FOMAML start
    python bench/families.py --data ../shared/data --lofo       # leave one family out of meta-training, score it
    python bench/families.py --report [--lofo]                  # the tables from what has run

Design, settings and readings: docs/experiments/2026-12-04-families.md. Each task is scored on at most
1,000 texts of its test split; five support sets per number of examples, drawn from its train split (dev, or
the unscored part of test, where it has none); a task of more than 20 classes is scored in 5-way episodes.
Every finished cell is appended to a cells file under docs/results/ (committed with the results), so an interrupted
run loses nothing. ``--lofo`` meta-trains recipes/configs/families_adapter.yaml once per family with that family's
corpora left out (resumable from its checkpoints in runs/families/), scores the family it never saw as the default
would ship (the rank-32 fit of the fine-tune) and writes docs/results/families_lofo.json. Otherwise it writes
docs/results/families.json (or families_validation.json).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from harness import RESULTS, SHIPPED_LORA, command, record

from fewshot_nlp import DEFAULT_ENCODER, FewShotClassifier, SentenceEncoder, TuningArguments, macro_f1
from fewshot_nlp.cli import load_training_arguments
from fewshot_nlp.encoders import resolve_encoder
from fewshot_nlp.evaluation import PrecomputedEncoder, mean_confidence_interval
from fewshot_nlp.meta import MetaTrainer, latest_checkpoint
from fewshot_nlp.tasks import CSV_CORPORA, data_root, load_task_set, parse_task_name
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
#: the corpora each family's leave-one-family-out run drops from FAMILIES_RECIPE: the family's own tasks, and for
#: intents every intent corpus, for tweet emotion GoEmotions too (its fold must not have seen emotion labels)
FAMILY_CORPORA = {
    "intents": ["clinc150", "banking77", "sgd", "snips"],
    "tweet sentiment": ["tweet_sentiment"],
    "tweet emotion": ["tweet_emotion", "goemotions"],
    "stance": STANCE,
    "hate + offensive": ["tweet_hate", "tweet_offensive"],
    "irony": ["tweet_irony"],
    "topics": ["ag_news"],
}
FAMILIES_RECIPE = ROOT / "recipes" / "configs" / "families_adapter.yaml"
DEFAULT_RECIPE = ROOT / "recipes" / "configs" / "default_adapter.yaml"  # today's default adapter's training
LOFO_RUNS = ROOT / "runs" / "families"
#: (method, shot) of each leave-one-family-out cell; every one is also run on the plain MiniLM and today's default
LOFO_FROZEN = [("names", 0), ("fixed", 8), ("fixed", 16)]
VALIDATION_TASK = "tweet_emoji"
SHOTS, SUPPORT_SETS, TEST_TEXTS, MAX_WAY, EPISODE_WAY = (0, 8, 16), 5, 1000, 20, 5
SETFIT_SHOTS = (8, 16)  # SetFit's pairs grow with the support set: no cells at 0
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
    """(task, method, shot, seed) of every cell this command asks for, cheapest first. With ``--setfit``, SetFit's
    cells at 8 and 16 examples per class and the cells they are paired with: the plain MiniLM's fixed mixture and
    ``fit(tune=True)`` as the package ships it."""
    tuned = f"tuned-{args.tune_steps}x{args.tune_lr:g}"
    cells = []
    for family, tasks in FAMILIES.items():
        for task in tasks:
            for seed in range(SUPPORT_SETS):
                if args.setfit:
                    methods = ("minilm/fixed", f"default/{tuned}:fixed", "minilm/setfit")
                    cells += [(family, task, method, shot, seed) for method in methods for shot in SETFIT_SHOTS]
                    continue
                cells += [(family, task, f"{e}/names", 0, seed) for e in ("minilm", "default")]
                for shot in SHOTS[1:]:
                    methods = [f"{e}/{m}" for e in ("minilm", "default") for m in ("examples", "fixed", "adaptive")]
                    cells += [(family, task, m, shot, seed) for m in [*methods, "default/logreg", f"default/{tuned}"]]
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
    cells = Cells(cells_path(args))
    todo = [c for c in (validation_plan(args) if args.validate else lofo_plan(args) if args.lofo else plan(args))]
    todo = [c for c in todo if c[1:] not in cells.done]
    print(f"{len(todo)} cells to run, {len(cells.done)} done")
    encoders = {"minilm": SentenceEncoder(DEFAULT_ENCODER), "default": SentenceEncoder()}
    if args.fomaml:  # recipes/meta_train_for_tuning.py's output: the default meta-trained for the tuner
        encoders["fomaml"] = FewShotClassifier.from_pretrained(args.fomaml).encoder
    cache = {name: PrecomputedEncoder(encoder) for name, encoder in encoders.items()}
    tasks: dict = {}
    for index, (family, name, method, shot, seed) in enumerate(todo):
        if method.startswith("lofo/"):  # the encoder that never saw this family
            encoders["lofo"] = lofo_encoder(family, data)
            if getattr(cache.get("lofo"), "encoder", None) is not encoders["lofo"]:
                cache["lofo"] = PrecomputedEncoder(encoders["lofo"])
        task = tasks.get(name) or tasks.setdefault(name, Task(name, data))
        episode = validation_episode(task, data, shot, seed) if args.validate else task.episode(shot, seed)
        result = run_method(method, encoders, cache, episode, task.label_texts, _tuning_of(method))
        cells.add({"family": family, "task": name, "method": method, "shot": shot, "seed": seed, **result})
        print(f"[{index + 1}/{len(todo)}] {name} {method} K={shot} set {seed}: {result['accuracy']:.3f}", flush=True)
    write_lofo(cells) if args.lofo else write(cells, args)


def cells_path(args) -> Path:
    return RESULTS / (
        "families_validation_cells.jsonl"
        if args.validate
        else "families_lofo_cells.jsonl"
        if args.lofo
        else "families_cells.jsonl"
    )


def lofo_plan(args) -> list[tuple]:
    """The held-out family's cells for each family's encoder, and the same cells on the plain MiniLM and today's
    default; the tuned cells last (a quarter of a minute each, against a second for the others)."""
    tuned = f"tuned-{args.tune_steps}x{args.tune_lr:g}:fixed"
    cells = []
    for family, tasks in FAMILIES.items():
        for task in tasks:
            for seed in range(SUPPORT_SETS):
                for method, shot in LOFO_FROZEN:
                    cells += [(family, task, f"{e}/{method}", shot, seed) for e in ("lofo", "minilm", "default")]
                cells.append((family, task, f"lofo/{tuned}", 8, seed))
    return sorted(cells, key=lambda c: "tuned" in c[2])


def lofo_arguments(family: str, data: str):
    """FAMILIES_RECIPE without ``family``'s corpora (FAMILY_CORPORA), in its own output folder."""
    recipe = load_training_arguments(str(FAMILIES_RECIPE), [])
    kept = [i for i, task in enumerate(recipe.tasks) if parse_task_name(task)[0] not in FAMILY_CORPORA[family]]
    val = [task for task in recipe.val_tasks if parse_task_name(task)[0] not in FAMILY_CORPORA[family]]
    overrides = [
        f"data={data}",
        f"output_dir={LOFO_RUNS / _slug(family)}",
        f"tasks={json.dumps([recipe.tasks[i] for i in kept])}",
        f"task_weights={json.dumps([recipe.task_weights[i] for i in kept])}",
        f"val_tasks={json.dumps(val)}",
    ]
    return load_training_arguments(str(FAMILIES_RECIPE), overrides)


def _slug(family: str) -> str:
    return "lofo-" + "-".join(family.replace("+", " ").split())


_LOFO_ENCODERS: dict = {}


def lofo_encoder(family: str, data: str) -> SentenceEncoder:
    """The encoder meta-trained without ``family``, as it would ship: trained (or resumed) when not on disk yet."""
    if family in _LOFO_ENCODERS:
        return _LOFO_ENCODERS[family]
    shipped = LOFO_RUNS / f"{_slug(family)}-lora-r32"
    if not (shipped / "config.json").is_file():
        args = lofo_arguments(family, data)
        output = Path(args.output_dir)
        if not (output / "training_history.json").is_file():
            resume = latest_checkpoint(output / "checkpoints") is not None
            print(f"meta-training without {family}{' (resumed)' if resume else ''}", flush=True)
            MetaTrainer(args).train(resume=resume)
        model = FewShotClassifier.from_pretrained(output)
        adapter = SentenceEncoder(DEFAULT_ENCODER)
        adapter.add_lora_from(model.encoder, SHIPPED_LORA)
        model.encoder = adapter
        model.save_pretrained(shipped)
    _LOFO_ENCODERS[family] = FewShotClassifier.from_pretrained(shipped).encoder
    return _LOFO_ENCODERS[family]


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
    if not rows:  # the cells of the first stages (2026-12-04) were not kept: their summaries stay as published
        raise SystemExit(f"no cells in {cells.path}: run the benchmark first; the published JSON is left as it is.")
    meta = {
        **record(run_command()),
        "design": "docs/experiments/2026-12-04-families.md",
    }
    if args.validate:
        result = {**meta, "task": VALIDATION_TASK, "methods": summarise(rows, ("method",))}
        timing = RESULTS / "families_retime.json"
        if timing.exists():
            result["fit_seconds_alone"] = json.loads(timing.read_text())
        path = RESULTS / "families_validation.json"
    else:  # laid over the published results: a run of some cells (--setfit, --fomaml) adds to them, drops none
        path = RESULTS / "families.json"
        earlier = json.loads(path.read_text()) if path.exists() else {}
        families = {}
        for family in FAMILIES:
            mine = [r for r in rows if r["family"] == family]
            methods = sorted({r["method"] for r in mine} - {"/".join(BASELINE)})
            before = earlier.get("families", {}).get(family, {})
            against = {f"{m} | {k}": paired(rows, m, "/".join(BASELINE), k, family) for m in methods for k in SHOTS[1:]}
            setfit = {
                f"{m} | {k}": paired(rows, m, "minilm/setfit", k, family)
                for m in methods
                if "tuned" in m
                for k in SETFIT_SHOTS
            }
            families[family] = {
                "cells": {**before.get("cells", {}), **summarise(mine, ("method", "shot"))},
                "against_minilm_fixed": {**before.get("against_minilm_fixed", {}), **_present(against)},
                "against_setfit": {**before.get("against_setfit", {}), **_present(setfit)},
            }
        fomaml = sorted({r["method"] for r in rows if r["method"].startswith("fomaml/")})
        starts = {  # the tuner from a FOMAML start against the tuner from the default, same support sets
            family: paired(rows, method, method.replace("fomaml/", "default/"), 8, family)
            for method in fomaml
            for family in FAMILIES
        }
        runs = earlier.get("runs") or ([{k: earlier[k] for k in ("command", "machine", "date")}] if earlier else [])
        result = {
            **meta,
            "runs": [*runs, {k: meta[k] for k in ("command", "machine", "date")}],
            "families": families,
            "mixture": {
                e: mixture_check(rows, e) or earlier.get("mixture", {}).get(e, {}) for e in ("minilm", "default")
            },
            "fomaml_against_default_start": _present(starts) or earlier.get("fomaml_against_default_start", {}),
        }
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")


def run_command() -> str:
    """The command that runs (or resumes) the cells written: ``--report`` only rewrites their tables."""
    return command().replace(" --report", "")


def _present(differences: dict) -> dict:
    return {key: value for key, value in differences.items() if value}


def write_lofo(cells: Cells) -> None:
    """docs/results/families_lofo.json: per family, its cells and the paired differences of the encoder that never
    saw it against the plain MiniLM and today's default (the shipping rule reads the first: no mean below zero)."""
    rows, path = cells.rows, RESULTS / "families_lofo.json"
    earlier = json.loads(path.read_text()) if path.exists() else {}
    families, training = {}, dict(earlier.get("training", {}))
    for family in FAMILIES:
        mine = [r for r in rows if r["family"] == family]
        if not mine:
            continue
        differences = {
            f"lofo - {other} | {method} | {shot}": paired(rows, f"lofo/{method}", f"{other}/{method}", shot, family)
            for method, shot in LOFO_FROZEN
            for other in ("minilm", "default")
        }
        complete = len(FAMILIES[family]) * SUPPORT_SETS  # the tuned cells run last: reported once all have run
        for tuned in sorted({r["method"] for r in mine if "tuned" in r["method"]}):
            if sum(r["method"] == tuned for r in mine) < complete:
                continue
            differences |= {
                f"{tuned} - {base} | 8": paired(rows, tuned, base, 8, family) for base in ("minilm/fixed", "lofo/fixed")
            }
        families[family] = {
            "left_out": FAMILY_CORPORA[family],
            "cells": summarise(mine, ("method", "shot")),
            "paired": _present(differences),
        }
        run = LOFO_RUNS / _slug(family) / "config.json"  # the trained run's record, while it is on this disk
        if run.is_file():
            meta = json.loads(run.read_text()).get("meta_training") or {}
            training[family] = {
                k: meta.get(k) for k in ("steps_run", "best_step", "best_val_accuracy", "training_seconds")
            }
    below = [
        f"{family}: {key}"
        for family, result in families.items()
        for key, d in result["paired"].items()
        if key.startswith("lofo - minilm") and d["difference"] < 0
    ]
    # the same rule read on today's default, on the families it never saw either: is the rule one it would pass?
    default_unseen = {family: default_never_saw(family, rows) for family in families_unseen_by_default()}
    result = {
        **record(run_command()),
        "design": "docs/experiments/2026-12-04-families.md",
        "recipe": str(FAMILIES_RECIPE.relative_to(ROOT)),
        "scored_as": f"the rank-{SHIPPED_LORA['r']} fit of each fold's fine-tune, as the default ships",
        "families": families,
        "training": training,
        "frozen_cells_below_plain_minilm": below,
        "default_on_families_it_never_saw": {
            "families": sorted(default_unseen),
            "paired": default_unseen,
            "frozen_cells_below_plain_minilm": [
                f"{family}: {key}"
                for family, d in default_unseen.items()
                for key, v in d.items()
                if v["difference"] < 0
            ],
        },
    }
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")


def families_unseen_by_default() -> list[str]:
    """The families none of whose corpora today's default adapter was trained on (DEFAULT_RECIPE)."""
    trained = {parse_task_name(task)[0] for task in load_training_arguments(str(DEFAULT_RECIPE), []).tasks}
    return [family for family in FAMILIES if not trained & set(FAMILY_CORPORA[family])]


def default_never_saw(family: str, rows: list[dict]) -> dict:
    """Today's default minus the plain MiniLM on each frozen cell of a family it never saw, paired."""
    differences = {
        f"default - minilm | {method} | {shot}": paired(rows, f"default/{method}", f"minilm/{method}", shot, family)
        for method, shot in LOFO_FROZEN
    }
    return _present(differences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("FEWSHOT_NLP_DATA", str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--validate", action="store_true", help="the validation family: the tuner's settings")
    parser.add_argument("--setfit", action="store_true", help="SetFit's cells at 8 and 16 per class and their pairs")
    parser.add_argument("--report", action="store_true", help="write the JSON from the cells run so far")
    parser.add_argument("--retime", action="store_true", help="with --validate: fit seconds, one job at a time")
    parser.add_argument("--lofo", action="store_true", help="leave each family out of meta-training and score it")
    parser.add_argument("--fomaml", help="a folder written by recipes/meta_train_for_tuning.py: its tuned cells")
    parser.add_argument("--tune-steps", type=int, default=TuningArguments.steps)
    parser.add_argument("--tune-lr", type=float, default=TuningArguments.learning_rate)
    args = parser.parse_args()
    if args.retime:
        data = str(data_root(args.data))
        timing = retime(args, data)
        (RESULTS / "families_retime.json").write_text(json.dumps(timing, indent=1) + "\n")
        write(Cells(cells_path(args)), args)
    elif args.report:
        write_lofo(Cells(cells_path(args))) if args.lofo else write(Cells(cells_path(args)), args)
    else:
        run(args)


if __name__ == "__main__":
    main()
