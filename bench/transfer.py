"""Leave-one-corpus-out transfer: does meta-training help on an intent set it never saw?

    python bench/transfer.py --data ../shared/data                      # the whole table, resumable
    python bench/transfer.py --data ../shared/data --held-out banking77 --variant lora-qv-r8
    python bench/transfer.py --report                                    # tables from finished runs
    python bench/transfer.py --data ../shared/data --variant centring    # a trained run scored centred

For each held-out corpus X (BANKING77, CLINC150, SNIPS, SGD) and each variant, the recipe
``recipes/configs/transfer_protonet.yaml`` is trained on every other corpus (meta-val classes from those only), then
X's test split is scored with all its classes against the plain frozen MiniLM on the same episodes: zero-shot with
label texts (``fewshot_nlp.labels.label_text``), 5-way 1-shot and 5-shot with the mixture (600 episodes each),
all-way 5-shot with prototypes and with the mixture (50). Every cell is the paired difference (adapted - frozen)
with its 95% Student-t interval. Extracted variants (``-lora-r32``) train nothing: a fine-tune's weight change fitted
as the shippable LoRA (truncated SVD; ``-xS`` scales it, soups average several fine-tunes). Self-trained variants
(``-st``) train a start on X's unlabelled texts; ``-stx`` once per all-way episode, its support set as examples.
``--variant centring`` scores ``CENTRED_RUN`` and the frozen MiniLM with every utterance embedding minus the mean of
those unlabelled texts (label embeddings as they are, or minus their own mean: "both sides"); it writes
docs/results/transfer_centring.json.

Each (variant, X) run lives in ``runs/transfer/<variant>-<X>/``: a stopped training resumes from its checkpoint, and
a finished evaluation (``transfer_eval.json``; with ``--new-classes``, ``transfer_eval_new_classes.json``) is not
redone. Writes docs/results/transfer.json and the ``transfer`` section of docs/experiments/2026-12-01-transfer.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from harness import DOCS, RESULTS, ROOT, SHIPPED_LORA, add_data_option, command, interval, record, write_section

from fewshot_nlp import (
    DEFAULT_ENCODER,
    EpisodeSampler,
    FewShotClassifier,
    SelfTrainingArguments,
    SentenceEncoder,
    __version__,
)
from fewshot_nlp.cli import load_training_arguments
from fewshot_nlp.encoders import DEFAULT_ADAPTER_DIR
from fewshot_nlp.evaluation import PrecomputedEncoder, evaluate_episodes
from fewshot_nlp.meta import MetaTrainer, latest_checkpoint
from fewshot_nlp.meta.checkpoint import LATEST
from fewshot_nlp.self_training import pseudo_label
from fewshot_nlp.tasks import GROUPED_VIEWS, load_task_set, parse_task_name
from fewshot_nlp.tasks.bible import TARGET_FILE, read_bible_file

RECIPE = ROOT / "recipes" / "configs" / "transfer_protonet.yaml"
HELD_OUT = ["banking77", "clinc150", "snips", "sgd"]
# Every variant below was declared (what it asks, on which fold, the rule that judges it) before it ran; the
# declarations are in docs/experiments/2026-12-01-transfer.md ("The variants as bench/transfer.py declared them").
FULL = ["finetune=full", "lora={}", "outer_lr=2e-5"]  # every weight trained at Adam 2e-5
HARD = [*FULL, "hard_fraction=0.5"]  # ... half of the episodes a class and its nearest classes by label text
#: levers on full-hard-cloze-all (sessions nine to thirteen), each on the CLINC150 fold with seeds 0 and 1
ALL_CLASS_LEVERS = {
    "-corpus": ["cloze_per_corpus=true"],
    "-phrases": ["cloze_phrases=true"],
    "-sym": ["symmetric_weight=1.0"],
    "-symfew": ["symmetric_weight=1.0", "symmetric_zero_shot=false"],
    "-steps400": ["steps=400"],
    "-steps600": ["steps=600"],
    "-steps100": ["steps=100"],
    "-steps150": ["steps=150"],
    "-kjv": [],  # the English New Testament's verses join the cloze pool (kjv_verses)
    "-dropout": ["dropout=true"],
    "-anchor": ["anchor_weight=1.0"],
    "-mb2": ["meta_batch_size=2"],
    **{f"-ic{kept}": [] for kept in range(3)},  # 0, 1 or 2 of the fold's 3 intent corpora kept (DROPPED)
    "-views": [],  # the coarser views of the fold's corpora as corpora of their own (VIEWS)
    "-splits": [],  # the training corpora's test splits joined to their train splits (SPLITS_JOINED)
    "-tweets": [],  # the candidate recipe's tweet tasks join the corpora (FAMILIES_RECIPE; declared in the families log)
}
SPLITS_JOINED = {f"{c}:train": f"{c}:train+test" for c in ("clinc150", "banking77", "sgd", "snips", "goemotions")}
#: grouped views (fewshot_nlp.tasks.GROUPED_VIEWS), weighted as the recipe weights corpora (square root of the classes)
VIEWS = {
    "clinc150-domains:train": 3.2,
    "sgd-domains:train": 4.0,
    "sgd-actions:train": 2.6,
    "goemotions-ekman:train": 2.6,
}
#: the candidate default over every family: the tweet tasks its recipe adds to the default's, with their weights
FAMILIES_RECIPE = ROOT / "recipes" / "configs" / "families_adapter.yaml"
#: runs that resume a shorter run's last checkpoint: the same recipe, so the longer run exactly, for the added steps
CONTINUES = {
    f"full-hard-cloze-all-steps{longer}{seed}": f"full-hard-cloze-all{shorter}{seed}"
    for longer, shorter in ((400, ""), (600, "-steps400"), (150, "-steps100"))
    for seed in ("", "-seed1")
}
#: trained variants: overrides of the recipe (the first is the recipe as written)
VARIANTS = {
    "lora-all-r16": [],
    "lora-qv-r8": ["lora={r: 8, lora_alpha: 16}"],
    "lora-all-r4": ["lora={r: 4, lora_alpha: 8, target_modules: all-linear}"],
    "full": FULL,
    "lora-all-r16-anchor": ["anchor_weight=1.0"],
    "lora-all-r16-lr1e-4": ["outer_lr=0.0001"],  # exploratory: chosen after the BANKING77 capacity cells
    "full-500": [*FULL, "steps=500", "early_stopping_patience=null"],
    "full-lr5e-5": ["finetune=full", "lora={}", "outer_lr=5e-5"],
    "full-hard": HARD,
    "full-seed1": [*FULL, "seed=1"],
    "full-hard-seed1": [*HARD, "seed=1"],
    "full-hard-zs0.75": [*HARD, "zero_shot_fraction=0.75"],
    "full-hard-intents": HARD,
    "full-hard-intents-seed1": [*HARD, "seed=1"],
    **{
        f"full-hard-{name}{suffix}": [*HARD, override, *seed]
        for name, override in (("cloze", "cloze_fraction=0.3"), ("way64", "way=64"))
        for suffix, seed in (("", []), ("-seed1", ["seed=1"]))
    },
    "full-hard-cloze0.5": [*HARD, "cloze_fraction=0.5"],
    "full-hard-cloze0.5-seed1": [*HARD, "cloze_fraction=0.5", "seed=1"],
    "full-hard-clozehard": [*HARD, "cloze_fraction=0.3", "hard_cloze=true"],
    "full-hard-clozehard-seed1": [*HARD, "cloze_fraction=0.3", "hard_cloze=true", "seed=1"],
    # the default's recipe minus the held-out corpus (ALL_CLASSES), and the same on the held-out corpus alone (OWN_CORPUS)
    "full-hard-cloze-all": [*HARD, "cloze_fraction=0.3"],
    "full-hard-cloze-all-seed1": [*HARD, "cloze_fraction=0.3", "seed=1"],
    "full-hard-cloze-all-seed2": [*HARD, "cloze_fraction=0.3", "seed=2"],
    "full-hard-cloze-own": [*HARD, "cloze_fraction=0.3"],
    "full-hard-cloze-own-new": [*HARD, "cloze_fraction=0.3"],
    **{
        f"full-hard-cloze-all{lever}{suffix}": [*HARD, "cloze_fraction=0.3", *overrides, *seed]
        for lever, overrides in ALL_CLASS_LEVERS.items()
        for suffix, seed in (("", []), ("-seed1", ["seed=1"]))
    },
}
DEV_SPLITS = ["clinc150:val", "sgd:dev", "goemotions:dev"]  # the default's validation: its corpora's dev splits
#: variants trained on every class of their corpora, validated on those corpora's dev splits (as the default is)
ALL_CLASSES = {v for v in VARIANTS if v.startswith("full-hard-cloze-all")}
#: class fractions (train, val, test) of the held-out corpus for the variants trained on its own train split alone
#: (no validation: the last step kept): every class, or 70% of them ("-own-new", scored on the other 30%)
NEW_CLASS_FRACTIONS = [0.7, 0.0, 0.3]
OWN_CORPUS = {"full-hard-cloze-own": [1.0, 0.0, 0.0], "full-hard-cloze-own-new": NEW_CLASS_FRACTIONS}
#: corpora a variant leaves out of training besides the held-out one (-icN: the CLINC150 fold's intent corpora)
DROPPED = {variant: ("goemotions", "fewrel", "ag_news") for variant in VARIANTS if "-intents" in variant}
INTENTS_ADDED = ("banking77", "sgd", "snips")
DROPPED |= {
    variant: INTENTS_ADDED[kept:]
    for kept in range(len(INTENTS_ADDED))
    for variant in VARIANTS
    if variant.startswith(f"full-hard-cloze-all-ic{kept}")
}
#: adapters extracted from trained variants, no training of their own: the rank-r truncated SVD of each linear layer's
#: weight change (sources, averaged when several: a soup; LoRA settings; strength: the factor on the fitted change)
EXTRACTED = {f"{source}-lora-r32": ((source,), SHIPPED_LORA, 1.0) for source in VARIANTS if source.startswith("full")}
EXTRACTED |= {f"full-lora-r32-x{s}": (("full",), SHIPPED_LORA, s) for s in (0.5, 0.75, 1.5, 2.0)}
EXTRACTED |= {
    "soup2-lora-r32": (("full", "full-seed1"), SHIPPED_LORA, 1.0),
    "soup4-lora-r32": (("full", "full-seed1", "full-hard", "full-hard-seed1"), SHIPPED_LORA, 1.0),
}
#: the package's default adapter as it ships (trained on every corpus, the held-out one included: not transfer)
SHIPPED_DEFAULT = "shipped-default"
#: self-trained variants: (start: None for the frozen MiniLM, else a variant above; SelfTrainingArguments overrides),
#: self-trained (``FewShotClassifier.self_train``) on the held-out corpus' unlabelled texts with its label texts
SELF_TRAINED = {
    f"{name}-st{suffix}": (start, overrides)
    for name, start in (("frozen", None), ("full-hard-lora-r32", "full-hard-lora-r32"))
    for suffix, overrides in (("", {}), ("-seed1", {"seed": 1}))
}
SELF_TRAINED |= {
    f"frozen-st-cloze{suffix}": (None, {"cloze_fraction": 0.3, **overrides})
    for suffix, overrides in (("", {}), ("-seed1", {"seed": 1}))
}
SELF_TRAINED["full-hard-cloze-lora-r32-st"] = ("full-hard-cloze-lora-r32", {})
#: self-training with a support set: per episode of the first EXAMPLE_EPISODES of the all-way 5-shot stream, the start
#: of an -st variant self-trained with the episode's support set as examples, paired with the frozen MiniLM, the start,
#: and the -st variant (its support set added after). {variant: -st variant}
WITH_EXAMPLES = {"full-hard-lora-r32-stx": "full-hard-lora-r32-st", "frozen-stx": "frozen-st"}
EXAMPLE_EPISODES = 5  # each one a self-training run (1.5 to 8 minutes on 2 cores)
EXAMPLE_SETTING = "all-way 5-shot, mixture"
SUPPORT_SET = "self-trained with the support set"  # the name of those runs' scores
#: where the unlabelled texts come from: the train split; SGD's test services are absent from its train split, so
#: there the test texts themselves (transductive; labels never read)
UNLABELLED_SPLIT = {"banking77": "train", "clinc150": "train", "snips": "train", "sgd": "test"}
UNLABELLED_TEXTS = 4000  # a random sample of that split (seed 0)
#: centring (a way to score a run, not a training): the reported recipe's run kept on disk, as shipped, with every
#: utterance embedding minus the mean of the task's unlabelled texts (``--variant centring``)
CENTRING, CENTRED_RUN = "centring", "full-hard-cloze-all-seed2-lora-r32"
#: (name, way, shot, episodes, use the support set, add label texts); episodes are decided here,
#: before any result: 600 at 5-way, 50 all-way, as the issue asks
SETTINGS = [
    ("zero-shot, label texts", "all", 5, 50, False, True),
    ("5-way 1-shot, mixture", 5, 1, 600, True, True),
    ("5-way 5-shot, mixture", 5, 5, 600, True, True),
    ("all-way 5-shot, prototypes", "all", 5, 50, True, False),
    ("all-way 5-shot, mixture", "all", 5, 50, True, True),
]
QUERY = 15
EVAL, NEW_CLASSES_EVAL = "transfer_eval.json", "transfer_eval_new_classes.json"  # a run's scores, in its folder
EPISODE_SEED = 2026  # the test episodes' stream, the same for every variant and the frozen encoder


def training_arguments(variant: str, held_out: str, data: str, runs: Path):
    """The recipe with ``held_out`` removed from its corpora, and the variant's overrides."""
    recipe = load_training_arguments(str(RECIPE), [])
    dropped = {held_out, *DROPPED.get(variant, ())}
    keep = [i for i, task in enumerate(recipe.tasks) if parse_task_name(task)[0] not in dropped]
    tasks = [recipe.tasks[i] for i in keep]
    weights = [recipe.task_weights[i] for i in keep]
    if "-splits" in variant:
        tasks = [SPLITS_JOINED.get(task, task) for task in tasks]
    if "-tweets" in variant:
        tweets = load_training_arguments(str(FAMILIES_RECIPE), [])
        added = [(t, w) for t, w in zip(tweets.tasks, tweets.task_weights) if t.startswith("tweet_")]
        tasks, weights = [*tasks, *(t for t, _ in added)], [*weights, *(w for _, w in added)]
    if "-views" in variant:
        views = {view: w for view, w in VIEWS.items() if GROUPED_VIEWS[parse_task_name(view)[0]] not in dropped}
        tasks, weights = [*tasks, *views], [*weights, *views.values()]
    classes = []
    if variant in OWN_CORPUS:
        tasks, weights = [f"{held_out}:train"], [1.0]
        classes = [f"class_fractions={OWN_CORPUS[variant]}", "val_tasks=[]"]
    elif variant in ALL_CLASSES:
        dev = [t for t in DEV_SPLITS if parse_task_name(t)[0] not in dropped]
        classes = ["class_fractions=[1.0, 0.0, 0.0]", f"val_tasks={json.dumps(dev)}"]
    overrides = [
        f"data={data}",
        f"output_dir={runs / f'{variant}-{held_out}'}",
        f"tasks={json.dumps(tasks)}",
        f"task_weights={json.dumps(weights)}",
        *classes,
        *VARIANTS[variant],
        *([f"cloze_files={json.dumps([str(kjv_verses(data, runs))])}"] if "-kjv" in variant else []),
    ]
    return load_training_arguments(str(RECIPE), overrides)


def kjv_verses(data: str, runs: Path) -> Path:
    """The English New Testament's verses as a text file, one per line (generated, never committed)."""
    path = runs / "kjv-verses.txt"
    if not path.is_file():
        verses = read_bible_file(Path(data) / "bible" / TARGET_FILE).values()
        runs.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(verses) + "\n", encoding="utf-8")  # the reader collapsed their whitespace
    return path


def train(variant: str, held_out: str, data: str, runs: Path) -> Path:
    args = training_arguments(variant, held_out, data, runs)
    output = Path(args.output_dir)
    if (output / "training_history.json").is_file():
        return output
    if variant in CONTINUES and latest_checkpoint(output / "checkpoints") is None:
        start = latest_checkpoint(train(CONTINUES[variant], held_out, data, runs) / "checkpoints")
        shutil.copytree(start, output / "checkpoints" / start.name)
        (output / "checkpoints" / LATEST).write_text(start.name)
    resume = latest_checkpoint(output / "checkpoints") is not None
    print(f"training {variant} for the {held_out} fold{' (resumed)' if resume else ''}", flush=True)
    return MetaTrainer(args).train(resume=resume)


def extract(variant: str, held_out: str, data: str, runs: Path) -> Path:
    """The extracted adapter of ``variant`` (see EXTRACTED), saved as a classifier folder."""
    output = runs / f"{variant}-{held_out}"
    if (output / "config.json").is_file():
        return output
    sources, settings, strength = EXTRACTED[variant]
    models = [FewShotClassifier.from_pretrained(train(s, held_out, data, runs)) for s in sources]
    model, tuned = models[0], models[0].encoder
    if len(models) > 1:  # a soup: the fine-tunes' uniform weight average
        weights = [m.encoder.transformer.state_dict() for m in models]
        tuned.transformer.load_state_dict({k: sum(w[k] for w in weights) / len(weights) for k in weights[0]})
    adapter = SentenceEncoder(model.encoder.name_or_path)
    adapter.add_lora_from(tuned, settings, strength)
    model.encoder = adapter
    model.save_pretrained(output)
    return output


def shipped_default(held_out: str, data: str, runs: Path) -> Path:
    """The packaged default adapter as a classifier folder (the held-out corpus' label texts as its labels),
    with its training record as the meta-training record."""
    output = runs / f"{SHIPPED_DEFAULT}-{held_out}"
    if not (output / "config.json").is_file():
        task_set = load_task_set(f"{held_out}:test", data)
        model = FewShotClassifier(SentenceEncoder(), {c: task_set.label_text(c) for c in task_set.classes})
        model.meta_training = json.loads((DEFAULT_ADAPTER_DIR / "training_record.json").read_text())
        model.save_pretrained(output)
    return output


def unlabelled_texts(held_out: str, data: str) -> tuple[list[str], dict]:
    """The sample of the held-out corpus' texts that self-training sees, and their true labels (for the record)."""
    pool = load_task_set(f"{held_out}:{UNLABELLED_SPLIT[held_out]}", data)
    truth = {t: c for c in pool.classes for t in pool.by_class[c]}
    texts = sorted(truth)
    return [texts[i] for i in np.random.default_rng(0).permutation(len(texts))[:UNLABELLED_TEXTS]], truth


def start_classifier(start: str | None, held_out: str, data: str, runs: Path, labels: dict) -> FewShotClassifier:
    """A self-training start with ``labels``: None is the frozen MiniLM, else a variant (trained if need be)."""
    if start is None:
        return FewShotClassifier(SentenceEncoder(DEFAULT_ENCODER), labels)
    build = extract if start in EXTRACTED else train
    return FewShotClassifier.from_pretrained(build(start, held_out, data, runs), labels)


def self_trained(variant: str, held_out: str, data: str, runs: Path) -> Path:
    """The self-trained variant (see SELF_TRAINED), saved as a classifier folder; resumes a stopped run."""
    output = runs / f"{variant}-{held_out}"
    if (output / "config.json").is_file():
        return output
    start, overrides = SELF_TRAINED[variant]
    settings = SelfTrainingArguments(**overrides)
    test = load_task_set(f"{held_out}:test", data)
    labels = {c: test.label_text(c) for c in test.classes}
    model = start_classifier(start, held_out, data, runs, labels)
    texts, truth = unlabelled_texts(held_out, data)
    kept, guessed = pseudo_label(model, texts, settings.per_class)
    print(f"self-training {variant} on {len(texts)} unlabelled {held_out} texts", flush=True)
    adapted = model.self_train(texts, settings, output_dir=output / "training")
    adapted.self_training |= {
        "start": start or "frozen",
        "unlabelled_split": UNLABELLED_SPLIT[held_out],
        "pseudo_label_precision": round(float(np.mean([truth[t] == y for t, y in zip(kept, guessed)])), 4),
    }
    adapted.save_pretrained(output)
    return output


def with_examples(variant: str, held_out: str, data: str, runs: Path) -> dict:
    """Scores of the WITH_EXAMPLES variant (per-episode self-training runs resume; finished episodes are kept)."""
    output = runs / f"{variant}-{held_out}"
    done = output / EVAL
    if done.is_file():
        return json.loads(done.read_text())
    zero_shot_variant = WITH_EXAMPLES[variant]
    start, overrides = SELF_TRAINED[zero_shot_variant]
    settings = SelfTrainingArguments(**overrides)
    test = load_task_set(f"{held_out}:test", data)
    labels = {c: test.label_text(c) for c in test.classes}
    episodes = episodes_for(test)[EXAMPLE_SETTING][:EXAMPLE_EPISODES]

    def make(encoder, episode):
        return FewShotClassifier(encoder, {c: labels[c] for c in episode.classes})

    def mixture(encoder) -> list[float]:
        return evaluate_episodes(make, episodes, encoder, progress=False).per_episode

    model = start_classifier(start, held_out, data, runs, labels)  # self_train copies it: one serves every episode
    frozen = mixture(SentenceEncoder(DEFAULT_ENCODER))
    scores = {
        "frozen": frozen,
        "start": frozen if start is None else mixture(model.encoder),
        "self-trained from label texts": mixture(
            FewShotClassifier.from_pretrained(self_trained(zero_shot_variant, held_out, data, runs)).encoder
        ),
    }
    texts, truth = unlabelled_texts(held_out, data)
    start_embeddings = None  # the start's embeddings of the unlabelled texts, for every episode's first guesses
    runs_record = []
    for i, episode in enumerate(episodes):
        folder = output / f"episode{i}"
        record = folder / "score.json"
        if not record.is_file():
            examples, known = (episode.support_texts, episode.support_labels), set(episode.support_texts)
            if start_embeddings is None:
                start_embeddings = PrecomputedEncoder(model.encoder, texts)
            guesser = FewShotClassifier(start_embeddings, labels).fit(*examples)  # the first round's guesses
            kept, guessed = pseudo_label(guesser, [t for t in texts if t not in known], settings.per_class)
            print(f"self-training {variant} on {held_out}, episode {i + 1} of {len(episodes)}", flush=True)
            adapted = model.self_train(texts, settings, output_dir=folder / "training", examples=examples)
            score = {
                "accuracy": adapted.score(episode.query_texts, episode.query_labels),
                "pseudo_label_precision": float(np.mean([truth[t] == y for t, y in zip(kept, guessed)])),
                "seconds": adapted.self_training["seconds"],
            }
            record.write_text(json.dumps(score))
        runs_record.append(json.loads(record.read_text()))
    scores[SUPPORT_SET] = [r["accuracy"] for r in runs_record]
    pairs = [(SUPPORT_SET, "frozen"), (SUPPORT_SET, "start"), (SUPPORT_SET, "self-trained from label texts")]
    pairs += [("self-trained from label texts", "frozen"), ("start", "frozen")]
    result = {
        "held_out": held_out,
        "classes": len(test.classes),
        "setting": EXAMPLE_SETTING,
        "episodes": len(episodes),
        "start": start or "frozen",
        "unlabelled_split": UNLABELLED_SPLIT[held_out],
        "self_training": dataclasses.asdict(settings),
        "pseudo_label_precision": [round(r["pseudo_label_precision"], 4) for r in runs_record],
        "seconds": [r["seconds"] for r in runs_record],
        "accuracy": {name: interval(s) for name, s in scores.items()},
        "per_episode": {name: [round(x, 4) for x in s] for name, s in scores.items()},
        "difference": {f"{a} - {b}": interval(x - y for x, y in zip(scores[a], scores[b])) for a, b in pairs},
    }
    done.write_text(json.dumps(result, indent=2))
    return result


def episodes_for(task_set) -> dict:
    return {
        name: EpisodeSampler(task_set, way, shot, QUERY, seed=EPISODE_SEED).sample(n)
        for name, way, shot, n, _, _ in SETTINGS
    }


def accuracies(encoder, task_set, episodes: dict) -> dict:
    """Per-episode accuracy of each setting with one encoder (each text embedded once)."""
    labels = {c: task_set.label_text(c) for c in task_set.classes}
    texts = [t for eps in episodes.values() for e in eps for t in (*e.support_texts, *e.query_texts)]
    started = time.perf_counter()
    cached = PrecomputedEncoder(encoder, [*labels.values(), *texts])
    seconds = time.perf_counter() - started
    results = {"encode_texts_per_second": round(len(cached._rows) / seconds, 1)}
    for name, _, _, _, use_support, with_labels in SETTINGS:

        def make(enc, episode, with_labels=with_labels):
            return FewShotClassifier(enc, {c: labels[c] for c in episode.classes} if with_labels else None)

        result = evaluate_episodes(make, episodes[name], cached, use_support=use_support, progress=False)
        results[name] = result.per_episode
    return results


def new_classes(held_out: str, data: str) -> list[str]:
    """The held-out corpus' classes that an ``-own-new`` variant never trains on (the test part of its class split)."""
    train = load_task_set(f"{held_out}:train", data)
    return train.split_classes(tuple(NEW_CLASS_FRACTIONS), seed=0)["test"]


def new_classes_only(variant: str) -> bool:
    """Whether a variant trained on some of the held-out corpus' classes, so that only the others may score it."""
    source = EXTRACTED[variant][0][0] if variant in EXTRACTED else variant
    return OWN_CORPUS.get(source) == NEW_CLASS_FRACTIONS


def evaluate(model_dir: Path, held_out: str, data: str, runs: Path, new_only: bool = False) -> dict:
    """Scores of one trained model on ``held_out`` (all its classes, or its ``new_classes`` only), paired with the
    frozen encoder's (cached per corpus and class set)."""
    done = model_dir / (NEW_CLASSES_EVAL if new_only else EVAL)
    if done.is_file():
        return json.loads(done.read_text())
    task_set = load_task_set(f"{held_out}:test", data)
    if new_only:
        task_set = task_set.subset(new_classes(held_out, data))
    episodes = episodes_for(task_set)
    frozen_file = runs / f"frozen-{held_out}{'-new-classes' if new_only else ''}.json"
    if frozen_file.is_file():
        frozen = json.loads(frozen_file.read_text())
    else:
        frozen = accuracies(SentenceEncoder(DEFAULT_ENCODER), task_set, episodes)
        frozen_file.write_text(json.dumps(frozen))
    model = FewShotClassifier.from_pretrained(model_dir)
    adapted = accuracies(model.encoder, task_set, episodes)
    cells = []
    for name, way, _, n, _, _ in SETTINGS:
        cell = {"setting": name, "way": len(task_set.classes) if way == "all" else way, "episodes": n}
        differences = [a - f for a, f in zip(adapted[name], frozen[name])]
        for key, values in (("frozen", frozen[name]), ("adapted", adapted[name]), ("difference", differences)):
            cell[key], cell[f"{key}_ci95"] = interval(values)
        cells.append(cell)
    meta = model.meta_training
    result = {
        "held_out": held_out,
        "classes": len(task_set.classes),
        "test_texts": len(task_set),
        "training": model.self_training
        or {"corpora": meta["arguments"]["tasks"]}
        | {key: meta[key] for key in ("steps_run", "best_step", "best_val_accuracy")}
        | {"seconds": meta["training_seconds"], "texts_per_second": meta["training_texts_per_second"]},
        "encode_texts_per_second": {
            "frozen": frozen["encode_texts_per_second"],
            "adapted": adapted["encode_texts_per_second"],
        },
        "cells": cells,
    }
    done.write_text(json.dumps(result, indent=2))
    return result


def finished(runs: Path, variants, earlier: dict, name: str = EVAL) -> dict:
    """{variant: {held_out: evaluation}} of the variants: each finished in ``runs`` (evaluation file ``name``), else
    as in ``earlier``."""
    found = {}
    for variant in variants:
        for held_out in HELD_OUT:
            path = runs / f"{variant}-{held_out}" / name
            if path.is_file():
                found.setdefault(variant, {})[held_out] = json.loads(path.read_text())
            elif held_out in earlier.get(variant, {}):
                found.setdefault(variant, {})[held_out] = earlier[variant][held_out]
    return found


def report(runs: Path, command_line: str) -> dict:
    """docs/results/transfer.json and the docs section, from every finished evaluation.

    Runs are not committed, so the results already published are kept and the finished
    evaluations found in ``runs`` are laid over them: a fresh checkout adds cells, never drops any.
    """
    published = RESULTS / "transfer.json"
    earlier = json.loads(published.read_text()) if published.is_file() else {}
    scored = [*VARIANTS, *EXTRACTED, *SELF_TRAINED, SHIPPED_DEFAULT]
    results = finished(runs, scored, earlier.get("results", {}))
    on_new_classes = finished(runs, scored, earlier.get("new_classes", {}), NEW_CLASSES_EVAL)
    with_support = finished(runs, WITH_EXAMPLES, earlier.get("with_examples", {}))
    out = {
        **record(command_line),
        "version": __version__,
        "torch": torch.__version__,
        "recipe": str(RECIPE.relative_to(ROOT)),
        "variants": VARIANTS,
        "extracted": EXTRACTED,
        "self_trained": SELF_TRAINED,
        "unlabelled_split": UNLABELLED_SPLIT,
        "unlabelled_texts": UNLABELLED_TEXTS,
        "results": results,
        "new_class_fractions": NEW_CLASS_FRACTIONS,
        "new_classes": on_new_classes,
        "with_examples": with_support,
        "with_examples_adapter_minus_frozen": adapter_minus_frozen(with_support),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    published.write_text(json.dumps(out, indent=2))
    write_section(DOCS, "transfer", "\n".join(report_lines(out)))
    return out


def adapter_minus_frozen(with_support: dict) -> dict:
    """Per fold where both starts ran with the support set: the meta-trained start's paired gain (mean, 95% CI)."""
    adapter, frozen = (with_support.get(v, {}) for v in ("full-hard-lora-r32-stx", "frozen-stx"))
    gains = {}
    for held_out in [h for h in HELD_OUT if h in adapter and h in frozen]:
        a, b = (runs[held_out].get("per_episode", {}).get(SUPPORT_SET) for runs in (adapter, frozen))
        if a and b:
            gains[held_out] = interval(x - y for x, y in zip(a, b))
    return gains


def report_lines(out: dict) -> list[str]:
    lines = [
        "Command (reruns every cell below, resumable; `--variant` / `--held-out` pick cells): "
        "`python bench/transfer.py --data ../shared/data`  ",
        f"Last invoked as: `{out['command']}`  ",
        f"Machine: {out['machine']}  ",
        f"Date: {out['date']}",
        "",
    ]
    lines += [
        "Training runs (each without its held-out corpus, but for `shipped-default` and `-own` variants, which "
        "train on it; `-` where no validation chose a step):",
        "",
        "| variant | held out | steps run (best) | best meta-val accuracy | training s | texts / s |",
        "|---|---|---|---|---|---|",
    ]
    trained = out["results"] | {v: runs for v, runs in out.get("new_classes", {}).items() if v not in out["results"]}
    for variant, by_corpus in trained.items():
        for held_out, r in by_corpus.items():
            if variant in SELF_TRAINED:
                continue
            t = r["training"]
            best = "-" if t["best_val_accuracy"] is None else f"{t['best_val_accuracy']:.4f}"
            lines.append(
                f"| {variant} | {held_out} | {t['steps_run']} ({t['best_step'] or '-'}) | {best} | "
                f"{t['seconds']:.0f} | {t['texts_per_second']:.1f} |"
            )
    self_training = [
        (v, h, r["training"]) for v, runs in out["results"].items() if v in SELF_TRAINED for h, r in runs.items()
    ]
    if self_training:
        lines += [
            "",
            "Self-training runs (on unlabelled texts of the held-out corpus, labels guessed from its label texts):",
            "",
            "| variant | held out | unlabelled split | texts | pseudo-labelled (per round) | their precision (first round) "
            "| rounds x steps | training s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {v} | {h} | {t['unlabelled_split']} | {t['texts']} | "
            + " / ".join(str(r["pseudo_labelled"]) for r in t["rounds_run"])
            + f" | {t['pseudo_label_precision']:.3f} | {t['rounds']} x {t['steps']} | {t['seconds']:.0f} |"
            for v, h, t in self_training
        ]
    for variant, by_corpus in out["with_examples"].items():
        first = next(iter(by_corpus.values()))
        columns = [*first["accuracy"], *first["difference"]]
        lines += [
            "",
            f"{variant}: self-trained per episode with its support set ({EXAMPLE_SETTING}); accuracy, then paired "
            "differences in points, mean ± 95% CI over the episodes:",
            "",
            "| held out | episodes | pseudo-label precision | training s | " + " | ".join(columns) + " |",
            "|---|---|---|---|" + "---|" * len(columns),
        ]
        for held_out, r in by_corpus.items():
            cells = [f"{m:.4f} ± {ci:.4f}" for m, ci in r["accuracy"].values()]
            cells += [f"{m * 100:+.1f} ± {ci * 100:.1f}" for m, ci in r["difference"].values()]
            lines.append(
                f"| {held_out} | {r['episodes']} | {np.mean(r['pseudo_label_precision']):.3f} | "
                f"{np.mean(r['seconds']):.0f} | " + " | ".join(cells) + " |"
            )
    lines.append("")
    scored = [(v, h, r, "held out") for v, runs in out["results"].items() for h, r in runs.items()]
    new = f"held out, scored on the {100 * out['new_class_fractions'][2]:.0f}% of its classes `-own-new` never saw"
    scored += [(v, h, r, new) for v, runs in out.get("new_classes", {}).items() for h, r in runs.items()]
    for variant, held_out, r, where in scored:
        lines += [
            f"**{variant}, {held_out} {where}** ({r['classes']} classes, {r['test_texts']} test texts)",
            "",
            "| setting | way | episodes | frozen MiniLM | adapted | difference (paired 95% CI) |",
            "|---|---|---|---|---|---|",
        ]
        for c in r["cells"]:
            lines.append(
                f"| {c['setting']} | {c['way']} | {c['episodes']} | {c['frozen']:.4f} ± {c['frozen_ci95']:.4f} | "
                f"{c['adapted']:.4f} ± {c['adapted_ci95']:.4f} | "
                f"{c['difference']:+.4f} ± {c['difference_ci95']:.4f} |"
            )
        lines.append("")
    return lines


class CentredEncoder:
    """An encoder whose utterance embeddings have ``mean`` subtracted; label texts (``labels``) have ``label_mean``
    subtracted, or are left as they are (None)."""

    def __init__(self, encoder, mean: torch.Tensor, labels: set[str], label_mean: torch.Tensor | None = None):
        self.encoder, self.mean, self.labels = encoder, mean, labels
        self.label_mean = torch.zeros_like(mean) if label_mean is None else label_mean
        self.embedding_dim, self.name_or_path = encoder.embedding_dim, encoder.name_or_path
        self.lora_settings = getattr(encoder, "lora_settings", None)

    def encode(self, texts, **options) -> torch.Tensor:
        rows = self.encoder.encode(texts, **options)
        keep = torch.tensor([t in self.labels for t in texts], dtype=torch.bool).unsqueeze(1)
        return torch.where(keep, rows - self.label_mean, rows - self.mean)


#: the centring comparisons, (name, first, second): each the paired difference first - second
CENTRED_PAIRS = [
    ("centred frozen - frozen", "frozen, centred", "frozen"),
    ("centred adapter - frozen", "adapter, centred", "frozen"),
    ("centred adapter - centred frozen", "adapter, centred", "frozen, centred"),
    ("adapter - frozen", "adapter", "frozen"),  # the transfer table's cells: a check of the episodes
    ("both sides, frozen - frozen", "frozen, centred both sides", "frozen"),
    ("both sides, adapter - adapter", "adapter, centred both sides", "adapter"),
    ("both sides, adapter - frozen", "adapter, centred both sides", "frozen"),
]


def centring(folds: list[str], data: str, runs: Path, command_line: str) -> None:
    """``--variant centring``: CENTRED_RUN and the frozen MiniLM, centred and not, on each fold's transfer episodes."""
    results, frozen = [], SentenceEncoder(DEFAULT_ENCODER)
    for held_out in folds:
        model_dir = runs / f"{CENTRED_RUN}-{held_out}"
        if not (model_dir / EVAL).is_file():
            raise SystemExit(f"{model_dir} has no {EVAL}: run bench/transfer.py --variant {CENTRED_RUN} first.")
        task_set = load_task_set(f"{held_out}:test", data)
        episodes = episodes_for(task_set)
        labels = list(dict.fromkeys(task_set.label_text(c) for c in task_set.classes))
        episode_texts = [t for eps in episodes.values() for e in eps for t in (*e.support_texts, *e.query_texts)]
        texts, _ = unlabelled_texts(held_out, data)
        scores = {}
        for name, model in (("frozen", frozen), ("adapter", FewShotClassifier.from_pretrained(model_dir).encoder)):
            encoder = PrecomputedEncoder(model, [*labels, *episode_texts])  # centring shifts rows: embed each once
            mean, label_mean = model.encode(texts).mean(0), encoder.encode(labels).mean(0)
            scores[name] = accuracies(encoder, task_set, episodes)
            scores[f"{name}, centred"] = accuracies(CentredEncoder(encoder, mean, set(labels)), task_set, episodes)
            both = CentredEncoder(encoder, mean, set(labels), label_mean)
            scores[f"{name}, centred both sides"] = accuracies(both, task_set, episodes)

        cells = {
            setting: {
                "accuracy": {k: interval(v[setting])[0] for k, v in scores.items()},
                **{
                    name: interval(x - y for x, y in zip(scores[a][setting], scores[b][setting]))
                    for name, a, b in CENTRED_PAIRS
                },
            }
            for setting, *_ in SETTINGS
        }
        results.append(
            {"held_out": held_out, "classes": len(task_set.classes), "unlabelled_texts": len(texts), "cells": cells}
        )
        print(json.dumps({"variant": CENTRING, "held_out": held_out, "cells": cells}), flush=True)
    out = {**record(command_line), "run": CENTRED_RUN, "folds": results}
    (RESULTS / "transfer_centring.json").write_text(json.dumps(out, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_option(parser)
    parser.add_argument("--held-out", nargs="+", choices=HELD_OUT, default=HELD_OUT)
    every = [*VARIANTS, *EXTRACTED, *SELF_TRAINED, *WITH_EXAMPLES, SHIPPED_DEFAULT]
    parser.add_argument("--variant", nargs="+", choices=[*every, CENTRING], default=every)
    parser.add_argument("--runs", default=str(ROOT / "runs" / "transfer"), help="folder of the runs")
    parser.add_argument("--report", action="store_true", help="only rebuild the tables from finished runs")
    parser.add_argument(
        "--new-classes",
        action="store_true",
        help="score on the held-out corpus' classes that -own-new variants never train on (30%%), not on all",
    )
    args = parser.parse_args()
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    command_line = command()
    if not args.report:
        if not Path(args.data).is_dir():
            raise SystemExit(f"data folder {args.data!r} not found; pass --data (the folder that holds intents/).")
        for variant in [v for v in args.variant if v != CENTRING]:
            for held_out in args.held_out:
                if variant in WITH_EXAMPLES:
                    result = with_examples(variant, held_out, args.data, runs)
                    print(json.dumps({"variant": variant, "held_out": held_out, **result["difference"]}), flush=True)
                    report(runs, command_line)
                    continue
                if variant == SHIPPED_DEFAULT:
                    model_dir = shipped_default(held_out, args.data, runs)
                else:
                    build = extract if variant in EXTRACTED else self_trained if variant in SELF_TRAINED else train
                    model_dir = build(variant, held_out, args.data, runs)
                new_only = args.new_classes or new_classes_only(variant)
                result = evaluate(model_dir, held_out, args.data, runs, new_only)
                print(json.dumps({"variant": variant, "held_out": held_out, "cells": result["cells"]}), flush=True)
                report(runs, command_line)
        if CENTRING in args.variant:  # scores a run another way: transfer.json is not its to rewrite
            centring(args.held_out, args.data, runs, command_line)
    if args.report or set(args.variant) != {CENTRING}:
        report(runs, command_line)


if __name__ == "__main__":
    main()
