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
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..encoders import DEFAULT_ENCODER, LoraSettings, SentenceEncoder
from ..evaluation import PrecomputedEncoder, evaluate_episodes
from ..prototype_classifier import PrototypeClassifier
from ..tasks import EpisodeSampler, load_task_set, save_class_split
from .arguments import BaseMetaTrainingArguments
from .checkpoint import ResumableRun, latest_checkpoint
from .episode_mix import EpisodeMixing
from .fomaml import first_order_maml_gradients
from .protonet import LOG_TEMPERATURE, FrozenEmbeddings, ProtoMAMLTask, protonet_loss

logger = logging.getLogger(__name__)


class MetaTrainer(EpisodeMixing, ResumableRun):
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
        self._make_samplers(task_sets, cloze_texts)
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

    @property
    def wall_seconds(self) -> float:
        started, before = self._clock
        return before + time.perf_counter() - started

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
        args = self.args
        classifier = PrototypeClassifier(
            encoder,
            metric=args.metric,
            temperature=float(self.log_temperature.detach().exp()),
            prior_weight=1.0 if args.label_weight is None else args.label_weight,
        )
        if episode is not None and args.label_weight is not None:
            classifier.add_labels(dict(zip(episode.classes, episode.label_texts)))
        return classifier

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
