"""Tuning at fit time: a few steps of the meta-training objective on the support set and its label texts.

Prototypes over a frozen encoder cannot learn a distinction the embedding lacks (which question a
text asks, rather than what it is about). ``fit(..., tune=True)`` trains every weight of a copy of
the encoder for a few steps on label-aware prototypical episodes cut from the support set itself:
each step holds some examples of every class out as queries and scores them against class
vectors built, as the classifier builds them, from the other examples and the label text
(:func:`fewshot_nlp.meta.protonet.protonet_loss`); some steps are zero-shot (the label texts
alone), so the label texts stay where the classifier compares them. It is the loss meta-training
optimises, so a meta-trained encoder is a starting point from which these steps go far, and it is
the inner loop of first-order MAML over full weights.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from .meta.protonet import LOG_TEMPERATURE, protonet_loss
from .tasks.episodes import Episode


@dataclass
class TuningArguments:
    """Settings of ``fit(..., tune=...)``; ``tune=True`` takes these defaults."""

    # steps and learning_rate: chosen on the validation family (TweetEval emoji, 5-way, 8 per class): the most
    # accurate of four settings within 1/5 of SetFit's fit time (docs/experiments/2026-12-04-families.md)
    steps: int = field(default=8, metadata={"help": "Adam steps, one episode of the support set each."})
    learning_rate: float = field(default=5e-5, metadata={"help": "Adam learning rate on every encoder weight."})
    query_fraction: float = field(
        default=0.5, metadata={"help": "Share of a class's examples held out as queries at each step (at least 1)."}
    )
    zero_shot_fraction: float = field(
        default=0.25, metadata={"help": "Share of steps scored against the label texts alone (needs label texts)."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of the held-out splits."})
    progress_bar: bool = field(default=False, metadata={"help": "Show a progress bar over the steps."})

    def __post_init__(self):
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps={self.steps!r} must be an int >= 1, e.g. 20.")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate={self.learning_rate!r} must be > 0, e.g. 5e-5.")
        if not 0 < self.query_fraction < 1:
            raise ValueError(f"query_fraction={self.query_fraction!r} must be in (0, 1), e.g. 0.5.")
        if not 0 <= self.zero_shot_fraction <= 1:
            raise ValueError(f"zero_shot_fraction={self.zero_shot_fraction!r} must be in [0, 1], e.g. 0.25.")


def tune_encoder(
    encoder,
    texts: list[str],
    labels: list,
    label_texts: dict | None,
    label_weight: float,
    metric: str,
    temperature: float,
    args: TuningArguments,
):
    """A copy of ``encoder`` trained on the support set (``encoder`` is left bit-identical), and a record.

    ``label_texts`` maps every class to the text the classifier embeds for it (None: some class
    has none, and the episodes are plain prototypes); ``label_weight`` is what a label text is worth
    in examples, as in the classifier's class vectors.
    """
    tuned = copy.deepcopy(encoder)
    if tuned.lora_settings is not None:  # every weight is trained: fold the adapter in first
        from .lora import merge_lora

        merge_lora(tuned.transformer)
        tuned.lora_settings = None
    if not tuned.fully_trainable:
        tuned.enable_full_finetuning()
    tuned.eval()  # no dropout: a few steps on a few examples, and the same result every time
    by_class: dict = {}
    for text, label in zip(texts, labels):
        by_class.setdefault(label, []).append(text)
    classes = list(by_class)
    described = label_texts is not None
    weights = {**dict(tuned.named_parameters()), LOG_TEMPERATURE: torch.tensor(math.log(temperature))}
    optimizer = torch.optim.Adam([p for name, p in weights.items() if name != LOG_TEMPERATURE], lr=args.learning_rate)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()

    def loss_on(episode: Episode) -> torch.Tensor:
        return protonet_loss(tuned, weights, episode, label_weight=label_weight if described else None, metric=metric)[
            0
        ]

    whole = _episode(classes, by_class, label_texts, "all")
    with torch.no_grad():
        before = float(loss_on(whole))
    losses = []
    for _ in tqdm(range(args.steps), desc="tuning", disable=not args.progress_bar):
        zero_shot = described and rng.random() < args.zero_shot_fraction
        episode = _episode(
            classes, by_class, label_texts, "zero-shot" if zero_shot else "split", rng, args.query_fraction
        )
        loss = loss_on(episode)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        after = float(loss_on(whole))
    for parameter in tuned.parameters():
        parameter.grad = None
    record = {
        **asdict(args),
        "label_weight": label_weight if described else None,
        "examples": len(texts),
        "seconds": round(time.perf_counter() - start, 2),
        "support_loss_before": round(before, 5),
        "support_loss_after": round(after, 5),
    }
    return tuned, record


def _episode(classes: list, by_class: dict, label_texts: dict | None, mode: str, rng=None, fraction=0.5) -> Episode:
    """An episode of the support set. ``mode``: ``"split"``, each class's examples split at random
    into support and queries (a class with a single example is a query when its label text can
    stand in for the support); ``"zero-shot"``, every example a query against the label texts alone;
    ``"all"``, every example both (the support loss the record reports)."""
    support_texts, support_labels, query_texts, query_labels = [], [], [], []
    for label in classes:
        examples = by_class[label]
        held_out = set(range(len(examples)))
        if mode == "split":
            n_query = max(1, round(fraction * len(examples))) if len(examples) > 1 or label_texts else 0
            held_out = set(rng.permutation(len(examples))[:n_query].tolist())
        for i, text in enumerate(examples):
            if i in held_out:
                query_texts.append(text)
                query_labels.append(label)
            if mode == "all" or (mode == "split" and i not in held_out):
                support_texts.append(text)
                support_labels.append(label)
    texts = [label_texts[c] for c in classes] if label_texts is not None else None
    return Episode(classes, support_texts, support_labels, query_texts, query_labels, label_texts=texts)
