"""MetaTrainer: meta-train a LoRA adapter (and a temperature) over many classification tasks.

Episodes come from the meta-train classes only; evaluation uses the meta-val classes; the
meta-test classes (and any held-out task set) are never seen. The run checkpoints
atomically, resumes to bit-identical weights, and splits each meta-batch across
``torch.distributed`` processes when launched with ``torchrun``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from tqdm.auto import tqdm

from ..encoders import DEFAULT_ENCODER, LoraSettings, SentenceEncoder
from ..evaluation import PrecomputedEncoder, evaluate_episodes
from ..heads.prototype import METRICS
from ..tasks import (
    GROUPED_VIEWS,
    EpisodeSampler,
    cloze_task_set,
    load_task_set,
    parse_task_name,
    save_class_split,
    word_family,
)
from ..tasks.episodes import Episode, _as_range
from .checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_optimizer_tensors,
    optimizer_tensors,
    save_checkpoint,
)
from .fomaml import first_order_maml_gradients
from .protonet import LOG_TEMPERATURE, FrozenEmbeddings, ProtoMAMLTask, protonet_loss

logger = logging.getLogger(__name__)


@dataclass
class BaseMetaTrainingArguments:
    """Settings every meta-training run shares (the outer loop, evaluation, checkpoints)."""

    output_dir: str = field(metadata={"help": "Folder for the model, its split and checkpoints."})
    problem: str = field(default="classification", metadata={"help": "'classification' or 'translation'."})
    algorithm: str = field(default="protonet", metadata={"help": "see the problem's algorithms."})
    lora: dict = field(default_factory=dict, metadata={"help": "LoraSettings fields, e.g. {r: 8}."})
    data: str | None = field(default=None, metadata={"help": "Data folder (default: $FEWSHOT_NLP_DATA)."})
    steps: int = field(default=500, metadata={"help": "Outer (meta) steps."})
    meta_batch_size: int = field(default=4, metadata={"help": "Episodes per outer step."})
    inner_steps: int = field(default=3, metadata={"help": "fomaml: SGD steps on the support set."})
    inner_lr: float = field(default=0.05, metadata={"help": "fomaml: inner SGD learning rate."})
    outer_lr: float = field(default=1e-3, metadata={"help": "Adam learning rate of the outer loop."})
    eval_every: int = field(default=100, metadata={"help": "Evaluate on meta-val tasks every N steps."})
    eval_episodes: int = field(default=100, metadata={"help": "Meta-val episodes per evaluation."})
    early_stopping_patience: int | None = field(
        default=None, metadata={"help": "Stop after this many evaluations without improvement."}
    )
    checkpoint_every: int = field(default=50, metadata={"help": "Write a checkpoint every N steps."})
    seed: int = field(default=0, metadata={"help": "Seed of the LoRA init and the episode stream."})

    ALGORITHMS: ClassVar[tuple[str, ...]] = ()
    PROBLEM: ClassVar[str] = ""
    COUNTS: ClassVar[tuple[str, ...]] = ()  # the problem's fields that must be ints >= 1

    def __post_init__(self):
        if self.problem != self.PROBLEM:
            raise ValueError(f"problem={self.problem!r}: these settings are for {self.PROBLEM!r} meta-training.")
        if self.algorithm not in self.ALGORITHMS:
            raise ValueError(f"algorithm={self.algorithm!r} must be one of {list(self.ALGORITHMS)}.")
        for name in ("steps", "meta_batch_size", "eval_every", "eval_episodes", *self.COUNTS):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be an int >= 1.")
        for name in ("inner_lr", "outer_lr"):
            setattr(self, name, _number(name, getattr(self, name)))
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be > 0.")
        LoraSettings(**self.lora)  # validates the LoRA fields

    def fingerprint(self) -> dict:
        """What must not change between a run and its resumption."""
        skip = {"output_dir", "data", "steps", "eval_every", "checkpoint_every", "early_stopping_patience"}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}

    @classmethod
    def defaults(cls) -> dict:
        """Each setting's default: what a checkpoint written before that setting existed ran with."""
        return {
            f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
            for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        }


@dataclass
class MetaTrainingArguments(BaseMetaTrainingArguments):
    """Settings of a classification meta-training run; every field can be set from YAML or ``key=value``."""

    encoder: str | None = field(
        default=None, metadata={"help": "Encoder id or path; None = the embedded all-MiniLM-L6-v2 (plain)."}
    )
    tasks: list[str] = field(
        default_factory=lambda: ["clinc150"],
        metadata={"help": "Task sets to train on; 'name:split' reads one split of a corpus (e.g. 'sgd:train')."},
    )
    task_weights: list[float] | None = field(
        default=None,
        metadata={
            "help": "Sampling weight of each task set (each episode comes from one, drawn with these "
            "weights); None = take them in turn."
        },
    )
    task_split: str | None = field(
        default=None, metadata={"help": "Corpus split to read (e.g. 'train'); None = the reader's default (all)."}
    )
    class_fractions: list[float] = field(
        default_factory=lambda: [0.6, 0.2, 0.2],
        metadata={"help": "Class-disjoint train/val/test fractions; [1, 0, 0] trains on every class."},
    )
    split_seed: int = field(default=0, metadata={"help": "Seed of the class split."})
    val_tasks: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Task sets ('name:split') whose classes are all used for meta-val episodes; "
            "empty = the val classes of the class split."
        },
    )
    way: int = field(
        default=5, metadata={"help": "Classes per training episode (capped by the task set's class count)."}
    )
    shot: int | list[int] = field(default=5, metadata={"help": "Support examples per class, or a [low, high] range."})
    query: int = field(default=10, metadata={"help": "Query examples per class."})
    temperature: float = field(default=0.1, metadata={"help": "Initial temperature (learned) of the scores."})
    metric: str = field(
        default="euclidean", metadata={"help": "Scores in training and evaluation: 'euclidean' or 'cosine'."}
    )
    label_weight: float | None = field(
        default=None,
        metadata={
            "help": "Label-aware class vectors, as the classifier builds them: (sum of K support "
            "embeddings + w x label embedding) / (K + w) with w = label_weight; None = support "
            "prototypes only. Saved as the classifier's prior_weight."
        },
    )
    zero_shot_fraction: float = field(
        default=0.0,
        metadata={"help": "Share of training episodes with no support set (label_weight must be set)."},
    )
    hard_fraction: float = field(
        default=0.0,
        metadata={
            "help": "Share of training episodes made of a random class and its nearest classes by the frozen "
            "encoder's embedding of their label texts (fine distinctions)."
        },
    )
    symmetric_weight: float = field(
        default=0.0,
        metadata={
            "help": "protonet: weight of the transposed loss, each class vector picking its own queries among the "
            "episode's (CLIP's symmetric contrastive loss); 0 = off."
        },
    )
    symmetric_zero_shot: bool = field(
        default=True,
        metadata={
            "help": "Whether the symmetric term applies to zero-shot episodes too (false: to few-shot ones only)."
        },
    )
    cloze_fraction: float = field(
        default=0.0,
        metadata={
            "help": "Share of training episodes drawn from cloze tasks made of the training texts (a class per "
            "word, its texts with the word masked; fewshot_nlp.tasks.cloze): classes no corpus has. One random "
            "number per episode decides both this and hard_fraction, so cloze episodes take the place of hard "
            "ones first (0.3 and 0.5: 30% cloze, 20% hard)."
        },
    )
    hard_cloze: bool = field(
        default=False,
        metadata={
            "help": "Every cloze episode is a random word and its nearest words by the frozen encoder's embedding "
            "of their label texts, no two of one word family (fine distinctions, as hard_fraction for corpora)."
        },
    )
    cloze_per_corpus: bool = field(
        default=False,
        metadata={
            "help": "Each cloze episode's words come from the texts of one corpus, the one its labelled episode "
            "would have come from, so its classes share a domain (banking words against banking words); false: "
            "from the texts of every corpus at once."
        },
    )
    cloze_phrases: bool = field(
        default=False,
        metadata={
            "help": "Cloze classes include two-word phrases of cloze words ('direct debit', 'doctor appointment'), "
            "masked as one: classes shaped like the names of intents."
        },
    )
    cloze_files: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Files of unlabelled texts, one per line, whose cloze tasks join those of the training texts "
            "(your domain's texts, no labels needed); with cloze_per_corpus, each file is a corpus of its own."
        },
    )
    dropout: bool = field(
        default=False,
        metadata={
            "help": "The encoder's own dropout on in training steps (off for validation and the saved model), "
            "as sentence-transformers trains; false: every step depends only on the weights and the episodes."
        },
    )
    finetune: str = field(
        default="lora", metadata={"help": "'lora' (the adapter) or 'full' (every encoder weight, for comparison)."}
    )
    eval_way: int = field(default=5, metadata={"help": "Classes per meta-val episode (capped as way)."})
    eval_shot: int = field(default=1, metadata={"help": "Shots per meta-val episode."})
    eval_query: int = field(default=15, metadata={"help": "Queries per class in a meta-val episode."})
    anchor_weight: float = field(
        default=0.0,
        metadata={"help": "Weight of the squared distance to the frozen encoder's embeddings (0 = off)."},
    )
    head_init_gradient: bool = field(
        default=True,
        metadata={
            "help": "fomaml: chain the query loss through the head's prototype initialisation too "
            "(Proto-MAML); false reproduces the runs benchmarked before it existed."
        },
    )

    ALGORITHMS: ClassVar[tuple[str, ...]] = ("protonet", "fomaml")
    PROBLEM: ClassVar[str] = "classification"
    COUNTS: ClassVar[tuple[str, ...]] = ("way", "query")

    def __post_init__(self):
        super().__post_init__()
        _as_range(self.shot, "shot")
        fractions = ("zero_shot_fraction", "hard_fraction", "cloze_fraction")
        for name in ("temperature", "anchor_weight", "symmetric_weight", *fractions):
            setattr(self, name, _number(name, getattr(self, name)))
        if self.label_weight is not None:
            self.label_weight = _number("label_weight", self.label_weight)
        if self.metric not in METRICS:
            raise ValueError(f"metric={self.metric!r} must be one of {list(METRICS)}.")
        if self.finetune not in ("lora", "full"):
            raise ValueError(f"finetune={self.finetune!r} must be 'lora' or 'full'.")
        if self.finetune == "full" and self.lora:
            raise ValueError("finetune='full' trains every weight; remove the lora settings (lora: {}).")
        if self.label_weight is not None and not self.label_weight > 0:
            raise ValueError(f"label_weight={self.label_weight!r} must be > 0, or null for prototypes only.")
        for name in fractions:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be in [0, 1].")
        if self.zero_shot_fraction and self.label_weight is None:
            raise ValueError(
                "zero-shot episodes need label texts: set label_weight (e.g. 1.0) with zero_shot_fraction."
            )
        if self.task_weights is not None and (
            len(self.task_weights) != len(self.tasks) or min(self.task_weights) < 0 or not sum(self.task_weights) > 0
        ):
            raise ValueError(
                f"task_weights={self.task_weights!r} must give one non-negative weight per task set "
                f"({len(self.tasks)}: {self.tasks}), not all zero."
            )
        if self.way < 2 or self.eval_way < 2:
            raise ValueError(f"way={self.way!r} and eval_way={self.eval_way!r} must be >= 2.")
        if not self.temperature > 0:
            raise ValueError(f"temperature={self.temperature!r} must be > 0.")
        for name in (
            "head_init_gradient",
            "hard_cloze",
            "cloze_per_corpus",
            "cloze_phrases",
            "symmetric_zero_shot",
            "dropout",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}={getattr(self, name)!r} must be true or false.")
        for name in ("hard_cloze", "cloze_per_corpus", "cloze_phrases"):
            if getattr(self, name) and not self.cloze_fraction:
                raise ValueError(
                    f"{name}=true shapes cloze episodes, and there are none: set cloze_fraction (e.g. 0.3)."
                )
        if not isinstance(self.cloze_files, list) or not all(isinstance(f, str) for f in self.cloze_files):
            raise ValueError(f"cloze_files={self.cloze_files!r} must be a list of paths, e.g. ['my_texts.txt'].")
        if self.cloze_files and not self.cloze_fraction:
            raise ValueError("cloze_files feed cloze episodes, and there are none: set cloze_fraction (e.g. 0.3).")
        if not self.symmetric_weight >= 0 or (self.symmetric_weight and self.algorithm != "protonet"):
            raise ValueError(
                f"symmetric_weight={self.symmetric_weight!r} must be >= 0, and is for algorithm=protonet only "
                f"(not {self.algorithm!r}): set it to 0."
            )
        if not self.anchor_weight >= 0:
            raise ValueError(f"anchor_weight={self.anchor_weight!r} must be >= 0 (0 switches the anchor off).")
        if not isinstance(self.tasks, list) or not self.tasks:
            raise ValueError(f"tasks={self.tasks!r} must be a non-empty list, e.g. ['clinc150', 'banking77'].")
        corpora = {parse_task_name(task)[0] for task in self.tasks}
        views = sorted(view for view in corpora & set(GROUPED_VIEWS) if GROUPED_VIEWS[view] in corpora)
        if views and self.class_fractions[0] < 1:
            raise ValueError(
                f"{views[0]} labels the texts of {GROUPED_VIEWS[views[0]]} by group, so its training groups hold "
                f"texts of the classes class_fractions={self.class_fractions} keeps out of training: train on every "
                "class (class_fractions: [1.0, 0.0, 0.0], validation from val_tasks), or drop the view."
            )


class MetaTrainer:
    """Runs meta-training and writes a folder that ``FewShotClassifier.from_pretrained`` loads.

    Args:
        args: the run's settings.
        encoder: a :class:`SentenceEncoder` to train (default: built from ``args``); a LoRA
            adapter is added when it has none.
        task_sets: ``{name: ClassificationTaskSet}`` (default: loaded from ``args.tasks``).
        cloze_texts: the texts cloze episodes are made of (default: the training classes' texts);
            self-training passes every unlabelled text, not only those it could label.
    """

    #: the evaluation record that picks the best weights (higher is better)
    selection_metric = "val_accuracy"

    def __init__(self, args: BaseMetaTrainingArguments, *setup, **setup_options):
        self.args = args
        self.output_dir = Path(args.output_dir)
        self.rank, self.world_size = _distributed_setup()
        torch.manual_seed(args.seed)  # the LoRA initialisation
        self.meta_parameters: dict[str, torch.nn.Parameter] = self._setup(*setup, **setup_options)
        self.optimizer = torch.optim.Adam(self.meta_parameters.values(), lr=args.outer_lr)
        self.step = 0
        #: wall seconds in training steps (evaluation excluded), the texts they embedded, and the
        #: whole run's wall seconds (evaluation included), summed over resumptions
        self.training = {"seconds": 0.0, "texts": 0, "wall_seconds": 0.0}
        self._clock = (time.perf_counter(), 0.0)  # (when this process started counting, wall seconds before)
        self.history: list[dict] = []
        self.best: dict | None = None
        self.evaluations_without_improvement = 0

    @property
    def device(self) -> torch.device:
        return next(iter(self.meta_parameters.values())).device

    def _setup(self, encoder: SentenceEncoder | None = None, task_sets=None, cloze_texts=None) -> dict:
        """Classification: the encoder with its LoRA, class split, samplers, meta-val episodes."""
        args = self.args
        if encoder is None:
            encoder = SentenceEncoder(args.encoder or DEFAULT_ENCODER, device=_process_device())
        self.encoder = encoder
        if args.finetune == "full":
            self.encoder.enable_full_finetuning()
        elif self.encoder.lora_settings is None:
            self.encoder.add_lora(LoraSettings(**args.lora))
        self.encoder.eval()  # no dropout but inside training steps, and there only with `dropout`
        if task_sets is None:
            options = {} if args.task_split is None else {"split": args.task_split}
            task_sets = {name: load_task_set(name, root=args.data, **options) for name in args.tasks}
        self.task_sets = task_sets
        self.class_split = {
            name: ts.split_classes(tuple(args.class_fractions), seed=args.split_seed) for name, ts in task_sets.items()
        }
        shot = args.shot if isinstance(args.shot, int) else tuple(args.shot)
        self.train_samplers = [
            EpisodeSampler(
                ts.subset(self.class_split[name]["train"]),
                args.way,
                shot,
                args.query,
                seed=args.seed,
                cap_way=True,
                class_vectors=self.label_vectors(ts, self.class_split[name]["train"]) if args.hard_fraction else None,
                hard_fraction=args.hard_fraction,
            )
            for name, ts in task_sets.items()
        ]
        self.cloze_samplers = []  # one for every corpus, or one for all of them
        if args.cloze_fraction:  # by default from the training classes' texts only: nothing of a held-out class
            if cloze_texts is not None and args.cloze_per_corpus:
                raise ValueError(
                    "cloze_per_corpus=true makes cloze tasks of each corpus' own texts: give no cloze_texts."
                )
            if cloze_texts is not None:
                corpora = [cloze_texts]
            else:
                corpora = _distinct_corpora([sampler.task_set.texts_and_labels()[0] for sampler in self.train_samplers])
            corpora += [_unlabelled_texts(path) for path in args.cloze_files]
            if not args.cloze_per_corpus:
                corpora = [[t for texts in corpora for t in texts]]
            self.cloze_samplers = [self.cloze_sampler(texts, shot) for texts in corpora]
        if args.val_tasks:
            val_sets = {name: load_task_set(name, root=args.data) for name in args.val_tasks}
        else:
            val_sets = {
                name: ts.subset(self.class_split[name]["val"])
                for name, ts in task_sets.items()
                if len(self.class_split[name]["val"]) >= args.eval_way
            }
        self.val_episodes = [
            episode
            for ts in val_sets.values()
            for episode in EpisodeSampler(
                ts, args.eval_way, args.eval_shot, args.eval_query, seed=args.seed + 1, cap_way=True
            ).sample(math.ceil(args.eval_episodes / max(len(val_sets), 1)))
        ]
        self.anchor = FrozenEmbeddings(self.encoder) if args.anchor_weight else None
        self.log_temperature = torch.nn.Parameter(torch.tensor(math.log(args.temperature), device=self.encoder.device))
        return {**self.encoder.trainable_parameters(), LOG_TEMPERATURE: self.log_temperature}

    def cloze_sampler(self, texts: list[str], shot) -> EpisodeSampler:
        """Episodes of the cloze tasks of ``texts`` (a class per word), shaped as the recipe says."""
        args = self.args
        try:
            cloze = cloze_task_set(texts, seed=args.seed, phrases=args.cloze_phrases)
        except ValueError as error:
            raise ValueError(
                f"cloze_fraction={args.cloze_fraction}: the training texts are too few for cloze tasks ({error}); "
                "train on more texts, or set cloze_fraction=0."
            ) from error
        return EpisodeSampler(
            cloze,
            args.way,
            shot,
            args.query,
            seed=args.seed,
            cap_way=True,
            class_vectors=self.label_vectors(cloze, cloze.classes) if args.hard_cloze else None,
            hard_fraction=1.0 if args.hard_cloze else 0.0,
            family=word_family,
        )

    def label_vectors(self, task_set, classes: list[str]) -> dict:
        """Label-text embeddings by the encoder as it starts (the same after a resume): which classes are near."""
        vectors = self.encoder.encode([task_set.label_text(c) for c in classes])
        return dict(zip(classes, vectors.cpu().numpy()))

    # ---------------------------------------------------------------- episodes
    def episodes_for_step(self, step: int) -> list:
        """The meta-batch of outer step ``step``: fixed by (seed, step), whatever happened before.

        Each episode comes from one task set: in turn, or drawn with ``task_weights``; a
        ``cloze_fraction`` of them are cloze tasks instead; a ``zero_shot_fraction`` of them lose
        their support set.
        """
        args, samplers = self.args, self.train_samplers
        episodes = []
        for j in range(args.meta_batch_size):
            index = step * args.meta_batch_size + j
            if args.task_weights is None:
                which = index % len(samplers)
                episode = samplers[which].episode(index // len(samplers))
            else:
                weights = np.asarray(args.task_weights, dtype=float)
                which = np.random.default_rng([args.seed, index, 1]).choice(len(samplers), p=weights / weights.sum())
                episode = samplers[which].episode(index)
            if self.cloze_samplers and np.random.default_rng([args.seed, index, 3]).random() < args.cloze_fraction:
                episode = self.cloze_samplers[which if args.cloze_per_corpus else 0].episode(index)
            if args.zero_shot_fraction and np.random.default_rng([args.seed, index, 2]).random() < (
                args.zero_shot_fraction
            ):
                episode = zero_shot(episode)
            episodes.append(episode)
        return episodes

    def symmetric_weight(self, episode) -> float:
        """The weight of protonet's symmetric term for ``episode`` (none on zero-shot ones unless asked)."""
        applies = self.args.symmetric_zero_shot or len(episode.support_texts) > 0
        return self.args.symmetric_weight if applies else 0.0

    @property
    def wall_seconds(self) -> float:
        started, before = self._clock
        return before + time.perf_counter() - started

    def texts_in(self, episode) -> int:
        """Texts one training episode embeds (for the training throughput)."""
        labels = len(episode.label_texts or []) if self.args.label_weight is not None else 0
        return len(episode.support_texts) + len(episode.query_texts) + labels

    # -------------------------------------------------------------------- step
    def train_step(self, step: int) -> dict:
        """One outer step; this rank computes its share of the meta-batch, gradients are averaged."""
        for parameter in self.meta_parameters.values():
            parameter.grad = torch.zeros_like(parameter)
        episodes = self.episodes_for_step(step)
        self.training["texts"] += sum(self.texts_in(e) for e in episodes)  # the whole meta-batch, on every rank
        mine = [e for j, e in enumerate(episodes) if j % self.world_size == self.rank]
        totals: dict[str, float] = {}
        for episode in mine:
            for name, value in self.task_gradients(episode).items():
                totals[name] = totals.get(name, 0.0) + value
        names = sorted(totals) or ["loss"]
        stats = torch.tensor([totals.get(n, 0.0) for n in names] + [len(mine)], dtype=torch.float64, device=self.device)
        if self.world_size > 1:
            for parameter in self.meta_parameters.values():
                torch.distributed.all_reduce(parameter.grad)
            torch.distributed.all_reduce(stats)
        self.optimizer.step()
        return {name: float(stats[i] / stats[-1]) for i, name in enumerate(names)}

    def task_gradients(self, episode) -> dict[str, float]:
        """Add one episode's share of the meta-gradient to ``.grad``; returns its loss (and accuracy)."""
        self.encoder.train(self.args.dropout)
        try:
            return self._episode_gradients(episode)
        finally:
            self.encoder.eval()  # validation, label vectors and the saved model see no dropout

    def _episode_gradients(self, episode) -> dict[str, float]:
        args = self.args
        if args.algorithm == "protonet":
            loss, accuracy, drift = protonet_loss(
                self.encoder,
                self.meta_parameters,
                episode,
                self.anchor,
                args.label_weight,
                args.metric,
                self.symmetric_weight(episode),
            )
            ((loss + args.anchor_weight * drift) / args.meta_batch_size).backward()
            stats = {"loss": float(loss.detach()), "accuracy": accuracy}
            return stats if self.anchor is None else {**stats, "drift": float(drift.detach())}
        start = {n: p.detach() for n, p in self.meta_parameters.items()}
        task = ProtoMAMLTask(
            self.encoder,
            start,
            episode,
            self.anchor,
            args.anchor_weight,
            args.head_init_gradient,
            label_weight=args.label_weight,
            metric=args.metric,
        )
        _, grads, adapted = first_order_maml_gradients(
            start,
            task.support_loss,
            task.query_loss,
            args.inner_steps if episode.support_texts else 0,  # zero-shot: nothing to adapt on
            args.inner_lr,
            task.head,
            frozen={LOG_TEMPERATURE},
        )
        if args.head_init_gradient:
            through_head = task.head_init_gradients(grads)
            grads = {name: grads[name] + through_head[name] for name in start}
        for name in start:
            self.meta_parameters[name].grad += grads[name] / args.meta_batch_size
        return {**task.query_stats, "accuracy": task.query_accuracy(adapted)}

    # --------------------------------------------------------------- evaluate
    def evaluate(self) -> dict:
        """Accuracy (95% CI) on the fixed meta-val episodes with the current adapter: the
        classifier's prototypes, or with ``label_weight`` its mixture and its zero-shot accuracy."""
        if not self.val_episodes:
            return {}
        texts = [t for e in self.val_episodes for t in (*e.support_texts, *e.query_texts, *(e.label_texts or []))]
        encoder = PrecomputedEncoder(self.encoder, texts)  # one pass serves both evaluations
        result = evaluate_episodes(self.classifier_for, self.val_episodes, encoder, progress=False)
        record = {"val_accuracy": result.accuracy, "val_ci95": result.ci95, "val_episodes": result.episodes}
        if self.args.label_weight is not None:
            zero = evaluate_episodes(self.classifier_for, self.val_episodes, encoder, use_support=False, progress=False)
            record.update({"val_zero_shot_accuracy": zero.accuracy, "val_zero_shot_ci95": zero.ci95})
        return record

    def classifier_for(self, encoder, episode=None):
        """The classifier meta-training prepares the encoder for (with the episode's label texts)."""
        from ..classifier import FewShotClassifier

        args = self.args
        classifier = FewShotClassifier(
            encoder,
            metric=args.metric,
            temperature=float(self.log_temperature.detach().exp()),
            prior_weight=1.0 if args.label_weight is None else args.label_weight,
        )
        if episode is not None and args.label_weight is not None:
            classifier.add_labels(dict(zip(episode.classes, episode.label_texts)))
        return classifier

    # ------------------------------------------------------------ checkpoints
    @property
    def checkpoint_dir(self) -> Path:
        return self.output_dir / "checkpoints"

    def _checkpoint_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {f"param.{n}": p.detach() for n, p in self.meta_parameters.items()}
        tensors.update(optimizer_tensors(self.optimizer, list(self.meta_parameters)))
        if self.best is not None:
            tensors.update({f"best.{n}": t for n, t in self.best["weights"].items()})
        # Episodes come from (seed, index); dropout (when on) draws from this generator, so a
        # resumed run continues with the masks an uninterrupted one would have drawn.
        tensors["rng.torch"] = torch.get_rng_state()
        return tensors

    def save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        state = {
            "fingerprint": self.args.fingerprint(),
            "history": self.history,
            "best": None if self.best is None else {k: v for k, v in self.best.items() if k != "weights"},
            "evaluations_without_improvement": self.evaluations_without_improvement,
            "training": {**self.training, "wall_seconds": self.wall_seconds},
            "param_groups": self.optimizer.state_dict()["param_groups"],
        }
        save_checkpoint(self.checkpoint_dir, self.step, self._checkpoint_tensors(), state)

    def resume(self) -> bool:
        """Load the newest checkpoint if there is one; refuses a corrupt or foreign one."""
        path = latest_checkpoint(self.checkpoint_dir)
        if path is None:
            return False
        tensors, state = load_checkpoint(path, self.args.fingerprint(), self.args.defaults())
        expected = {f"param.{n}" for n in self.meta_parameters}
        if not expected <= set(tensors):
            raise ValueError(f"{path} lacks parameters {sorted(expected - set(tensors))[:3]}; it is not from this run.")
        with torch.no_grad():
            for name, parameter in self.meta_parameters.items():
                parameter.copy_(tensors[f"param.{name}"])
        load_optimizer_tensors(self.optimizer, list(self.meta_parameters), tensors, state["param_groups"])
        torch.set_rng_state(tensors["rng.torch"])
        self.step = state["step"]
        self.history = state["history"]
        self.evaluations_without_improvement = state["evaluations_without_improvement"]
        self.training = {**self.training, **state.get("training", {})}
        self._clock = (time.perf_counter(), self.training["wall_seconds"])
        if state["best"] is not None:
            weights = {k[len("best.") :]: v for k, v in tensors.items() if k.startswith("best.")}
            self.best = {**state["best"], "weights": weights}
        logger.info("resumed from %s at step %d", path, self.step)
        return True

    # ------------------------------------------------------------------ train
    def train(self, resume: bool = False) -> Path:
        """Run to ``args.steps`` (or early stopping) and write the model folder; returns its path."""
        args = self.args
        if resume:
            self.resume()
        elif latest_checkpoint(self.checkpoint_dir) is not None:
            raise ValueError(
                f"{self.checkpoint_dir} holds a checkpoint; pass resume=True (--resume) or a new output_dir."
            )
        if self.step == 0 and not self.history:  # where we start from: the untrained adapter
            record = {"step": 0, **self.evaluate()}
            self._keep_best(record)
            self.history.append(record)
        progress = tqdm(
            total=args.steps, initial=self.step, desc=f"meta-train ({args.algorithm})", disable=self.rank != 0
        )
        while self.step < args.steps:
            started = time.perf_counter()
            stats = self.train_step(self.step)
            self.training["seconds"] += time.perf_counter() - started
            self.step += 1
            record = {"step": self.step, **stats}
            progress.update(1)
            progress.set_postfix({name: f"{value:.3f}" for name, value in stats.items()})
            if self.step % args.eval_every == 0 or self.step == args.steps:
                record.update(self.evaluate())
                stop = self._keep_best(record)
            else:
                stop = False
            self.history.append(record)
            if self.step % args.checkpoint_every == 0 or self.step == args.steps or stop:
                self.save_checkpoint()
            if stop:
                logger.info("early stopping at step %d", self.step)
                break
        progress.close()
        output = self.save_model()
        self.close()
        return output

    def close(self) -> None:
        """Leave the process group: exiting with a live gloo group can abort the process."""
        if self.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    def _keep_best(self, record: dict) -> bool:
        """Remember the best weights on meta-val accuracy; True when patience has run out."""
        metric = self.selection_metric
        if metric not in record:
            return False
        if self.best is None or record[metric] > self.best[metric]:
            weights = {n: p.detach().clone() for n, p in self.meta_parameters.items()}
            self.best = {"step": self.step, metric: record[metric], "weights": weights}
            self.evaluations_without_improvement = 0
            return False
        self.evaluations_without_improvement += 1
        patience = self.args.early_stopping_patience
        return patience is not None and self.evaluations_without_improvement >= patience

    def save_model(self) -> Path:
        """Write the best (or last) weights as a model folder (see :meth:`write_model`) with the history."""
        if self.rank == 0:
            if self.best is not None:
                with torch.no_grad():
                    for name, parameter in self.meta_parameters.items():
                        parameter.copy_(self.best["weights"][name])
            self.write_model()
            (self.output_dir / "training_history.json").write_text(json.dumps(self.history, indent=2))
        if self.world_size > 1:
            torch.distributed.barrier()
        return self.output_dir

    def write_model(self) -> None:
        """A FewShotClassifier folder, plus the class split."""
        classifier = self.classifier_for(self.encoder)
        classifier.meta_training = {
            "algorithm": self.args.algorithm,
            "inner_steps": self.args.inner_steps,
            "inner_lr": self.args.inner_lr,
            "class_split": self.class_split,
            "best_step": None if self.best is None else self.best["step"],
            "best_val_accuracy": None if self.best is None else self.best["val_accuracy"],
            "steps_run": self.step,
            "training_seconds": round(self.training["seconds"], 1),
            "wall_seconds": round(self.wall_seconds, 1),
            "training_texts_per_second": round(self.training["texts"] / max(self.training["seconds"], 1e-9), 1),
            "arguments": dataclasses.asdict(self.args),
        }
        classifier.save_pretrained(self.output_dir)
        for name, split in self.class_split.items():
            save_class_split(split, self.output_dir / f"class_split_{_file_safe(name)}.json")


def _number(name: str, value) -> float:
    """YAML reads ``2e-5`` (no dot) as a string: accept what Python reads as a number, name the rest."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name}={value!r} must be a number.")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} must be a number, e.g. {name}=0.001.") from None


def _unlabelled_texts(path) -> list[str]:
    """The non-blank lines of a cloze file (UTF-8 text, one text per line)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cloze_files: no such file {path}; give text files, one text per line.")
    try:
        texts = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as error:
        raise ValueError(f"cloze_files: {path} is not UTF-8 text ({error.reason}); save it as UTF-8.") from None
    if not texts:
        raise ValueError(f"cloze_files: {path} holds no texts.")
    return texts


def _distinct_corpora(corpora: list[list[str]]) -> list[list[str]]:
    """The corpora whose texts are not all in another one (the first of equal ones kept): a grouped view of a
    corpus (``sgd-domains``) holds that corpus' texts, which should feed the cloze tasks once, not twice."""
    sets = [set(texts) for texts in corpora]
    return [
        texts
        for i, texts in enumerate(corpora)
        if not any(sets[i] < other or (sets[i] == other and j < i) for j, other in enumerate(sets) if j != i)
    ]


def zero_shot(episode: Episode) -> Episode:
    """The same episode without its support set: class vectors come from the label texts alone."""
    return dataclasses.replace(episode, support_texts=[], support_labels=[])


def _file_safe(task_name: str) -> str:
    """``clinc150`` stays as it is; a file path becomes its stem (``data/toy.csv`` -> ``toy``)."""
    stem = Path(task_name).stem if Path(task_name).suffix else task_name
    return re.sub(r"[^\w.-]", "_", stem)


def _process_device() -> str | None:
    """One GPU per process under torchrun; None otherwise (the model picks the GPU if there is one, else CPU)."""
    local = os.environ.get("LOCAL_RANK")
    return f"cuda:{local}" if local is not None and torch.cuda.is_available() else None


def _distributed_setup() -> tuple[int, int]:
    """(rank, world size); joins the process group that ``torchrun`` describes in the environment."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1
    if not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend=backend)
    return torch.distributed.get_rank(), torch.distributed.get_world_size()
