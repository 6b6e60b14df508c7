"""LoRA adapters (peft) on any Hugging Face model: settings, attachment, portable weights.

Shared by the sentence encoder and the translator, so both pick target modules, freeze the
base and refuse a foreign adapter the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

# Linear-layer names of attention queries and values, by naming convention, for model types
# peft's own table does not list (e.g. Marian, mBART and NLLB in peft 0.21).
_QUERY_VALUE_NAMES = (("q_proj", "v_proj"), ("query", "value"), ("q", "v"), ("q_lin", "v_lin"))
ALL_LINEAR = "all-linear"
# Linear layers that "all-linear" leaves out: output heads and poolers that a sentence
# embedding (mean pooling) never passes through.
_NOT_ADAPTED = ("pooler", "lm_head", "classifier")


@dataclass
class LoraSettings:
    """LoRA hyper-parameters. ``target_modules=None`` picks peft's default for the architecture."""

    r: int = field(default=8, metadata={"help": "Rank of the LoRA update."})
    lora_alpha: int = field(default=16, metadata={"help": "Scaling numerator (scale = alpha / r)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "Dropout on the LoRA input."})
    target_modules: list[str] | str | None = field(
        default=None,
        metadata={
            "help": "Module names to adapt; None = peft's mapping for the model type (attention query "
            "and value); 'all-linear' = every linear layer of the transformer blocks."
        },
    )

    def __post_init__(self):
        if not isinstance(self.r, int) or self.r < 1:
            raise ValueError(f"LoRA rank r={self.r!r} must be a positive integer, e.g. r=8.")
        if isinstance(self.target_modules, str) and self.target_modules != ALL_LINEAR:
            raise ValueError(
                f"target_modules={self.target_modules!r}: give a list of module names, None, or '{ALL_LINEAR}'."
            )
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"lora_dropout={self.lora_dropout!r} must be in [0, 1).")


def as_lora_settings(settings) -> LoraSettings:
    """``True``, a dict of fields, a :class:`LoraSettings` or a peft ``LoraConfig`` -> LoraSettings."""
    from peft import LoraConfig

    if settings is True:
        return LoraSettings()
    if isinstance(settings, dict):
        return LoraSettings(**settings)
    if isinstance(settings, LoraConfig):
        targets = settings.target_modules
        return LoraSettings(
            r=settings.r,
            lora_alpha=settings.lora_alpha,
            lora_dropout=settings.lora_dropout,
            target_modules=sorted(targets) if targets is not None and not isinstance(targets, str) else targets,
        )
    if isinstance(settings, LoraSettings):
        return settings
    raise TypeError(
        f"lora={settings!r} must be True, a dict of LoraSettings fields, a LoraSettings or a peft LoraConfig."
    )


def default_target_modules(model: nn.Module) -> list[str]:
    """peft's target modules for the model type, else the attention query/value layers by name."""
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as TARGETS

    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type in TARGETS:
        return list(TARGETS[model_type])
    linear = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, nn.Linear)}
    for names in _QUERY_VALUE_NAMES:
        if set(names) <= linear:
            return list(names)
    raise ValueError(
        f"peft has no default LoRA target modules for model type {model_type!r} and no attention "
        "query/value layers were recognised; pass LoraSettings(target_modules=[...]) naming the linear layers to adapt."
    )


def all_linear_modules(model: nn.Module) -> list[str]:
    """Full names of the linear layers an embedding passes through (not poolers or output heads)."""
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and not any(part in name.split(".") for part in _NOT_ADAPTED)
    ]


def attach_lora(model: nn.Module, settings) -> LoraSettings:
    """Inject a fresh LoRA adapter into ``model`` (in place); returns the settings with targets filled in."""
    from peft import LoraConfig, inject_adapter_in_model

    settings = as_lora_settings(settings)
    if settings.target_modules == ALL_LINEAR:
        targets = all_linear_modules(model)
    else:
        targets = settings.target_modules or default_target_modules(model)
    settings = LoraSettings(**{**asdict(settings), "target_modules": list(targets)})
    config = LoraConfig(
        r=settings.r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout, target_modules=targets
    )
    inject_adapter_in_model(config, model)
    return settings


def lora_state_dict(model: nn.Module) -> dict:
    """LoRA weights in peft's portable naming (what goes into adapter safetensors)."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(model).items()}


def load_lora_state_dict(model: nn.Module, state_dict: dict, base_name: str) -> None:
    """Load weights saved by :func:`lora_state_dict`; refuses partial or foreign adapters."""
    from peft import set_peft_model_state_dict

    expected = set(lora_state_dict(model))
    if set(state_dict) != expected:
        missing, unexpected = sorted(expected - set(state_dict)), sorted(set(state_dict) - expected)
        raise ValueError(
            f"LoRA weights do not match this model ({base_name}): "
            f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}. "
            "Was the adapter trained on another base model or with other LoRA settings?"
        )
    shapes = lora_state_dict(model)
    wrong = [k for k, v in state_dict.items() if tuple(v.shape) != tuple(shapes[k].shape)]
    if wrong:
        raise ValueError(
            f"LoRA weights do not match this model ({base_name}): {wrong[0]} has shape "
            f"{tuple(state_dict[wrong[0]].shape)}, the model expects {tuple(shapes[wrong[0]].shape)}. "
            "Was the adapter trained on another base model or with other LoRA settings?"
        )
    set_peft_model_state_dict(model, state_dict)


def merge_lora(model: nn.Module) -> None:
    """Fold every LoRA update into its base layer and put the plain layer back (peft's merge).

    The merged model computes what the adapted one does, at the speed of the frozen base.
    """
    from peft.tuners.lora import LoraLayer

    for name, module in list(model.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, module.get_base_layer())


def lora_parameters(module: nn.Module) -> dict:
    """The LoRA tensors of ``module`` by full parameter name (what ``torch.func.functional_call`` swaps)."""
    return {name: p for name, p in module.named_parameters() if "lora_" in name}


def only_lora(weights: dict) -> dict:
    """The LoRA entries of a ``{name: tensor}`` dict (others, e.g. head tensors, are not the model's)."""
    return {name: w for name, w in weights.items() if "lora_" in name}


def lora_from_difference(model: nn.Module, tuned_weights: dict, settings, strength: float = 1.0) -> LoraSettings:
    """Attach a LoRA adapter to ``model`` whose update is the best rank-r fit of ``tuned - model``.

    Full fine-tuning transfers better than a LoRA trained at the learning rate a LoRA needs,
    but weighs as much as the model; the truncated SVD of each linear layer's weight change
    (Eckart-Young: the closest rank-r matrix) keeps what fits in an adapter of a few MB.
    ``tuned_weights`` is the fine-tuned model's state dict (same names as ``model``'s); only
    the adapted linear layers' weights are used: biases, norms and embeddings stay as in ``model``.
    ``strength`` multiplies the fitted update: below 1 it moves back towards ``model`` (weight-space
    interpolation, as in WiSE-FT), above 1 it goes further along the fine-tune's direction.
    """
    if not strength > 0:
        raise ValueError(
            f"strength must be a positive number (1 keeps the fine-tune's change as fitted), got {strength!r}"
        )
    from peft.tuners.lora import LoraLayer

    settings = attach_lora(model, settings)
    scale = settings.lora_alpha / settings.r
    for name, module in model.named_modules():
        if not isinstance(module, LoraLayer):
            continue
        base = module.get_base_layer().weight
        key = f"{name}.weight"
        if key not in tuned_weights or tuned_weights[key].shape != base.shape:
            raise ValueError(f"the fine-tuned weights have no {key} of shape {tuple(base.shape)}: another model?")
        u, s, vh = torch.linalg.svd((tuned_weights[key].float() - base.float()), full_matrices=False)
        root = s[: settings.r].sqrt()
        with torch.no_grad():  # merged update = scale * B @ A = strength * U_r S_r Vh_r
            module.lora_A["default"].weight.copy_(root[:, None] * vh[: settings.r])
            module.lora_B["default"].weight.copy_(u[:, : settings.r] * root * (strength / scale))
    return settings
