"""First-order MAML over a dict of tensors (the LoRA weights, plus any task-specific head).

Generic on purpose: the caller supplies the support and query losses as functions of a
``{name: tensor}`` dict, usually through ``torch.func.functional_call(model, weights, ...)``,
so classification and translation share this code. No model is ever deep-copied: the
"fast weights" are plain tensors swapped into the frozen model for each call.

peft starts ``lora_B`` at zero, so at a fresh adapter the support loss has no gradient with
respect to ``lora_A`` (it enters only through ``B @ A``): the first inner step moves ``B``
alone. From the second step on, and in the outer update (taken at the adapted weights,
where ``B`` is no longer zero), ``A`` moves too. ``tests/test_meta.py`` checks exactly this.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import torch

Weights = dict[str, torch.Tensor]
LossFn = Callable[[Weights], torch.Tensor]


@dataclass
class AdaptationResult:
    """What one task's inner loop produced."""

    weights: Weights  # the adapted fast weights (detached)
    support_losses: list[float]  # support loss before each inner step


def adapt(
    weights: Mapping[str, torch.Tensor],
    support_loss: LossFn,
    steps: int,
    lr: float,
    frozen: Collection[str] = (),
) -> AdaptationResult:
    """``steps`` plain SGD steps on ``support_loss`` from ``weights`` (which are not modified).

    Names in ``frozen`` are passed to the loss but not adapted (e.g. a temperature: adapted on
    a support set the model already fits, it only sharpens, and the query loss suffers).
    """
    if steps < 0 or lr < 0:
        raise ValueError(f"inner steps={steps!r} and lr={lr!r} must be >= 0.")
    fast = {name: w.detach().clone().requires_grad_(name not in frozen) for name, w in weights.items()}
    trainable = [name for name in fast if name not in frozen]
    losses = []
    for _ in range(steps):
        loss = support_loss(fast)
        grads = torch.autograd.grad(loss, [fast[name] for name in trainable], allow_unused=True)
        losses.append(float(loss.detach()))
        with torch.no_grad():
            for name, grad in zip(trainable, grads):
                if grad is not None:
                    fast[name] = (fast[name] - lr * grad).detach().requires_grad_(True)
    return AdaptationResult({name: w.detach() for name, w in fast.items()}, losses)


def first_order_maml_gradients(
    weights: Mapping[str, torch.Tensor],
    support_loss: LossFn,
    query_loss: LossFn,
    inner_steps: int,
    inner_lr: float,
    task_weights: Mapping[str, torch.Tensor] | None = None,
    frozen: Collection[str] = (),
) -> tuple[float, Weights, Weights]:
    """One task's first-order MAML contribution.

    Args:
        weights: the meta-parameters (e.g. LoRA tensors); not modified.
        support_loss, query_loss: functions of a ``{name: tensor}`` dict holding ``weights``
            and ``task_weights``.
        task_weights: task-specific parameters adapted in the inner loop but not meta-learned
            (e.g. a head initialised from the support prototypes).
        frozen: names meta-learned in the outer loop only, not adapted in the inner loop.

    Returns:
        (query loss at the adapted weights, gradient of that loss for each name in ``weights``
        and ``task_weights`` taken at the adapted weights, i.e. the first-order meta-gradient,
        and the adapted weights). When ``task_weights`` are themselves computed from
        ``weights`` (a head initialised from prototypes), their gradients are what the caller
        chains back through that initialisation (see ``ProtoMAMLTask.head_init_gradients``).
    """
    start = {**weights, **(task_weights or {})}
    adapted = adapt(start, support_loss, inner_steps, inner_lr, frozen).weights
    at = {name: w.requires_grad_(True) for name, w in adapted.items()}
    loss = query_loss(at)
    grads = torch.autograd.grad(loss, list(at.values()), allow_unused=True)
    grads = {n: (g if g is not None else torch.zeros_like(start[n])) for n, g in zip(at, grads)}
    return float(loss.detach()), grads, {n: w.detach() for n, w in at.items()}
