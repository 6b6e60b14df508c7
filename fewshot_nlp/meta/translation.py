"""Meta-training a translation LoRA over language pairs: each task is one language into English.

The same outer loop as classification (:class:`MetaTrainer`: checkpoints, resumption, several
processes, keep-best), with a seq2seq loss: the inner loop adapts the LoRA tensors on K
support pairs of one language, the outer loss is the loss on Q query pairs of that language.
``algorithm: joint`` is the non-meta baseline: one multilingual LoRA trained on the same
pairs (support and query together) for the same number of steps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from .arguments import BaseMetaTrainingArguments
from .fomaml import adapt, first_order_maml_gradients
from .trainer import MetaTrainer, _process_device


@dataclass
class TranslationMetaTrainingArguments(BaseMetaTrainingArguments):
    """Settings of a translation meta-training run over the Bible split's training languages."""

    problem: str = field(default="translation", metadata={"help": "'translation' for these settings."})
    algorithm: str = field(default="fomaml", metadata={"help": "'fomaml', or 'joint' (non-meta multilingual LoRA)."})
    base_model: str = field(default="runs/base-marian", metadata={"help": "Seq2seq base: HF id or folder."})
    split: str = field(
        default="recipes/translation/configs/bible_split.yaml", metadata={"help": "BibleSplit YAML file."}
    )
    languages: list[str] | None = field(default=None, metadata={"help": "Languages to train on; None = the split's."})
    support: int = field(default=16, metadata={"help": "Support sentence pairs per task."})
    query: int = field(default=16, metadata={"help": "Query sentence pairs per task."})
    max_length: int = field(default=128, metadata={"help": "Tokens kept per sentence."})
    inner_lr: float = field(default=0.1, metadata={"help": "fomaml: inner SGD learning rate."})

    ALGORITHMS: ClassVar[tuple[str, ...]] = ("fomaml", "joint")
    PROBLEM: ClassVar[str] = "translation"
    COUNTS: ClassVar[tuple[str, ...]] = ("support", "query", "max_length")

    def fingerprint(self) -> dict:
        """The split's content, not its path: an edited split file must not resume an old run."""
        from ..tasks import BibleSplit

        return {**super().fingerprint(), "split": dataclasses.asdict(BibleSplit.from_yaml(self.split))}


class TranslationMetaTrainer(MetaTrainer):
    """Writes a folder that ``FewShotTranslator.from_pretrained`` loads: the meta-learned adapter.

    Meta-val tasks come from the dev chapters of the training languages (never trained on);
    their score is minus the query loss after the inner loop, the quantity meta-training
    minimises, so fomaml and joint runs are selected the same way.
    """

    selection_metric = "val_score"

    def _setup(self, translator=None, task_set=None, val_set=None) -> dict:
        from ..tasks import BibleSplit
        from ..translation import FewShotTranslator

        args = self.args
        if translator is None:
            translator = FewShotTranslator.from_pretrained(
                args.base_model,
                lora=args.lora or True,
                device=_process_device(),
                max_source_length=args.max_length,
                max_target_length=args.max_length,
            )
        self.translator = translator
        self.translator.model.eval()  # no dropout: a step depends only on the weights and the episodes
        if task_set is None:
            split = BibleSplit.from_yaml(args.split)
            languages = args.languages or split.training_languages(args.data)
            leaked = sorted(set(languages) & set(split.evaluation_languages))
            if leaked:
                raise ValueError(f"languages {leaked} are evaluation languages of {args.split}; leave them out.")
            if split.dev_chapters:
                task_set, val_set = split.read_parts(args.data, ("meta", "dev"), languages)
            else:
                task_set, val_set = split.read(args.data, "meta", languages), None
        self.task_set = task_set
        if val_set is None:  # no meta-val tasks: the last weights are kept
            self.val_episodes = []
            return translator.lora_parameters()
        self.val_episodes = [
            val_set.episode(val_set.languages[i % len(val_set.languages)], args.support, args.query, args.seed + 1, i)
            for i in range(args.eval_episodes)
            if len(val_set.pairs[val_set.languages[i % len(val_set.languages)]]) >= args.support + args.query
        ]
        return translator.lora_parameters()

    def episodes_for_step(self, step: int) -> list:
        languages = self.task_set.languages
        episodes = []
        for j in range(self.args.meta_batch_size):
            index = step * self.args.meta_batch_size + j
            language = languages[index % len(languages)]
            episodes.append(self.task_set.episode(language, self.args.support, self.args.query, self.args.seed, index))
        return episodes

    def texts_in(self, episode) -> int:
        return len(episode.support) + len(episode.query)

    def _losses(self, episode):
        # training corpora are truncated silently (max_length): no per-step length check
        support, query = (
            self.translator.batch(episode.support, warn=False),
            self.translator.batch(episode.query, warn=False),
        )
        return (lambda w: self.translator.loss(support, w)), (lambda w: self.translator.loss(query, w))

    def task_gradients(self, episode) -> dict[str, float]:
        if self.args.algorithm == "joint":
            loss = self.translator.loss(self.translator.batch(episode.support + episode.query, warn=False))
            (loss / self.args.meta_batch_size).backward()
            return {"loss": float(loss.detach())}
        support_loss, query_loss = self._losses(episode)
        start = {n: p.detach() for n, p in self.meta_parameters.items()}
        loss, grads, _ = first_order_maml_gradients(
            start, support_loss, query_loss, self.args.inner_steps, self.args.inner_lr
        )
        for name, grad in grads.items():
            self.meta_parameters[name].grad += grad / self.args.meta_batch_size
        return {"loss": loss}

    def evaluate(self) -> dict:
        if not self.val_episodes:
            return {}
        losses = []
        start = {n: p.detach() for n, p in self.meta_parameters.items()}
        for episode in self.val_episodes:
            support_loss, query_loss = self._losses(episode)
            adapted = adapt(start, support_loss, self.args.inner_steps, self.args.inner_lr).weights
            with torch.no_grad():
                losses.append(float(query_loss(adapted)))
        mean = sum(losses) / len(losses)
        return {"val_score": -mean, "val_query_loss": mean, "val_episodes": len(losses)}

    def write_model(self) -> None:
        self.translator.meta_training = {
            "algorithm": self.args.algorithm,
            "inner_steps": self.args.inner_steps,
            "inner_lr": self.args.inner_lr,
            "languages": self.task_set.languages,
            "best_step": None if self.best is None else self.best["step"],
            "best_val_score": None if self.best is None else self.best["val_score"],
            "steps_run": self.step,
            "arguments": dataclasses.asdict(self.args),
        }
        self.translator.save_pretrained(self.output_dir)
