"""The classifier over an encoder it does not train: class vectors from examples and label texts, predictions
with out-of-scope rejection and multi-label decisions, saving and Hub sharing.

:class:`~fewshot_nlp.FewShotClassifier` is this classifier plus training of the encoder at fit time (``tune``,
``adapt_steps``, ``self_train``); meta-training evaluates and writes this one, so it sits below the trainers.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from huggingface_hub import ModelCard, ModelHubMixin

from .backends import TORCH, OnnxEncoder, check_backend
from .classifier_folder import CARD_TAGS, MODEL_CARD_TEMPLATE, model_card, read_folder, write_folder
from .encoders import DEFAULT_ENCODER, DEFAULT_MODEL, SentenceEncoder
from .heads import DEFAULT_TEMPLATE, LabelDescriptionHead
from .hub import CONFIG_NAME, LIBRARY_KEY, find_saved_folder
from .inputs import check_label_descriptions, check_labels, check_texts, texts_and_labels

SETTABLE_AFTER_LOADING = {"oos_threshold", "oos_label", "threshold", "prior_weight"}
AUTO = "auto"  # prior_weight chosen from the support set at each fit (an option; 1.0 is the default)
AUTO_START = 1.0  # the weight before any choice, and with one example per class
DEFAULT_MULTI_LABEL_CENTER = 0.3  # cosine score at probability 0.5 when nothing can calibrate it


class PrototypeClassifier(
    ModelHubMixin,
    library_name="fewshot-nlp",
    pipeline_tag="text-classification",
    tags=list(CARD_TAGS),  # the Hub mixin appends its own tag to the list it is given
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """Prototypes and label texts over a fixed encoder; its arguments are :class:`~fewshot_nlp.FewShotClassifier`'s."""

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
    ) -> PrototypeClassifier:
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
        classifier = read_folder(cls, folder, device=device, backend=backend, writable=Path(model_id_or_path).is_dir())
        for name, value in options.items():
            setattr(classifier, name, value)
        if labels is not None:
            classifier.add_labels(labels)
        return classifier

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

    def fit(self, texts, labels=None, *, column_mapping: Mapping | None = None) -> PrototypeClassifier:
        """Learn class prototypes from examples, replacing earlier examples (descriptions stay).

        ``texts`` may be a list (with ``labels``), a ``datasets.Dataset`` or a DataFrame (with
        ``column_mapping``). On any error the classifier is left exactly as it was.
        """
        texts, labels = self._checked_examples(texts, labels, column_mapping)
        encoder, head = self._fit_start()
        return self._add_examples(head, texts, labels, encoder)

    def _checked_examples(self, texts, labels, column_mapping) -> tuple[list[str], list]:
        texts, labels = texts_and_labels(texts, labels, column_mapping)
        texts = check_texts(texts)
        return texts, check_labels(labels, len(texts), self.multi_label)

    def _fit_start(self) -> tuple[SentenceEncoder, LabelDescriptionHead]:
        """The encoder a fit embeds with, and a copy of the head without examples (label texts stay)."""
        head = copy.deepcopy(self.head)
        head.clear_examples()  # labels known only from examples go with them; described ones stay
        if self.prior_weight == AUTO:
            head.prior_weight = AUTO_START  # chosen again from these examples
        return self.encoder, head

    def set_backend(self, backend: str) -> PrototypeClassifier:
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

    def add_examples(self, texts, labels) -> PrototypeClassifier:
        """Add examples to the current classes (or new ones) without re-encoding the old ones."""
        texts = check_texts(texts)
        labels = check_labels(labels, len(texts), self.multi_label)
        return self._add_examples(copy.deepcopy(self.head), texts, labels)

    def _add_examples(self, head: LabelDescriptionHead, texts: list[str], labels: list, encoder=None):
        """Encode checked examples into ``head``, then make it the classifier's head (and ``encoder`` its encoder)."""
        encoder = encoder or self.encoder
        head, center = self._head_with_examples(head, texts, labels, encoder)
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

    def add_labels(self, labels: Mapping | list) -> PrototypeClassifier:
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
    def _save_pretrained(self, save_directory: Path) -> None:
        write_folder(self, save_directory)

    def generate_model_card(self, *args, **kwargs) -> ModelCard:
        return model_card(self, **kwargs)


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


def _as_list(label, multi_label: bool) -> list:
    return list(label) if multi_label else [label]
