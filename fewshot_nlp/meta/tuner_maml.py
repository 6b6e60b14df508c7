"""First-order MAML whose inner loop is the fit-time tuner: an initialisation meta-trained *for* ``fit(tune=...)``.

Each meta-step draws an episode shaped like a user's fit (a few classes, several examples each, label
texts), tunes a copy of the encoder on its support set exactly as ``fit(..., tune=args)`` would
(:func:`fewshot_nlp.tuning.tune_encoder`), scores the episode's queries against class vectors built by
the tuned copy, and applies the gradient of that query loss, taken at the tuned weights, to the
initialisation (first order: the tuner's Jacobian is taken as the identity). The protonet-trained
default asks the encoder to be right *before* tuning; this asks it to be right *after*.

Resumable: a checkpoint (weights and Adam state, safetensors) every ``checkpoint_every`` steps.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..tasks.episodes import Episode
from ..tuning import TuningArguments, tune_encoder
from .checkpoint import latest_checkpoint, load_checkpoint, load_optimizer_tensors, optimizer_tensors, save_checkpoint
from .protonet import LOG_TEMPERATURE, protonet_loss


@dataclass
class TunerMetaTrainingArguments:
    """Settings of :func:`meta_train_for_tuning`."""

    steps: int = field(default=60, metadata={"help": "Meta-steps (one episode each)."})
    outer_lr: float = field(default=1e-5, metadata={"help": "Adam learning rate of the initialisation."})
    way: int = field(default=5, metadata={"help": "Classes per episode (as in a user's fit)."})
    shot: int = field(default=8, metadata={"help": "Support texts per class: what the tuner trains on."})
    query: int = field(default=4, metadata={"help": "Query texts per class, scored after tuning."})
    label_weight: float = field(default=1.0, metadata={"help": "Label text's weight in the class vectors."})
    temperature: float = field(default=0.05, metadata={"help": "Softmax temperature of cosine scores."})
    tuning: dict = field(default_factory=dict, metadata={"help": "TuningArguments fields for the inner loop."})
    checkpoint_every: int = field(default=10, metadata={"help": "Steps between checkpoints."})
    seed: int = field(default=0, metadata={"help": "Seed of the episode stream."})

    def __post_init__(self):
        for name in ("steps", "way", "shot", "query", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be an int >= 1.")
        if not self.outer_lr > 0:
            raise ValueError(f"outer_lr={self.outer_lr!r} must be > 0, e.g. 1e-5.")
        TuningArguments(**self.tuning)  # names a bad inner-loop setting now, not at the first step


def meta_train_for_tuning(encoder, task_sets: dict, args: TunerMetaTrainingArguments, output_dir) -> dict:
    """Meta-train ``encoder`` (every weight, in place) for the tuner on episodes of ``task_sets``.

    ``task_sets`` maps a name to a :class:`ClassificationTaskSet` with label texts; each step draws a
    task set (uniformly), then ``way`` of its classes with at least ``shot + query`` texts. A stopped
    run resumes from the latest checkpoint in ``output_dir`` to the same weights. Returns the record.
    """
    tuning = TuningArguments(**args.tuning)
    if not encoder.fully_trainable:
        encoder.enable_full_finetuning()
    encoder.eval()
    names = [n for n, _ in encoder.named_parameters()]
    parameters = dict(encoder.named_parameters())
    optimizer = torch.optim.Adam(parameters.values(), lr=args.outer_lr)
    # steps may grow between runs: the episode of a step depends on the step alone, so a run extended
    # from its last checkpoint equals one that ran that long from the start
    fingerprint = {k: v for k, v in dataclasses.asdict(args).items() if k not in ("checkpoint_every", "steps")}
    fingerprint["task_sets"] = sorted(task_sets)
    folder = Path(output_dir) / "checkpoints"
    start, history = 0, []
    if (latest := latest_checkpoint(folder)) is not None:
        tensors, state = load_checkpoint(latest, fingerprint)
        with torch.no_grad():
            for name in names:
                parameters[name].copy_(tensors[f"param.{name}"])
        load_optimizer_tensors(optimizer, names, tensors, state["param_groups"])
        start, history = state["step"], state["history"]
    usable = {
        name: [c for c in ts.classes if len(ts.by_class[c]) >= args.shot + args.query] for name, ts in task_sets.items()
    }
    usable = {name: classes for name, classes in usable.items() if len(classes) >= args.way}
    if not usable:
        raise ValueError(f"no task set has {args.way} classes with >= {args.shot + args.query} texts each.")
    began = time.perf_counter()
    for step in tqdm(range(start, args.steps), desc="meta-training for the tuner", initial=start, total=args.steps):
        rng = random.Random(f"{args.seed}-{step}")  # the step's episode depends on the step only: resumable
        corpus = rng.choice(sorted(usable))
        task_set = task_sets[corpus]
        classes = rng.sample(usable[corpus], args.way)
        support, query = [], []
        for c in classes:
            texts = rng.sample(task_set.by_class[c], args.shot + args.query)
            support += [(t, c) for t in texts[: args.shot]]
            query += [(t, c) for t in texts[args.shot :]]
        label_texts = {c: task_set.label_text(c) for c in classes}
        tuned, record = tune_encoder(
            encoder,
            [t for t, _ in support],
            [c for _, c in support],
            label_texts,
            args.label_weight,
            "cosine",
            args.temperature,
            dataclasses.replace(tuning, seed=step),
        )
        episode = Episode(
            classes,
            [t for t, _ in support],
            [c for _, c in support],
            [t for t, _ in query],
            [c for _, c in query],
            label_texts=[label_texts[c] for c in classes],
        )
        weights = {**dict(tuned.named_parameters()), LOG_TEMPERATURE: torch.tensor(math.log(args.temperature))}
        loss, accuracy, _ = protonet_loss(tuned, weights, episode, label_weight=args.label_weight, metric="cosine")
        gradients = torch.autograd.grad(loss, [weights[n] for n in names], allow_unused=True)
        optimizer.zero_grad()
        for name, gradient in zip(names, gradients):
            parameters[name].grad = gradient
        optimizer.step()
        history.append(
            {
                "step": step + 1,
                "task_set": corpus,
                "query_loss": round(float(loss.detach()), 5),
                "query_accuracy": accuracy,
            }
        )
        history[-1]["support_loss_after"] = record["support_loss_after"]
        if (step + 1) % args.checkpoint_every == 0 or step + 1 == args.steps:
            tensors = {f"param.{n}": parameters[n].detach() for n in names}
            tensors.update(optimizer_tensors(optimizer, names))
            state = {
                "fingerprint": fingerprint,
                "history": history,
                "param_groups": optimizer.state_dict()["param_groups"],
            }
            save_checkpoint(folder, step + 1, tensors, state)
    for parameter in encoder.parameters():
        parameter.grad = None
    return {
        **dataclasses.asdict(args),
        "task_sets": sorted(task_sets),
        "seconds_this_run": round(time.perf_counter() - began, 1),
        "history": history,
    }
