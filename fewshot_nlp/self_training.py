"""Self-training: fit the encoder to a task's own unlabelled texts, with labels guessed from the label texts.

Meta-training prepares the encoder for tasks in general; a user who has label names and a pile
of unlabelled texts of the task (logs, a backlog to sort) holds information no meta-training
saw. The classifier labels those texts zero-shot, keeps per class the texts it is surest of
(largest margin between the best and the second-best class), and trains every encoder weight on
them with the meta-training objective (label-aware prototypical episodes, half of them
zero-shot, half of them a class and its nearest classes), so the label texts and the texts
meet where the classifier compares them. On intent sets never trained on it is the largest
gain measured in this project (``bench/transfer.py``, self-trained variants).

A user who also has a few labelled examples gives them too: each round then labels the texts
with the mixture (examples and label texts), which guesses better than label texts alone, and
the examples join the training texts with their true labels.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .inputs import check_labels, check_texts

logger = logging.getLogger(__name__)


@dataclass
class SelfTrainingArguments:
    """Settings of :func:`self_train`; the defaults were chosen on the CLINC150 validation fold."""

    per_class: int = field(default=20, metadata={"help": "Most confident unlabelled texts kept per class."})
    steps: int = field(default=100, metadata={"help": "Training steps (one episode each) per round."})
    rounds: int = field(
        default=2, metadata={"help": "Rounds; each labels the texts again with the last one's encoder."}
    )
    learning_rate: float = field(default=2e-5, metadata={"help": "Adam learning rate on every encoder weight."})
    way: int = field(default=32, metadata={"help": "Classes per episode (capped by the classes with texts)."})
    shot: list[int] = field(
        default_factory=lambda: [1, 3], metadata={"help": "Support texts per class, a [low, high] range."}
    )
    query: int = field(default=2, metadata={"help": "Query texts per class."})
    zero_shot_fraction: float = field(default=0.5, metadata={"help": "Share of episodes with no support set."})
    hard_fraction: float = field(default=0.5, metadata={"help": "Share of episodes of a class and its nearest."})
    cloze_fraction: float = field(
        default=0.0,
        metadata={
            "help": "Share of episodes that are cloze tasks of all the unlabelled texts (a class per word, the word "
            "masked: the task's own words, with no guessed label); taken from hard_fraction's share first."
        },
    )
    checkpoint_every: int = field(default=25, metadata={"help": "Steps between checkpoints (with output_dir)."})
    seed: int = field(default=0, metadata={"help": "Seed of the episode stream."})

    def __post_init__(self):
        for name in ("per_class", "steps", "rounds", "way", "query", "checkpoint_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be an int >= 1.")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate={self.learning_rate!r} must be > 0, e.g. 2e-5.")
        self.shot = list(self.shot)
        high = self.shot[-1]
        if self.per_class < high + self.query:
            raise ValueError(
                f"per_class={self.per_class} must be >= the largest shot + query ({high} + {self.query}): "
                "an episode draws that many texts of a class."
            )


def pseudo_label(classifier, texts: list[str], per_class: int) -> tuple[list[str], list]:
    """The texts the classifier is surest of, ``per_class`` at most per predicted class, with that class.

    Sureness is the margin between the best and the second-best class's score: a text near two
    label texts teaches the encoder little and is wrong more often.
    """
    scores = classifier.decision_function(texts)
    top = scores.topk(2, dim=1)
    margin, predicted = top.values[:, 0] - top.values[:, 1], top.indices[:, 0]
    kept_texts, kept_labels = [], []
    for index, label in enumerate(classifier.classes_):
        rows = (predicted == index).nonzero().flatten()
        rows = rows[margin[rows].argsort(descending=True)][:per_class].tolist()
        kept_texts += [texts[i] for i in rows]
        kept_labels += [label] * len(rows)
    return kept_texts, kept_labels


def self_train(classifier, texts, args: SelfTrainingArguments | None = None, output_dir=None, examples=None):
    """A copy of ``classifier`` whose encoder is trained on ``texts`` (unlabelled) and its pseudo-labels.

    ``classifier`` holds label texts (names or descriptions) and no examples, since examples
    are stored as embeddings of the encoder that is about to change: pass them as ``examples``,
    ``(texts, labels)`` of described labels, and the copy holds them, embedded by the trained
    encoder. ``output_dir`` keeps checkpoints, so a stopped run resumes where it stopped (without
    it the run works in a temporary folder). The returned classifier carries a fully trained
    encoder (``save_pretrained`` writes it, about 90 MB for MiniLM).
    """
    args = args or SelfTrainingArguments()
    texts = list(dict.fromkeys(check_texts(texts)))
    if classifier.multi_label:
        raise ValueError("self_train guesses one label per text; it does not serve multi_label classifiers.")
    if bool((classifier.head.example_count > 0).any()):
        raise ValueError(
            "self_train changes the encoder, and this classifier holds examples embedded by the old one: "
            "call self_train on the classifier with labels only and pass the examples as self_train(texts, "
            "examples=(example_texts, example_labels))."
        )
    described = dict(classifier.head.descriptions)
    if len(described) < 2:
        raise ValueError(f"self_train needs label texts for >= 2 classes (has {len(described)}); use add_labels.")
    examples = _checked_examples(examples, described)
    known = set(examples[0])
    texts = [t for t in texts if t not in known]  # an example's label is known, not guessed
    if not texts:
        raise ValueError("every unlabelled text is one of the examples; self_train needs texts without labels too.")
    encoder = copy.deepcopy(classifier.encoder)
    if encoder.lora_settings is not None:  # every weight is trained: fold the adapter in first
        from .lora import merge_lora

        merge_lora(encoder.transformer)
        encoder.lora_settings = None
    adapted, rounds = _with_examples(classifier, examples), []
    with tempfile.TemporaryDirectory() as scratch:
        resumable = output_dir is not None  # a temporary folder is never resumed: no checkpoints on the way
        folder = Path(output_dir) if resumable else Path(scratch)
        _claim(folder, texts, described, args, classifier.encoder.name_or_path, examples)
        for round_ in range(args.rounds):  # each round labels the texts with the encoder the last one made
            try:
                pseudo = _pseudo_labelled(adapted, texts, described, args, examples)
            except ValueError as error:
                if not rounds:
                    raise
                warnings.warn(f"self-training stopped after round {round_}: {error}", stacklevel=2)
                break
            seconds = _train(
                encoder, pseudo, texts + examples[0], classifier.head, args, folder / f"round{round_}", resumable
            )
            adapted = _with_encoder(classifier, encoder, described, examples)
            rounds.append({"pseudo_labelled": len(pseudo), "classes_trained": len(pseudo.classes), "seconds": seconds})
    if classifier.oos_threshold is not None:
        warnings.warn(
            f"oos_threshold={classifier.oos_threshold} was set for the encoder before self-training; the copy has "
            "none: call calibrate_oos on it again.",
            stacklevel=2,
        )
        adapted.oos_threshold = None
    seconds = round(sum(r["seconds"] for r in rounds), 1)
    adapted.self_training = {
        **dataclasses.asdict(args),
        "texts": len(texts),
        "examples": len(examples[0]),
        "seconds": seconds,
        "rounds_run": rounds,
    }
    return adapted


def _checked_examples(examples, described: dict) -> tuple[list[str], list]:
    """``examples`` as (texts, labels), every label one with a label text; ([], []) for none."""
    if examples is None:
        return [], []
    if not isinstance(examples, (tuple, list)) or len(examples) != 2:
        raise ValueError("examples must be a pair (texts, labels), e.g. examples=(['card lost'], ['lost_card']).")
    texts = check_texts(examples[0])
    labels = check_labels(examples[1], len(texts), multi_label=False)
    for label in dict.fromkeys(labels):
        if label not in described:
            raise ValueError(
                f"example label {label!r} has no label text; self-training trains on label texts: give it one "
                f"first, e.g. classifier.add_labels({{{label!r}: 'a sentence saying what it is about'}}) "
                "(on the command line, a line in the --labels YAML)."
            )
    return texts, labels


def _with_examples(classifier, examples: tuple[list[str], list]):
    """``classifier`` itself without examples, else a copy holding them (the original keeps none)."""
    return copy.copy(classifier).add_examples(*examples) if examples[0] else classifier


def _claim(folder: Path, texts: list[str], described: dict, args: SelfTrainingArguments, encoder: str, examples):
    """Mark ``folder`` as this run's: resuming a run of other texts, labels or settings would mix two runs."""
    settings = {k: v for k, v in dataclasses.asdict(args).items() if k != "checkpoint_every"}
    texts_sha256 = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    run = {"encoder": str(encoder), "labels": described, "settings": settings, "texts_sha256": texts_sha256}
    if examples[0]:
        run["examples_sha256"] = hashlib.sha256(json.dumps(examples, default=str).encode()).hexdigest()
    record = folder / "self_training_run.json"
    if record.is_file() and json.loads(record.read_text()) != run:
        raise ValueError(
            f"{folder} holds a self-training run of other texts, examples, labels, settings or encoder; "
            "give a new output_dir (or delete that one) to start afresh."
        )
    folder.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(run, indent=2, ensure_ascii=False))


def _pseudo_labelled(classifier, texts: list[str], described: dict, args: SelfTrainingArguments, examples):
    """The pseudo-labelled texts and the examples as a task set, without classes too rare to fill an episode."""
    from .tasks.classification import ClassificationTaskSet

    kept_texts, kept_labels = pseudo_label(classifier, texts, args.per_class)
    kept_texts, kept_labels = kept_texts + examples[0], kept_labels + examples[1]
    need = args.shot[1] + args.query
    usable = {c for c in described if kept_labels.count(c) >= need}
    logger.info(
        "self-training on %d of %d texts, %d of %d classes", len(kept_texts), len(texts), len(usable), len(described)
    )
    if len(usable) < 2:
        raise ValueError(
            f"only {len(usable)} classes were predicted for >= {need} of the {len(texts)} texts; "
            "self_train needs more unlabelled texts of the task (hundreds), or smaller shot / query."
        )
    rows = [(t, y) for t, y in zip(kept_texts, kept_labels) if y in usable]
    return ClassificationTaskSet(*zip(*rows), descriptions=described, name="pseudo-labelled")


def _train(encoder, pseudo, texts, head, args: SelfTrainingArguments, folder: Path, checkpoints: bool) -> float:
    """Train ``encoder`` in place on the pseudo-labelled episodes and cloze tasks of ``texts`` (resuming
    ``folder``); returns its wall seconds."""
    from .meta.arguments import MetaTrainingArguments
    from .meta.checkpoint import latest_checkpoint
    from .meta.trainer import MetaTrainer

    training = MetaTrainingArguments(
        output_dir=str(folder),
        algorithm="protonet",
        finetune="full",
        tasks=[pseudo.name],
        class_fractions=[1.0, 0.0, 0.0],
        steps=args.steps,
        meta_batch_size=1,
        way=args.way,
        shot=list(args.shot),
        query=args.query,
        outer_lr=args.learning_rate,
        metric=head.metric,
        temperature=head.temperature,
        label_weight=head.prior_weight,
        zero_shot_fraction=args.zero_shot_fraction,
        hard_fraction=args.hard_fraction,
        cloze_fraction=args.cloze_fraction,
        eval_every=args.steps,
        checkpoint_every=args.checkpoint_every if checkpoints else args.steps,
        seed=args.seed,
    )
    trainer = MetaTrainer(training, encoder, {pseudo.name: pseudo}, cloze_texts=texts)
    trainer.train(resume=latest_checkpoint(trainer.checkpoint_dir) is not None)
    return round(trainer.wall_seconds, 1)  # summed over resumptions


def _with_encoder(classifier, encoder, described: dict, examples):
    """A copy of the zero-shot ``classifier`` on ``encoder``, its label texts embedded again, with the examples."""
    adapted = copy.copy(classifier)
    adapted.encoder = encoder
    adapted.head = copy.deepcopy(classifier.head)
    adapted._meta_lora = None
    adapted.head.add_descriptions(encoder, described)
    return _with_examples(adapted, examples)
