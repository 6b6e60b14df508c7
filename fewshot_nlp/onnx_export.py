"""Exporting an encoder to ONNX: the sentence-transformers pipeline as one graph, its int8 quantisation, and
the tokenizer run by ``tokenizers`` alone. :mod:`fewshot_nlp.backends` decides when to export and where to keep it.

The graph goes from token ids to the sentence embedding (transformer, pooling, dense and normalising layers),
exported by ``torch.onnx``'s TorchScript exporter; int8 is ONNX Runtime's dynamic quantisation of the MatMul
weights, per output channel. Every file is written under a temporary name and renamed whole.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

OPSET = 17
TOKENIZER_FILE = "tokenizer.json"
#: ONNX Runtime's dynamic quantisation, as used: int8 weights per output channel, MatMul only
QUANTISATION = {"weight_type": "QInt8", "per_channel": True, "op_types_to_quantize": ["MatMul"]}
TOKENIZER_PROBES = [
    "where is my new card?",
    "  Leading and trailing spaces  ",
    "UPPER case, punctuation!!! and numbers 1234.56",
    "accents: café naïve Zürich; emoji 🙂; CJK 東京",
    "x",
    " ".join(["a long text that must be truncated"] * 200),
]


class FastTokenizer:
    """The encoder's tokenizer run by ``tokenizers`` alone, padded and truncated as sentence-transformers does."""

    def __init__(self, path: Path, settings: dict):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.enable_truncation(settings["max_length"], strategy="longest_first")
        self.tokenizer.enable_padding(
            direction=settings["padding_side"],
            pad_id=settings["pad_id"],
            pad_type_id=settings["pad_type_id"],
            pad_token=settings["pad_token"],
        )

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        encodings = self.tokenizer.encode_batch(list(texts))
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }


def fast_tokenizer_settings(model, preprocess) -> tuple[str, dict] | None:
    """The sentence-transformers model's tokenizer as ``tokenizers`` JSON and settings, if it gives the same ids."""
    hf_tokenizer = getattr(model[0], "tokenizer", None)
    backend = getattr(hf_tokenizer, "backend_tokenizer", None)
    if backend is None or hf_tokenizer.pad_token is None:
        return None
    settings = {
        "max_length": int(model.max_seq_length or hf_tokenizer.model_max_length),
        "padding_side": hf_tokenizer.padding_side,
        "pad_id": int(hf_tokenizer.pad_token_id),
        "pad_type_id": int(getattr(hf_tokenizer, "pad_token_type_id", 0)),
        "pad_token": str(hf_tokenizer.pad_token),
    }
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / TOKENIZER_FILE
        path.write_text(backend.to_str())
        try:
            ours = FastTokenizer(path, settings)(TOKENIZER_PROBES)
        except Exception:  # an unusual tokenizer: sentence-transformers keeps tokenizing
            return None
    theirs = as_numpy(preprocess(TOKENIZER_PROBES))
    for name, ids in theirs.items():
        if name not in ours or ours[name].shape != ids.shape or not (ours[name] == ids).all():
            return None
    return backend.to_str(), settings


class _Pipeline(nn.Module):
    """The sentence-transformers pipeline as a function of named tensors (what the exporter traces)."""

    def __init__(self, model: nn.Module, names: list[str], constants: dict):
        super().__init__()
        self.model, self.names, self.constants = model, names, constants

    def forward(self, *tensors):
        return self.model({**dict(zip(self.names, tensors)), **self.constants})["sentence_embedding"]


def export_model(encoder) -> nn.Module:
    """The CPU sentence-transformers model that is exported: with any LoRA adapter merged (on a copy)."""
    model = encoder.model
    if encoder.lora_settings is not None or encoder.device.type != "cpu":
        from .lora import merge_lora

        model = copy.deepcopy(model).cpu()
        if encoder.lora_settings is not None:
            merge_lora(model[0].auto_model)
    return model.eval()


def export_onnx(model: nn.Module, preprocess: Callable, path: Path) -> None:
    """Export a sentence-transformers model (token ids -> sentence embedding) to ``path``."""
    # Texts of different lengths: the trace then holds the padding mask, which every batch needs.
    features = preprocess(["an example text to trace the model with", "short"])
    names = [k for k, v in features.items() if isinstance(v, torch.Tensor)]
    constants = {k: v for k, v in features.items() if not isinstance(v, torch.Tensor)}
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    with temporary_file(path) as target, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice and tracer notes on shape checks
        torch.onnx.export(
            _Pipeline(model, names, constants).eval(),
            tuple(features[n] for n in names),
            str(target),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def quantize_onnx(source: Path, path: Path) -> None:
    """Dynamic int8 quantisation (ONNX Runtime) of an exported model: no calibration data needed."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with temporary_file(path) as target, _quiet_root_logger():
        quantize_dynamic(
            source,
            target,
            weight_type=getattr(QuantType, QUANTISATION["weight_type"]),
            per_channel=QUANTISATION["per_channel"],
            op_types_to_quantize=QUANTISATION["op_types_to_quantize"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


def as_numpy(features: dict) -> dict[str, np.ndarray]:
    return {k: v.cpu().numpy().astype(np.int64) for k, v in features.items() if isinstance(v, torch.Tensor)}


@contextlib.contextmanager
def temporary_file(path: Path):
    """A temporary name beside ``path`` that becomes ``path`` only once written whole (never half a model)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(name)
        os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)


def atomic_write(path: Path, text: str) -> None:
    with temporary_file(path) as target:
        target.write_text(text)


class _DropPreprocessingAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()


@contextlib.contextmanager
def _quiet_root_logger():
    """onnxruntime's quantiser logs advice on the root logger (configuring it when it has no handler): not here."""
    root, handler, drop = logging.getLogger(), logging.NullHandler(), _DropPreprocessingAdvice()
    root.addHandler(handler)
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)
        root.removeHandler(handler)
