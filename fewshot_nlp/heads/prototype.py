"""PrototypeHead: one vector per class, built from example embeddings and/or a label description.

A single formula covers the three regimes the package offers::

    c_k = (sum of the K_k example embeddings + w_k * d_k) / (K_k + w_k)

where ``d_k`` is the class's description embedding and ``w_k`` is ``prior_weight`` when the
class has a description (0 otherwise). With no examples the class vector is the description
(zero-shot); with no description it is the class mean (prototypes); with both, the
description is a prior worth ``prior_weight`` examples (the mixture).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

METRICS = ("cosine", "euclidean")
#: label-text weights (in examples) the classifier's adaptive mixture chooses among; 1024 is, in effect,
#: the label text alone and 0 the examples alone
PRIOR_WEIGHT_CANDIDATES = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 1024.0)
CONFIG_NAME = "head_config.json"
WEIGHTS_NAME = "head.safetensors"


def mixed_class_vectors(
    example_sum: torch.Tensor,
    example_count: torch.Tensor,
    description: torch.Tensor,
    has_description: torch.Tensor,
    prior_weight: float,
) -> torch.Tensor:
    """``c_k = (sum of K_k examples + w_k d_k) / (K_k + w_k)``, the formula of the module docstring.

    A plain, differentiable function so that meta-training builds its class vectors exactly as
    the classifier does at test time: ``w_k`` is ``prior_weight`` for a described class with
    examples, 1 for a described class without any (zero-shot), 0 for an undescribed one.
    """
    has_examples = example_count > 0
    weight = has_description.to(example_sum.dtype) * torch.where(
        has_examples, torch.full_like(example_count, float(prior_weight)), torch.ones_like(example_count)
    ).to(example_sum.dtype)
    total = example_sum + weight[:, None] * description
    return total / (example_count.to(example_sum.dtype) + weight)[:, None]


def similarity(embeddings: torch.Tensor, vectors: torch.Tensor, metric: str) -> torch.Tensor:
    """[N, C] cosine similarity, or minus the squared euclidean distance (written out, not
    ``torch.cdist``, so it has a double backward)."""
    if metric == "cosine":
        return nn.functional.normalize(embeddings, dim=-1) @ nn.functional.normalize(vectors, dim=-1).T
    return -((embeddings**2).sum(-1, keepdim=True) - 2 * embeddings @ vectors.T + (vectors**2).sum(-1)[None, :])


class PrototypeHead(nn.Module):
    """Scores embeddings against class vectors (see the module docstring for the formula).

    Args:
        embedding_dim: size of the embeddings.
        classes: class labels, in score-column order.
        metric: ``"cosine"`` (cosine similarity to the normalised class vector) or
            ``"euclidean"`` (negative squared distance, as in prototypical networks).
        temperature: logits = scores / temperature.
        prior_weight: how many examples a description is worth (``lambda``).
    """

    config_keys = ("embedding_dim", "classes", "metric", "temperature", "prior_weight")

    def __init__(
        self,
        embedding_dim: int,
        classes: list | None = None,
        metric: str = "cosine",
        temperature: float = 0.05,
        prior_weight: float = 1.0,
    ):
        super().__init__()
        if metric not in METRICS:
            raise ValueError(f"metric={metric!r} is not supported; use one of {list(METRICS)}.")
        if not temperature > 0:
            raise ValueError(f"temperature={temperature!r} must be > 0, e.g. 0.05.")
        if not prior_weight >= 0:
            raise ValueError(f"prior_weight={prior_weight!r} must be >= 0 (0 ignores descriptions).")
        self.embedding_dim = int(embedding_dim)
        self.metric = metric
        self.temperature = float(temperature)
        self.prior_weight = float(prior_weight)
        self.classes: list = []
        self.register_buffer("example_sum", torch.zeros(0, self.embedding_dim))
        self.register_buffer("example_count", torch.zeros(0))
        self.register_buffer("description", torch.zeros(0, self.embedding_dim))
        self.register_buffer("has_description", torch.zeros(0, dtype=torch.bool))
        self.add_classes(classes or [])

    # ------------------------------------------------------------------ building
    def add_classes(self, classes) -> list[int]:
        """Append the classes not yet present; returns the index of every given class."""
        new = [c for c in dict.fromkeys(classes) if c not in self.classes]
        if new:
            n = len(new)
            self.classes.extend(new)
            self.example_sum = torch.cat([self.example_sum, self.example_sum.new_zeros(n, self.embedding_dim)])
            self.example_count = torch.cat([self.example_count, self.example_count.new_zeros(n)])
            self.description = torch.cat([self.description, self.description.new_zeros(n, self.embedding_dim)])
            self.has_description = torch.cat([self.has_description, self.has_description.new_zeros(n)])
        index = {c: i for i, c in enumerate(self.classes)}
        return [index[c] for c in classes]

    def add_examples(self, embeddings: torch.Tensor, class_index: torch.Tensor | list[int]) -> None:
        """Accumulate example embeddings (row i belongs to class ``class_index[i]``)."""
        class_index = torch.as_tensor(class_index, dtype=torch.long)
        embeddings = embeddings.to(self.example_sum)
        self._check_embeddings(embeddings)
        self.example_sum = self.example_sum.index_add(0, class_index, embeddings)
        self.example_count = self.example_count.index_add(0, class_index, torch.ones(len(class_index)))

    def set_descriptions(self, embeddings: torch.Tensor, class_index: list[int]) -> None:
        """Set (or replace) the description embedding of the given classes."""
        embeddings = embeddings.to(self.description)
        self._check_embeddings(embeddings)
        index = torch.as_tensor(class_index, dtype=torch.long)
        self.description = self.description.index_copy(0, index, embeddings)
        self.has_description = self.has_description.index_fill(0, index, True)

    def clear_examples(self) -> None:
        """Forget all examples; classes left with no description are dropped."""
        keep = self.has_description.nonzero().flatten()
        self.classes = [self.classes[i] for i in keep.tolist()]
        self.description = self.description[keep]
        self.has_description = self.has_description[keep]
        self.example_sum = torch.zeros_like(self.description)
        self.example_count = torch.zeros(len(keep))

    def _check_embeddings(self, embeddings: torch.Tensor) -> None:
        if embeddings.ndim != 2 or embeddings.shape[1] != self.embedding_dim:
            raise ValueError(
                f"embeddings of shape {tuple(embeddings.shape)} do not fit this head "
                f"(expected [n, {self.embedding_dim}]); were they made by another encoder?"
            )

    # ------------------------------------------------------------------- scoring
    @property
    def empty_classes(self) -> list:
        """Classes with neither examples nor a description: they cannot be scored."""
        empty = (self.example_count == 0) & ~self.has_description
        return [c for c, e in zip(self.classes, empty.tolist()) if e]

    def class_vectors(self) -> torch.Tensor:
        """[C, dim] class vectors from the formula in the module docstring."""
        if self.empty_classes:
            raise ValueError(
                f"classes {self.empty_classes} have neither examples nor a description; "
                "add examples or a description for each, or remove them."
            )
        return mixed_class_vectors(
            self.example_sum, self.example_count, self.description, self.has_description, self.prior_weight
        )

    def scores(self, embeddings: torch.Tensor, class_vectors: torch.Tensor | None = None) -> torch.Tensor:
        """Raw similarities [N, C]: cosine, or minus the squared euclidean distance."""
        vectors = self.class_vectors() if class_vectors is None else class_vectors
        return similarity(embeddings.to(vectors), vectors, self.metric)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Logits [N, C] = scores / temperature."""
        return self.scores(embeddings) / self.temperature

    def leave_one_out_scores(
        self, embeddings: torch.Tensor, class_index: list[int], prior_weight: float | None = None
    ) -> torch.Tensor:
        """Scores of examples already in the head, each against its own class vector *without it*.

        Rows whose class would be left with nothing (a single example, no description) are NaN.
        Used to calibrate thresholds and to choose ``prior_weight`` on the support set without
        fooling ourselves; ``prior_weight`` (default: the head's) builds every class vector.
        """
        prior_weight = self.prior_weight if prior_weight is None else float(prior_weight)
        embeddings = embeddings.to(self.example_sum)
        index = torch.as_tensor(class_index, dtype=torch.long)
        vectors = mixed_class_vectors(
            self.example_sum, self.example_count, self.description, self.has_description, prior_weight
        )
        all_scores = self.scores(embeddings, vectors)
        remaining = self.example_count[index] - 1
        has_description = self.has_description[index].float()
        weight = has_description * torch.where(remaining > 0, torch.tensor(prior_weight), torch.tensor(1.0))
        own_count = remaining + weight
        own = (self.example_sum[index] - embeddings + weight[:, None] * self.description[index]) / own_count.clamp_min(
            1e-12
        )[:, None]
        if self.metric == "cosine":
            own_scores = (nn.functional.normalize(embeddings, dim=-1) * nn.functional.normalize(own, dim=-1)).sum(-1)
        else:
            own_scores = -((embeddings - own) ** 2).sum(-1)
        own_scores = torch.where(own_count > 0, own_scores, torch.full_like(own_scores, float("nan")))
        return all_scores.scatter(1, index[:, None], own_scores[:, None])

    def prior_weight_fit(
        self, embeddings: torch.Tensor, class_index: list[int], candidates=PRIOR_WEIGHT_CANDIDATES
    ) -> dict[float, float]:
        """How well each candidate ``prior_weight`` predicts the examples ``embeddings`` (already in the
        head), each left out of its own class: the mean log-probability of its class, per candidate.

        Only examples whose class keeps another example count: with one example per class, the
        class vector left is the label text alone whatever the weight, so nothing can be learned
        about the examples' worth (empty result). Empty too when no class has a label text.
        """
        index = torch.as_tensor(class_index, dtype=torch.long)
        usable = self.example_count[index] > 1
        if not bool(usable.any()) or not bool(self.has_description.any()):
            return {}
        fit = {}
        for weight in candidates:
            scores = self.leave_one_out_scores(embeddings[usable], index[usable].tolist(), weight)
            log_probability = torch.log_softmax(scores / self.temperature, dim=-1)
            fit[float(weight)] = float(log_probability.gather(1, index[usable][:, None]).mean())
        return fit

    # ------------------------------------------------------------------ saving
    def get_config(self) -> dict:
        return {"type": type(self).__name__, **{key: getattr(self, key) for key in self.config_keys}}

    def save(self, directory: str | Path) -> None:
        """Write ``head_config.json`` and ``head.safetensors`` (no pickle)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_NAME).write_text(json.dumps(self.get_config(), indent=2, ensure_ascii=False))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, directory / WEIGHTS_NAME)

    @classmethod
    def load(cls, directory: str | Path) -> PrototypeHead:
        directory = Path(directory)
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            if not (directory / name).is_file():
                raise ValueError(f"{directory} has no {name}; it was not written by PrototypeHead.save.")
        config = json.loads((directory / CONFIG_NAME).read_text())
        head_class = {c.__name__: c for c in (cls, *cls.__subclasses__())}.get(config.pop("type"), cls)
        classes = config.pop("classes")
        head = head_class(**config)
        head.add_classes(classes)
        head.load_state_dict(load_file(directory / WEIGHTS_NAME))
        return head
