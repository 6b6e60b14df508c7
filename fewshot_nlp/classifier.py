"""FewShotClassifier: the public text-classifier API (fit from a few examples, or from label
descriptions alone), with out-of-scope rejection, multi-label decisions and Hub sharing.

Everything but training lives in :mod:`fewshot_nlp.prototype_classifier`; this class adds training of the
encoder at fit time: ``fit(..., tune=...)`` (:mod:`fewshot_nlp.tuning`), ``fit(..., adapt_steps=...)`` (the
Proto-MAML inner loop on a meta-trained adapter) and :meth:`FewShotClassifier.self_train`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch

from .backends import TORCH
from .encoders import SentenceEncoder
from .heads import LabelDescriptionHead
from .meta.fomaml import adapt
from .meta.protonet import LOG_TEMPERATURE, ProtoMAMLTask
from .prototype_classifier import AUTO, Prediction, PrototypeClassifier, best_threshold
from .self_training import self_train
from .tasks.episodes import Episode

if TYPE_CHECKING:
    from .tuning import TuningArguments

__all__ = ["FewShotClassifier", "Prediction", "best_threshold"]


class FewShotClassifier(PrototypeClassifier):
    """Text classifier from a handful of examples and/or label descriptions.

    Build it with :meth:`from_pretrained` (``None`` = the embedded all-MiniLM-L6-v2), then
    :meth:`fit` on examples; or pass ``labels`` for zero-shot classification.

    Args:
        encoder: a :class:`SentenceEncoder` (default: the embedded all-MiniLM-L6-v2).
        labels: label names or ``{name: description}`` for zero-shot / a description prior.
        metric: ``"cosine"`` or ``"euclidean"`` scores against class vectors.
        temperature: softmax temperature of the scores.
        prior_weight: how many examples a label text is worth once examples exist (default 1), or
            ``"auto"``: each :meth:`fit` chooses it from the support set, by how well every example,
            left out of its class, is predicted under each candidate weight (see
            :meth:`PrototypeHead.prior_weight_fit`; no extra encoder pass); with one example per
            class nothing can be left out, and the weight is 1. ``"auto"`` is not the default: on
            the task families of ``bench/families.py`` it averaged a point below the fixed weight
            (docs/results.md). The weight in use is ``prior_weight_``.
        template: sentence used for a label with no description, ``{}`` = the label name.
        multi_label: independent per-label decisions; ``predict`` returns lists of labels.
        threshold: probability above which a label is predicted (multi-label only).
        oos_threshold: best raw score below which a text is out of scope (``None``: never).
        oos_label: the label given to out-of-scope texts.
    """

    #: the encoder tuning started from; a new fit starts there
    _untuned: SentenceEncoder | None = None

    def fit(
        self,
        texts,
        labels=None,
        *,
        column_mapping: Mapping | None = None,
        adapt_steps: int = 0,
        adapt_lr: float | None = None,
        tune: bool | TuningArguments = False,
    ) -> FewShotClassifier:
        """Learn class prototypes from examples, replacing earlier examples (descriptions stay).

        ``texts`` may be a list (with ``labels``), a ``datasets.Dataset`` or a DataFrame (with
        ``column_mapping``). On any error the classifier is left exactly as it was.

        ``tune=True`` (or a :class:`TuningArguments`) first trains every weight of a copy of the
        encoder for a few steps on these examples and the label texts with the meta-training
        objective (:mod:`fewshot_nlp.tuning`): for distinctions the encoder's embeddings lack.
        It starts from the encoder the classifier was built on (a new fit starts there again);
        ``prior_weight="auto"`` is chosen before tuning, since the tuned encoder has seen every
        example; ``tuning`` records the settings, seconds and support loss. The tuned encoder is
        saved with the classifier (about 90 MB for MiniLM).

        ``adapt_steps > 0`` first runs the Proto-MAML inner loop on these examples, starting
        from the (meta-learned) LoRA adapter, then builds the prototypes with the adapted
        encoder; ``adapt_lr`` defaults to the inner learning rate used in meta-training.
        The default, 0, is the gradient-free prototype path.
        """
        texts, labels = self._checked_examples(texts, labels, column_mapping)
        tuning = _tuning_arguments(tune, adapt_steps, self.multi_label)
        encoder, head = self._fit_start()
        if tuning is not None:
            return self._tuned_fit(encoder, head, texts, labels, tuning)
        if adapt_steps:
            self._adapt_encoder(texts, labels, adapt_steps, adapt_lr)
        return self._add_examples(head, texts, labels, encoder)

    def _fit_start(self) -> tuple[SentenceEncoder, LabelDescriptionHead]:
        """After a tuned fit, the encoder it started from, with the label texts embedded by it again."""
        encoder, head = super()._fit_start()
        if self._untuned is None:
            return encoder, head
        head.add_descriptions(self._untuned, dict(head.descriptions))  # they were embedded by the tuned one
        return self._untuned, head

    def _add_examples(self, head: LabelDescriptionHead, texts: list[str], labels: list, encoder=None):
        back_to_untuned = encoder is not None and encoder is not self.encoder  # a fit after tuning
        super()._add_examples(head, texts, labels, encoder)  # commits only once everything worked
        if back_to_untuned:
            self._untuned, self.tuning = None, None
        return self

    def _tuned_fit(self, start, head, texts, labels, args: TuningArguments) -> FewShotClassifier:
        from .tuning import tune_encoder  # torch training code, imported when a fit tunes

        weight = head.prior_weight  # a fixed weight; "auto" chooses it on the untuned embeddings:
        if self.prior_weight == AUTO:
            weight = self._head_with_examples(copy.deepcopy(head), texts, labels, start)[0].prior_weight
        described = dict(head.descriptions)
        classes = list(dict.fromkeys(labels))
        label_texts = {c: described[c] for c in classes} if all(c in described for c in classes) else None
        tuned, record = tune_encoder(start, texts, labels, label_texts, weight, head.metric, head.temperature, args)
        head.prior_weight = weight
        if described:
            head.add_descriptions(tuned, described)
        head, center = self._head_with_examples(head, texts, labels, tuned, choose_weight=False)
        self.encoder, self.head, self.multi_label_center = tuned, head, center  # commit only once everything worked
        self._untuned, self.tuning = start, record
        return self

    def _adapt_encoder(self, texts, labels, steps: int, lr: float | None) -> None:
        if self.encoder.lora_settings is None:
            raise ValueError(
                "adapt_steps needs an encoder with a LoRA adapter: a meta-trained model, or "
                "FewShotClassifier.from_pretrained(..., lora=True)."
            )
        if self.multi_label or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"adapt_steps={steps!r} must be an int >= 0, for single-label classifiers.")
        lr = lr if lr is not None else (self.meta_training or {}).get("inner_lr", 0.01)
        if self._meta_lora is None:
            self._meta_lora = {n: p.detach().clone() for n, p in self.encoder.lora_parameters().items()}
        classes = list(dict.fromkeys(labels))
        episode = Episode(classes, texts, labels, texts, labels)
        start = {**self._meta_lora, LOG_TEMPERATURE: torch.tensor(self.head.temperature).log()}
        task = ProtoMAMLTask(self.encoder, start, episode)
        adapted = adapt({**start, **task.head}, task.support_loss, steps, lr, frozen={LOG_TEMPERATURE}).weights
        with torch.no_grad():
            for name, parameter in self.encoder.lora_parameters().items():
                parameter.copy_(adapted[name])

    def self_train(self, texts, args=None, output_dir=None, examples=None) -> FewShotClassifier:
        """A copy whose encoder is trained on unlabelled ``texts`` of this task, labelled by this
        classifier's label texts and the optional ``examples`` ``(texts, labels)``, which the copy
        holds (see :mod:`fewshot_nlp.self_training`)."""
        if getattr(self.encoder, "backend", TORCH) != TORCH:
            raise ValueError(
                f"self_train trains the encoder, and this classifier runs on the {self.encoder.backend!r} backend "
                "(inference only): load it with backend='torch' (the default) or call set_backend('torch') first."
            )
        return self_train(self, texts, args, output_dir, examples)


def _tuning_arguments(tune, adapt_steps: int, multi_label: bool) -> TuningArguments | None:
    """``fit``'s ``tune`` as settings (None: no tuning), refusing what tuning cannot do."""
    from .tuning import TuningArguments  # torch training code, imported when a fit tunes

    if tune is False or tune is None:
        return None
    if tune is not True and not isinstance(tune, TuningArguments):
        raise ValueError(
            f"tune={tune!r} must be True, False or a TuningArguments, e.g. tune=TuningArguments(steps=10)."
        )
    if adapt_steps:
        raise ValueError(
            "give tune or adapt_steps, not both: tuning trains every weight, adapt_steps the LoRA adapter."
        )
    if multi_label:
        raise ValueError("tune serves single-label classifiers; fit a multi_label classifier without it.")
    return TuningArguments() if tune is True else tune
