"""Episode losses for classification: prototypical networks and Proto-MAML.

Both score queries against class vectors of L2-normalised embeddings, divided by a
temperature: by squared euclidean distance (prototypical networks), or by cosine similarity
as the classifier does by default. Proto-MAML writes the same scores as a linear layer,
``W = 2c``, ``b = -|c|^2`` (``-|x - c|^2 = 2c.x - |c|^2 - |x|^2``, and ``|x|^2`` is shared by
all classes) or ``W = c / |c|``, ``b = 0`` (cosine), which the inner loop then adapts together
with the LoRA weights.

Label-aware episodes (``label_weight`` set) build each class vector exactly as the classifier
does at test time, ``(sum of K support embeddings + w * label embedding) / (K + w)``
(:func:`~fewshot_nlp.heads.prototype.mixed_class_vectors`), with the label text encoded by the
same adapted encoder, so the gradient reaches the adapter from both sides; an episode with no
support texts is zero-shot (the class vector is the label embedding alone).
"""

from __future__ import annotations

import torch
from torch import nn

from ..heads.prototype import mixed_class_vectors, similarity
from ..tasks.episodes import Episode

HEAD_WEIGHT, HEAD_BIAS = "head.weight", "head.bias"
LOG_TEMPERATURE = "log_temperature"  # meta-learned with the LoRA tensors


def temperature_of(weights: dict[str, torch.Tensor]) -> torch.Tensor:
    return weights[LOG_TEMPERATURE].exp()


def episode_targets(episode: Episode) -> tuple[torch.Tensor, torch.Tensor]:
    """Class indices (in ``episode.classes`` order) of the support and query texts."""
    index = {c: i for i, c in enumerate(episode.classes)}
    return (
        torch.tensor([index[y] for y in episode.support_labels], dtype=torch.long),
        torch.tensor([index[y] for y in episode.query_labels], dtype=torch.long),
    )


def prototypes(embeddings: torch.Tensor, targets: torch.Tensor, n_classes: int) -> torch.Tensor:
    counts = torch.bincount(targets, minlength=n_classes).clamp_min(1).to(embeddings)
    return (
        torch.zeros(n_classes, embeddings.shape[1]).to(embeddings).index_add(0, targets, embeddings) / counts[:, None]
    )


def episode_class_vectors(
    encoder,
    weights,
    support_inputs,
    support_targets: torch.Tensor,
    n_classes: int,
    label_inputs=None,
    label_weight=None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Class vectors of an episode under ``weights``, with the support and label embeddings
    that made them (labels None without ``label_weight``).

    Without ``label_weight`` they are the support prototypes; with it, the classifier's mixture
    of support embeddings and label embedding (zero-shot when the support set is empty).
    """
    dim = encoder.embedding_dim
    support = (
        encoder.functional_forward(weights, support_inputs)
        if len(support_targets)
        else torch.zeros(0, dim, device=encoder.device)
    )
    if label_weight is None:
        return prototypes(support, support_targets, n_classes), support, None
    labels = encoder.functional_forward(weights, label_inputs)
    example_sum = torch.zeros(n_classes, dim).to(labels).index_add(0, support_targets, support.to(labels))
    counts = torch.bincount(support_targets, minlength=n_classes).to(labels)
    described = torch.ones(n_classes, dtype=torch.bool, device=labels.device)
    return mixed_class_vectors(example_sum, counts, labels, described, label_weight), support, labels


def squared_distance_logits(queries: torch.Tensor, centres: torch.Tensor, temperature) -> torch.Tensor:
    """``-|q - c|^2 / T`` written out: ``torch.cdist`` has no double backward."""
    return similarity(queries, centres, "euclidean") / temperature


class FrozenEmbeddings:
    """The encoder's embeddings at its starting point (LoRA switched off, ``lora_B`` zero; or,
    when every weight is trained, the weights as they were when this was made), cached by text.

    They are the anchor of :func:`protonet_loss` and :class:`ProtoMAMLTask`: training texts
    recur across episodes, so each is encoded once, and alone: in a batch, padding changes the
    last bits, and a resumed run, which meets the texts in other batches, would then drift from
    an uninterrupted one.
    """

    def __init__(self, encoder):
        self.encoder = encoder
        self.cache: dict[str, torch.Tensor] = {}
        self.reference = {
            name: torch.zeros_like(p) if "lora_B" in name else p.detach().clone()
            for name, p in encoder.trainable_parameters().items()
        }

    def __call__(self, texts: list[str]) -> torch.Tensor:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            training = self.encoder.training
            self.encoder.eval()  # the reference has no dropout, whenever a text first comes up
            with torch.no_grad():
                for text in missing:
                    self.cache[text] = self.encoder.functional_forward(self.reference, [text])[0]
            self.encoder.train(training)
        return torch.stack([self.cache[t] for t in texts])

    def drift(self, texts: list[str], embeddings: torch.Tensor) -> torch.Tensor:
        """Mean squared distance of ``embeddings`` (of ``texts``) from the frozen encoder's."""
        return ((embeddings - self(texts).to(embeddings)) ** 2).sum(-1).mean()


def protonet_loss(
    encoder,
    weights: dict[str, torch.Tensor],
    episode: Episode,
    anchor: FrozenEmbeddings | None = None,
    label_weight: float | None = None,
    metric: str = "euclidean",
    symmetric_weight: float = 0.0,
) -> tuple:
    """Cross-entropy of the queries against the episode's class vectors; returns (loss, accuracy, drift).

    ``weights`` holds the LoRA tensors and ``log_temperature``. ``label_weight`` makes the class
    vectors label-aware (see the module docstring; needs ``episode.label_texts``). ``drift`` is
    the mean squared distance of the episode's embeddings from the frozen encoder's (``anchor``;
    0 without one), a penalty that keeps the adapted metric near the pretrained one.
    ``symmetric_weight`` adds the transposed cross-entropy, each class vector picking its own
    queries among all of the episode's (CLIP's symmetric loss): the first term asks a text to
    prefer its class over the others, this one asks a class to prefer its texts over the others'.
    """
    support_targets, query_targets = (t.to(encoder.device) for t in episode_targets(episode))
    centres, support, labels = episode_class_vectors(
        encoder,
        weights,
        episode.support_texts,
        support_targets,
        episode.way,
        _label_texts(episode, label_weight),
        label_weight,
    )
    query = encoder.functional_forward(weights, episode.query_texts)
    logits = similarity(query, centres, metric) / temperature_of(weights)
    accuracy = (logits.argmax(1) == query_targets).float().mean()
    drift = torch.zeros((), device=query.device)
    if anchor is not None:
        texts = episode.support_texts + episode.query_texts + (episode.label_texts if labels is not None else [])
        drift = anchor.drift(texts, torch.cat([support, query] + ([labels] if labels is not None else [])))
    loss = nn.functional.cross_entropy(logits, query_targets)
    if symmetric_weight:
        own = nn.functional.one_hot(query_targets, episode.way).T.to(logits)  # (class, query): its queries
        loss = loss + symmetric_weight * nn.functional.cross_entropy(logits.T, own / own.sum(1, keepdim=True))
    return loss, float(accuracy), drift


def _label_texts(episode: Episode, label_weight) -> list[str] | None:
    if label_weight is None:
        return None
    if not episode.label_texts or len(episode.label_texts) != episode.way:
        raise ValueError("label-aware training needs episode.label_texts, one per class (EpisodeSampler adds them).")
    return episode.label_texts


class ProtoMAMLTask:
    """Support/query losses of one episode for :func:`first_order_maml_gradients`.

    The head starts from the support prototypes computed with the meta-learned weights, so
    episodes with different label sets share one initialisation. That start is a function of
    the meta-learned weights, so the first-order meta-gradient reaches them by two paths: the
    encoder at the adapted weights, and the head's initialisation
    (:meth:`head_init_gradients`), as in Proto-MAML. With ``label_weight`` the head starts from
    the label-aware class vectors instead (an episode without support texts is zero-shot and
    has no inner loop). With an ``anchor``, the query loss also carries ``anchor_weight`` times
    the drift of the query embeddings (at the adapted weights) from the frozen encoder's.
    """

    def __init__(
        self,
        encoder,
        weights: dict[str, torch.Tensor],
        episode: Episode,
        anchor: FrozenEmbeddings | None = None,
        anchor_weight: float = 0.0,
        differentiable_head: bool = False,
        label_weight: float | None = None,
        metric: str = "euclidean",
    ):
        self.encoder = encoder
        self.support_targets, self.query_targets = (t.to(encoder.device) for t in episode_targets(episode))
        self.support_inputs = encoder.tokenize(episode.support_texts) if episode.support_texts else None
        self.query_inputs = encoder.tokenize(episode.query_texts)
        label_texts = _label_texts(episode, label_weight)
        self.label_inputs = encoder.tokenize(label_texts) if label_texts else None
        self.way, self.label_weight, self.metric = episode.way, label_weight, metric
        self._start_head = None  # (leaves, head with its graph) for head_init_gradients
        if differentiable_head:  # one support forward serves the head and its gradient
            leaves = {n: w.detach().requires_grad_(True) for n, w in weights.items()}
            head = self._head_from(leaves)
            self._start_head = (leaves, head)
            self.head = {n: h.detach() for n, h in head.items()}
        else:
            with torch.no_grad():
                self.head = self._head_from(weights)
        self.anchor, self.anchor_weight, self.query_texts = anchor, anchor_weight, episode.query_texts
        self.query_stats: dict[str, float] = {}  # of the last query_loss call: loss (cross-entropy), drift

    def _head_from(self, weights) -> dict[str, torch.Tensor]:
        """The linear head that scores as the class vectors under ``weights`` do (module docstring)."""
        centres, _, _ = episode_class_vectors(
            self.encoder,
            weights,
            self.support_inputs,
            self.support_targets,
            self.way,
            self.label_inputs,
            self.label_weight,
        )
        if self.metric == "cosine":
            return {HEAD_WEIGHT: nn.functional.normalize(centres, dim=-1), HEAD_BIAS: centres.new_zeros(self.way)}
        return {HEAD_WEIGHT: 2 * centres, HEAD_BIAS: -(centres**2).sum(-1)}

    def head_init_gradients(self, head_gradients) -> dict[str, torch.Tensor]:
        """Chain the query loss's gradients for the head back through its initialisation.

        First order: the head's adapted values stand in for its start (the inner loop's
        Jacobian is taken as the identity, as for the LoRA tensors), so this returns
        ``(dL/dW, dL/db) . d(W0, b0)/d weights``: one backward through the support forward
        that built the head (kept when the task was made with ``differentiable_head=True``).
        Without it the prototypes the classifier uses at test time would get no training
        signal from the head's side.
        """
        if self._start_head is None:
            raise ValueError("head_init_gradients needs ProtoMAMLTask(..., differentiable_head=True).")
        leaves, head = self._start_head
        surrogate = sum((head[n] * head_gradients[n].detach()).sum() for n in head)
        grads = torch.autograd.grad(surrogate, list(leaves.values()), allow_unused=True)
        return {n: (g if g is not None else torch.zeros_like(leaves[n])) for n, g in zip(leaves, grads)}

    def _scores(self, weights, embeddings) -> torch.Tensor:
        return (embeddings @ weights[HEAD_WEIGHT].T + weights[HEAD_BIAS]) / temperature_of(weights)

    def _logits(self, weights, inputs) -> torch.Tensor:
        return self._scores(weights, self.encoder.functional_forward(weights, inputs))

    def support_loss(self, weights) -> torch.Tensor:
        return nn.functional.cross_entropy(self._logits(weights, self.support_inputs), self.support_targets)

    def query_loss(self, weights) -> torch.Tensor:
        embeddings = self.encoder.functional_forward(weights, self.query_inputs)
        loss = nn.functional.cross_entropy(self._scores(weights, embeddings), self.query_targets)
        self.query_stats = {"loss": float(loss.detach())}
        if self.anchor is None:
            return loss
        drift = self.anchor.drift(self.query_texts, embeddings)
        self.query_stats["drift"] = float(drift.detach())
        return loss + self.anchor_weight * drift

    def query_accuracy(self, weights) -> float:
        with torch.no_grad():
            return float((self._logits(weights, self.query_inputs).argmax(1) == self.query_targets).float().mean())
