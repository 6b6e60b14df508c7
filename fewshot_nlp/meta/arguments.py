"""The settings of a meta-training run: those every run shares (outer loop, evaluation, checkpoints) and a
classification run's own; each can be set from YAML or ``key=value`` (``fewshot-nlp meta-train``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from ..encoders import LoraSettings
from ..heads.prototype import METRICS
from ..tasks import GROUPED_VIEWS, parse_task_name
from ..tasks.episodes import _as_range


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


def _number(name: str, value) -> float:
    """YAML reads ``2e-5`` (no dot) as a string: accept what Python reads as a number, name the rest."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name}={value!r} must be a number.")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} must be a number, e.g. {name}=0.001.") from None
