"""FewShotClassifier: the public text-classifier API (fit from a few examples, or from label
descriptions alone), with out-of-scope rejection, multi-label decisions and Hub sharing."""

from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from huggingface_hub import ModelCard, ModelCardData, ModelHubMixin
from safetensors.torch import load_file, save_file

from . import __version__
from .backends import ONNX_FOLDER, TORCH, OnnxEncoder, carried_encoder, check_backend, save_export
from .encoders import DEFAULT_ENCODER, DEFAULT_MODEL, SentenceEncoder, default_adapter_revision
from .heads import DEFAULT_TEMPLATE, LabelDescriptionHead
from .hub import CONFIG_NAME, LIBRARY_KEY, find_saved_folder
from .inputs import check_label_descriptions, check_labels, check_texts, texts_and_labels
from .lora import LoraSettings

if TYPE_CHECKING:
    from .tuning import TuningArguments

ADAPTER_NAME = "adapter_model.safetensors"
META_ADAPTER_NAME = "meta_adapter.safetensors"
ENCODER_FOLDER = "encoder"  # a fully fine-tuned encoder's own weights (safetensors), when there is one
SETTABLE_AFTER_LOADING = {"oos_threshold", "oos_label", "threshold", "prior_weight"}
AUTO = "auto"  # prior_weight chosen from the support set at each fit (an option; 1.0 is the default)
AUTO_START = 1.0  # the weight before any choice, and with one example per class
DEFAULT_MULTI_LABEL_CENTER = 0.3  # cosine score at probability 0.5 when nothing can calibrate it

MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

A few-shot text classifier made with [fewshot-nlp](https://pypi.org/project/fewshot-nlp/):
a sentence encoder (`{{ encoder }}`) and {% if n_labels %}a {{ head_kind }} head{% else %}no labels yet (add them with `fit` or `add_labels`){% endif %}.

- Labels ({{ n_labels }}): {{ labels }}
- Multi-label: {{ multi_label }}; out-of-scope threshold: {{ oos_threshold }}
{% if meta_training %}- Meta-trained LoRA adapter: {{ meta_training.algorithm }}, {{ meta_training.steps_run }} steps on the
  meta-train classes of {{ meta_training.class_split | list | join(", ") }}{% if meta_training.best_val_accuracy is not none %};
  kept the weights of step {{ meta_training.best_step }} (meta-val accuracy {{ meta_training.best_val_accuracy | round(4) }}){% endif %}. Adapt it to your labels with
  `clf.fit(texts, labels{% if meta_training.algorithm == "fomaml" %}, adapt_steps={{ meta_training.inner_steps }}{% endif %})`.
{% endif %}{% if self_training %}- Self-trained encoder: {{ self_training.rounds }} round(s) of {{ self_training.steps }} steps on
  the surest of {{ self_training.texts }} unlabelled texts of the task, labelled by its predictions from the label
  texts{% if self_training.examples %} and {{ self_training.examples }} examples (also trained on){% endif %}.
{% endif %}{% if tuning %}- Encoder tuned at fit time on its {{ tuning.examples }} examples{% if tuning.label_weight is not none %} and the label texts{% endif %}:
  {{ tuning.steps }} steps ({{ tuning.seconds }} s); support loss {{ tuning.support_loss_before }} -> {{ tuning.support_loss_after }}.
{% endif %}
```python
from fewshot_nlp import FewShotClassifier

clf = FewShotClassifier.from_pretrained("{{ repo_id }}")
clf.predict(["your text here"])
```
"""


class FewShotClassifier(
    ModelHubMixin,
    library_name="fewshot-nlp",
    pipeline_tag="text-classification",
    tags=["fewshot-nlp", "few-shot", "sentence-transformers", "text-classification"],
    model_card_template=MODEL_CARD_TEMPLATE,
):
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

    def __init__(
        self,
        encoder: SentenceEncoder | None = None,
        labels: Mapping | list | None = None,
        *,
        metric: str = "cosine",
        temperature: float = 0.05,
        prior_weight: float | str = 1.0,
        template: str = DEFAULT_TEMPLATE,
        multi_label: bool = False,
        threshold: float = 0.5,
        oos_threshold: float | None = None,
        oos_label: str = "oos",
    ):
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold={threshold!r} must be a probability in (0, 1), e.g. 0.5.")
        self.encoder = encoder if encoder is not None else SentenceEncoder()
        self.head = LabelDescriptionHead(
            self.encoder.embedding_dim,
            template=template,
            metric=metric,
            temperature=temperature,
            prior_weight=AUTO_START,
        )
        self.prior_weight = prior_weight  # checked, and given to the head when it is a number
        self.multi_label = bool(multi_label)
        self.threshold = float(threshold)
        self.oos_threshold = oos_threshold
        self.oos_label = oos_label
        self.multi_label_center: float | None = None
        #: how this model was meta-trained (algorithm, class split, inner loop), when it was
        self.meta_training: dict | None = None
        self._meta_lora: dict[str, torch.Tensor] | None = None  # adaptation always restarts here
        #: the settings and counts of :meth:`self_train`, when the encoder was self-trained
        self.self_training: dict | None = None
        #: the settings and measurements of the last ``fit(..., tune=...)``, when the encoder was tuned
        self.tuning: dict | None = None
        self._untuned: SentenceEncoder | None = None  # the encoder tuning started from; a new fit starts there
        if labels is not None:
            self.add_labels(labels)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        model_id_or_path: str | os.PathLike | None = None,
        labels: Mapping | list | None = None,
        *,
        lora=None,
        device: str | None = None,
        backend: str = "torch",
        revision: str | None = None,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike | None = None,
        local_files_only: bool = False,
        **options,
    ) -> FewShotClassifier:
        """Load a saved classifier (local folder or Hub repo), or start a new one on an encoder.

        ``None`` gives a new classifier on the embedded all-MiniLM-L6-v2 (works offline); a
        sentence-transformers / Hugging Face model id or folder gives a new classifier on that
        encoder; a folder or Hub repo written by :meth:`save_pretrained` / :meth:`push_to_hub`
        gives that classifier back. ``labels`` and ``options`` (see the class docstring) apply
        to new classifiers, and ``labels`` are added to a loaded one.

        ``backend="onnx"`` or ``"onnx-int8"`` runs the encoder on ONNX Runtime, for faster
        inference on CPUs (:meth:`set_backend`); the export is made once, offline, and kept in a
        saved classifier's ``onnx/`` folder (or the user cache). Needs ``pip install "fewshot-nlp[onnx]"``.
        """
        check_backend(backend)
        folder = None
        if model_id_or_path is not None and str(model_id_or_path) not in (DEFAULT_ENCODER, DEFAULT_MODEL):
            folder = find_saved_folder(
                str(model_id_or_path), CONFIG_NAME, LIBRARY_KEY, revision, token, cache_dir, local_files_only
            )
        if folder is None:
            if lora is not None and backend != TORCH:
                raise ValueError(f"lora={lora!r} is trained, which needs backend='torch' (not {backend!r}).")
            encoder = SentenceEncoder(model_id_or_path, lora=lora, device=device)
            encoder = encoder if backend == TORCH else OnnxEncoder.of(encoder, backend)
            return cls(encoder, labels, **options)
        fixed = sorted(set(options) - SETTABLE_AFTER_LOADING)
        if fixed or lora is not None:
            raise ValueError(
                f"{fixed or ['lora']} cannot change on a saved classifier ({model_id_or_path}); "
                f"only {sorted(SETTABLE_AFTER_LOADING)} and labels can be given when loading one."
            )
        # an export the folder carries is used; a new one is kept there when the folder is the user's (not a Hub cache)
        classifier = cls._load_folder(folder, device=device, backend=backend, writable=Path(model_id_or_path).is_dir())
        for name, value in options.items():
            setattr(classifier, name, value)
        if labels is not None:
            classifier.add_labels(labels)
        return classifier

    @classmethod
    def _load_folder(cls, folder: Path, device=None, backend: str = TORCH, writable: bool = False) -> FewShotClassifier:
        config = json.loads((folder / CONFIG_NAME).read_text())
        encoder = None
        if backend != TORCH:  # the export the folder carries runs without building the PyTorch model
            lora = LoraSettings(**config["lora"]) if config.get("lora") else None
            fields = {"lora_settings": lora, "fully_trainable": bool(config.get("encoder_folder"))}
            build = lambda: cls._folder_encoder(folder, config, device)  # noqa: E731 (only when asked for)
            encoder = carried_encoder(folder / ONNX_FOLDER, backend, config["encoder"], build, writable, **fields)
        if encoder is None:
            encoder = cls._folder_encoder(folder, config, device)
            encoder = encoder if backend == TORCH else OnnxEncoder.of(encoder, backend, folder / ONNX_FOLDER, writable)
        saved_revision = config.get("encoder_revision")
        if config["encoder"] == DEFAULT_MODEL and saved_revision != default_adapter_revision():
            warnings.warn(
                f"{folder} was made with default adapter {saved_revision}, this installation has "
                f"{default_adapter_revision()}: its examples were embedded by another encoder; fit it again.",
                stacklevel=3,
            )
        classifier = cls(
            encoder,
            multi_label=config["multi_label"],
            threshold=config["threshold"],
            oos_threshold=config["oos_threshold"],
            oos_label=config["oos_label"],
        )
        classifier.head = LabelDescriptionHead.load(folder)
        classifier._prior_weight = config.get("prior_weight", classifier.head.prior_weight)  # the head keeps its own
        classifier.multi_label_center = config.get("multi_label_center")
        classifier.meta_training = config.get("meta_training")
        classifier.self_training = config.get("self_training")
        classifier.tuning = config.get("tuning")
        if (folder / META_ADAPTER_NAME).is_file():
            meta_lora = load_file(folder / META_ADAPTER_NAME)
            if backend == TORCH and set(meta_lora) != set(encoder.lora_parameters()):
                raise ValueError(f"{folder / META_ADAPTER_NAME} does not match the encoder's LoRA tensors.")
            classifier._meta_lora = meta_lora
        return classifier

    @staticmethod
    def _folder_encoder(folder: Path, config: dict, device) -> SentenceEncoder:
        """The PyTorch encoder of a saved classifier: its own weights, or its base with its adapter."""
        if config.get("encoder_folder"):
            encoder = SentenceEncoder(str(folder / config["encoder_folder"]), device=device)
            encoder.name_or_path = config["encoder"]
            encoder.enable_full_finetuning()  # its own weights: saved again with the classifier
        else:
            encoder = SentenceEncoder(config["encoder"], lora=config.get("lora"), device=device)
        if config.get("lora"):
            encoder.load_lora_state_dict(load_file(folder / ADAPTER_NAME))
        return encoder

    # ------------------------------------------------------------------ building
    @property
    def prior_weight(self) -> float | str:
        """The setting: ``"auto"`` (chosen at each fit) or a fixed number of examples a label text is worth."""
        return self._prior_weight

    @prior_weight.setter
    def prior_weight(self, value: float | str) -> None:
        if value != AUTO:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"prior_weight={value!r} must be 'auto' or a number >= 0 (0 ignores label texts).")
            self.head.prior_weight = float(value)
        self._prior_weight = value

    @property
    def prior_weight_(self) -> float:
        """The weight of the label texts in use, in examples: chosen by the last fit when ``prior_weight="auto"``."""
        return self.head.prior_weight

    @property
    def classes_(self) -> list:
        """Labels in the column order of :meth:`predict_proba`."""
        return list(self.head.classes)

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
        texts, labels = texts_and_labels(texts, labels, column_mapping)
        texts = check_texts(texts)
        labels = check_labels(labels, len(texts), self.multi_label)
        tuning = _tuning_arguments(tune, adapt_steps, self.multi_label)
        encoder, head = self._untuned_start()
        head.clear_examples()  # labels known only from examples go with them; described ones stay
        if self.prior_weight == AUTO:
            head.prior_weight = AUTO_START  # chosen again from these examples
        if tuning is not None:
            return self._tuned_fit(encoder, head, texts, labels, tuning)
        if adapt_steps:
            self._adapt_encoder(texts, labels, adapt_steps, adapt_lr)
        return self._add_examples(head, texts, labels, encoder)

    def _untuned_start(self) -> tuple[SentenceEncoder, LabelDescriptionHead]:
        """The encoder a fit starts from and a copy of the head with label texts embedded by it."""
        head = copy.deepcopy(self.head)
        if self._untuned is None:
            return self.encoder, head
        head.add_descriptions(self._untuned, dict(head.descriptions))  # they were embedded by the tuned one
        return self._untuned, head

    def _tuned_fit(self, start, head, texts, labels, args: TuningArguments) -> FewShotClassifier:
        from .tuning import tune_encoder

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
        from .meta.fomaml import adapt
        from .meta.protonet import LOG_TEMPERATURE, ProtoMAMLTask
        from .tasks.episodes import Episode

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
        from .self_training import self_train

        if getattr(self.encoder, "backend", TORCH) != TORCH:
            raise ValueError(
                f"self_train trains the encoder, and this classifier runs on the {self.encoder.backend!r} backend "
                "(inference only): load it with backend='torch' (the default) or call set_backend('torch') first."
            )
        return self_train(self, texts, args, output_dir, examples)

    def set_backend(self, backend: str) -> FewShotClassifier:
        """Run the encoder on PyTorch (``"torch"``) or ONNX Runtime (``"onnx"``, ``"onnx-int8"``): any encoder,
        tuned or self-trained ones too, is exported once, offline, and the export cached under a hash of its
        weights; ``save_pretrained`` then carries it. Training (``fit`` with ``tune`` or ``adapt_steps``,
        :meth:`self_train`) needs ``"torch"``. Returns the classifier."""
        if getattr(self.encoder, "backend", TORCH) == check_backend(backend):
            return self
        encoder = getattr(self.encoder, "torch_encoder", self.encoder)  # back to PyTorch, or on to another backend
        if not isinstance(encoder, SentenceEncoder):
            raise ValueError(f"this classifier's encoder ({self.encoder.name_or_path}) runs on PyTorch only.")
        self.encoder = encoder if backend == TORCH else OnnxEncoder.of(encoder, backend)
        return self

    def add_examples(self, texts, labels) -> FewShotClassifier:
        """Add examples to the current classes (or new ones) without re-encoding the old ones."""
        texts = check_texts(texts)
        labels = check_labels(labels, len(texts), self.multi_label)
        return self._add_examples(copy.deepcopy(self.head), texts, labels)

    def _add_examples(self, head: LabelDescriptionHead, texts: list[str], labels: list, encoder=None):
        """Encode checked examples into ``head``, then make it the classifier's head (and ``encoder`` its encoder)."""
        encoder = encoder or self.encoder
        head, center = self._head_with_examples(head, texts, labels, encoder)
        if encoder is not self.encoder:  # a fit after tuning: back to the untuned encoder
            self._untuned, self.tuning = None, None
        self.encoder, self.head, self.multi_label_center = encoder, head, center  # commit only once everything worked
        return self

    def _head_with_examples(self, head, texts, labels, encoder, choose_weight: bool = True):
        """``head`` with the checked examples encoded into it (and ``prior_weight`` chosen when "auto"), and the
        multi-label centre."""
        rows, class_labels = zip(*[(i, c) for i, ls in enumerate(labels) for c in _as_list(ls, self.multi_label)])
        index = head.add_classes(list(class_labels))
        embeddings = encoder.encode(texts)[list(rows)]  # a multi-label text appears once per label
        head.add_examples(embeddings, index)
        if self.prior_weight == AUTO and choose_weight:
            fit = head.prior_weight_fit(embeddings, index)
            if fit:  # the best candidate; the smallest weight among equals
                head.prior_weight = max(fit, key=lambda weight: (fit[weight], -weight))
        if len(head.classes) < 2 and not self.multi_label:
            raise ValueError(f"only one class ({head.classes[0]!r}) was given; a classifier needs at least two labels.")
        center = self._calibrate_center(head, embeddings, index) if self.multi_label else None
        return head, center

    def add_labels(self, labels: Mapping | list) -> FewShotClassifier:
        """Add labels known by description (or by name through the template), e.g. zero-shot.

        For a label that already has examples, the description becomes its prior.
        """
        described = check_label_descriptions(labels)
        head = copy.deepcopy(self.head)
        head.add_descriptions(self.encoder, described)
        self.head = head
        return self

    @staticmethod
    def _calibrate_center(head, embeddings, index) -> float | None:
        """Score halfway between own-class (leave-one-out) and best other-class scores."""
        scores = head.leave_one_out_scores(embeddings, index)
        rows = torch.arange(len(index))
        own = scores[rows, torch.as_tensor(index)]
        others = scores.clone()
        others[rows, torch.as_tensor(index)] = float("-inf")
        best_other = others.max(dim=1).values
        valid = ~torch.isnan(own) & torch.isfinite(best_other)
        if not valid.any():
            return None
        return float((own[valid].mean() + best_other[valid].mean()) / 2)

    # --------------------------------------------------------------- predicting
    def _check_fitted(self):
        if not self.head.classes:
            raise ValueError(
                "this classifier has no labels yet; call fit(texts, labels) or pass labels=... "
                "to FewShotClassifier.from_pretrained for zero-shot."
            )
        if self.head.empty_classes:
            raise ValueError(f"labels {self.head.empty_classes} have neither examples nor a description.")

    def decision_function(self, texts) -> torch.Tensor:
        """Raw scores [N, C] (cosine similarity, or minus squared distance)."""
        self._check_fitted()
        return self.head.scores(self.encoder.encode(check_texts(texts)))

    def _probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        if self.multi_label:
            center = DEFAULT_MULTI_LABEL_CENTER if self.multi_label_center is None else self.multi_label_center
            return torch.sigmoid((scores - center) / self.head.temperature)
        return torch.softmax(scores / self.head.temperature, dim=-1)

    def predict_proba(self, texts) -> torch.Tensor:
        """Probabilities [N, C] in the order of ``classes_``; rows sum to 1 unless multi-label."""
        return self._probabilities(self.decision_function(texts))

    def predict(self, texts) -> list:
        """One label per text (a list of labels per text when multi-label).

        With ``oos_threshold`` set, a text whose best score is below it gets ``oos_label``;
        :meth:`explain` says which label was nearest and by how much it missed.
        """
        return self._decide(self.decision_function(texts))[0]

    def explain(self, texts) -> list[Prediction]:
        """What :meth:`predict` decided for each text, and why (see :class:`Prediction`).

        A text rejected as out of scope keeps its nearest label and that label's probability
        under their own names, beside the score and the threshold it fell short of, so the
        probability is never read as confidence in "out of scope".
        """
        texts = check_texts(texts)
        scores = self.decision_function(texts)
        labels, out_of_scope = self._decide(scores)
        best, nearest = scores.max(dim=1)
        probability = self._probabilities(scores).gather(1, nearest[:, None])[:, 0]
        return [
            Prediction(
                text, label, self.head.classes[i], float(p), float(b), self.oos_threshold, bool(oos), self.prior_weight_
            )
            for text, label, i, p, b, oos in zip(
                texts, labels, nearest.tolist(), probability.tolist(), best.tolist(), out_of_scope.tolist()
            )
        ]

    def _decide(self, scores: torch.Tensor) -> tuple[list, torch.Tensor]:
        """Labels from raw scores, and which rows fell below ``oos_threshold``."""
        best = scores.max(dim=1).values
        out_of_scope = (best < self.oos_threshold) if self.oos_threshold is not None else torch.zeros_like(best).bool()
        classes = self.head.classes
        if self.multi_label:
            chosen = self._probabilities(scores) >= self.threshold
            labels = [
                [self.oos_label] if oos else [c for c, keep in zip(classes, row.tolist()) if keep]
                for row, oos in zip(chosen, out_of_scope.tolist())
            ]
        else:
            labels = [self.oos_label if oos else classes[i] for i, oos in zip(scores.argmax(1).tolist(), out_of_scope)]
        return labels, out_of_scope

    def score(self, texts, labels) -> float:
        """Accuracy (exact match of the label sets when multi-label)."""
        predictions = self.predict(texts)
        labels = check_labels(labels, len(predictions), self.multi_label)
        if self.multi_label:
            return sum(set(p) == set(y) for p, y in zip(predictions, labels)) / len(labels)
        return sum(p == y for p, y in zip(predictions, labels)) / len(labels)

    def calibrate_oos(self, in_scope_texts, out_of_scope_texts) -> float:
        """Set ``oos_threshold`` to the value that best separates the two sets (balanced accuracy)."""
        self._check_fitted()
        inside = self.decision_function(check_texts(in_scope_texts, "in_scope_texts")).max(1).values
        outside = self.decision_function(check_texts(out_of_scope_texts, "out_of_scope_texts")).max(1).values
        self.oos_threshold = best_threshold(inside, outside)
        return self.oos_threshold

    # ------------------------------------------------------------------- saving
    def _config(self) -> dict:
        has_examples = bool((self.head.example_count > 0).any())
        has_descriptions = bool(self.head.has_description.any())
        head_kind = {(True, True): "mixture", (True, False): "prototype", (False, True): "label_description"}
        return {
            LIBRARY_KEY: __version__,
            "encoder": self.encoder.name_or_path,
            "encoder_revision": default_adapter_revision() if self.encoder.name_or_path == DEFAULT_MODEL else None,
            "encoder_folder": ENCODER_FOLDER if getattr(self.encoder, "fully_trainable", False) else None,
            "head_type": head_kind.get((has_examples, has_descriptions), "empty"),
            "labels": self.classes_,
            "descriptions": self.head.descriptions,
            "metric": self.head.metric,
            "temperature": self.head.temperature,
            "prior_weight": self.prior_weight,  # the setting; the head's config holds the weight in use
            "multi_label": self.multi_label,
            "threshold": self.threshold,
            "multi_label_center": self.multi_label_center,
            "oos_threshold": self.oos_threshold,
            "oos_label": self.oos_label,
            "lora": None if self.encoder.lora_settings is None else vars(self.encoder.lora_settings),
            "meta_training": self.meta_training,
            "self_training": self.self_training,
            "tuning": self.tuning,
        }

    def _save_pretrained(self, save_directory: Path) -> None:
        save_directory = Path(save_directory)
        trained_encoder = self.encoder.lora_settings is not None or getattr(self.encoder, "fully_trainable", False)
        if self.head.classes or not trained_encoder:  # a meta-trained encoder is saved before it has labels
            self._check_fitted()  # with nothing worth saving, this explains how to add labels
        self.head.save(save_directory)
        if getattr(self.encoder, "fully_trainable", False):
            self.encoder.model.save(str(save_directory / ENCODER_FOLDER), safe_serialization=True)
        if self.encoder.lora_settings is not None:
            save_file(self.encoder.lora_state_dict(), save_directory / ADAPTER_NAME)
        if self._meta_lora is not None:  # adapted at fit time: keep the starting point for the next fit
            save_file({n: t.contiguous() for n, t in self._meta_lora.items()}, save_directory / META_ADAPTER_NAME)
        save_export(self.encoder, save_directory)  # the ONNX model it runs on, if any (onnx/)
        config = self._config()
        (save_directory / CONFIG_NAME).write_text(json.dumps(config, indent=2, ensure_ascii=False))

    def generate_model_card(self, *args, **kwargs) -> ModelCard:
        config = self._config()
        card_data = ModelCardData(
            library_name="fewshot-nlp",
            pipeline_tag="text-classification",
            base_model=config["encoder"] if not os.path.isdir(config["encoder"]) else None,
            tags=["fewshot-nlp", "few-shot", "sentence-transformers", "text-classification"],
        )
        card_data.labels = [str(label) for label in config["labels"]]
        return ModelCard.from_template(
            card_data,
            template_str=MODEL_CARD_TEMPLATE,
            title=kwargs.get("title", "Few-shot text classifier"),
            encoder=config["encoder"],
            head_kind=config["head_type"].replace("_", " "),
            n_labels=len(config["labels"]),
            labels=", ".join(f"`{label}`" for label in config["labels"]),
            multi_label=config["multi_label"],
            oos_threshold=config["oos_threshold"],
            meta_training=config["meta_training"],
            self_training=config["self_training"],
            tuning=config["tuning"],
            repo_id=kwargs.get("repo_id", "<this folder or repo>"),
        )


@dataclass
class Prediction:
    """One text's decision and its reasons, as :meth:`FewShotClassifier.explain` returns it.

    ``label`` is what :meth:`~FewShotClassifier.predict` returns (``oos_label`` when rejected;
    a list when multi-label). ``nearest_label`` is the best-scoring label and
    ``nearest_probability`` its probability, whether or not the text was rejected. A text is
    out of scope when ``score`` (its best raw score) is below ``oos_threshold``. ``prior_weight``
    is how many examples a label text was worth in the class vectors that scored it.
    """

    text: str
    label: str | list
    nearest_label: str
    nearest_probability: float
    score: float
    oos_threshold: float | None
    out_of_scope: bool
    #: how many examples each label text weighed against the examples (``prior_weight_``)
    prior_weight: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def best_threshold(inside: torch.Tensor, outside: torch.Tensor) -> float:
    """Threshold t maximising balanced accuracy of "score >= t means in scope"."""
    candidates = torch.cat([inside, outside]).unique()
    # Midpoints between neighbouring scores generalise better than the scores themselves.
    candidates = torch.cat([candidates[:1] - 1e-6, (candidates[1:] + candidates[:-1]) / 2, candidates[-1:] + 1e-6])
    kept_inside = (inside[None, :] >= candidates[:, None]).float().mean(1)
    rejected_outside = (outside[None, :] < candidates[:, None]).float().mean(1)
    return float(candidates[((kept_inside + rejected_outside) / 2).argmax()])


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


def _as_list(label, multi_label: bool) -> list:
    return list(label) if multi_label else [label]
