"""Inference backends of the classifier's encoder: PyTorch (the default), or ONNX Runtime in float32 or int8.

``FewShotClassifier.from_pretrained(..., backend="onnx")`` (``"onnx-int8"``) or ``clf.set_backend(...)``
export the encoder the classifier holds, locally and offline (:mod:`fewshot_nlp.onnx_export` makes the graph, its
int8 copy and the tokenizer file): the default MiniLM with its adapter merged, a LoRA-adapted or a tuned encoder
alike. A saved classifier then loads on ONNX without transformers, sentence-transformers or the PyTorch model
(:class:`OnnxEncoder` builds that only when asked for it).

sentence-transformers' own ``backend="onnx"`` needs optimum-onnx, and no release of it accepts
transformers 5, on which this package runs; this export needs only ``onnxruntime`` and ``onnx``
(``pip install "fewshot-nlp[onnx]"``).

Exports are made once and reused: a saved classifier keeps them in its ``onnx/`` folder (and
``save_pretrained`` / ``push_to_hub`` carry them), anything else is cached under
``$FEWSHOT_NLP_CACHE`` (default ``~/.cache/fewshot-nlp``) in ``onnx/<hash of the weights>/``.
The ONNX backends are inference-only: anything that trains the encoder needs ``backend="torch"``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .onnx_export import (
    OPSET,
    QUANTISATION,
    TOKENIZER_FILE,
    FastTokenizer,
    as_numpy,
    atomic_write,
    export_model,
    export_onnx,
    fast_tokenizer_settings,
    quantize_onnx,
)

TORCH = "torch"
BACKENDS = (TORCH, "onnx", "onnx-int8")
ONNX_FOLDER = "onnx"  # inside a saved classifier
MODEL_FILES = {"onnx": "model.onnx", "onnx-int8": "model_qint8.onnx"}
EXPORT_RECORD = "export.json"
INSTALL = 'pip install "fewshot-nlp[onnx]"'
EXPORT_FORMAT = 1  # part of every cache key: raise it when the exported graph changes
#: texts the tokenizer saved with an export must turn into exactly the ids sentence-transformers makes
TRAINING_NEEDS_TORCH = (
    "needs gradients, and this classifier's encoder runs on the {backend!r} backend, which is for inference only: "
    "load the classifier with backend='torch' (the default) or call set_backend('torch') on it first."
)

logger = logging.getLogger(__name__)


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is not known; use one of {', '.join(map(repr, BACKENDS))}.")
    return backend


def onnx_available() -> bool:
    """Whether the ``onnx`` extra (onnxruntime and onnx) is installed."""
    try:
        require_onnx("onnx")
    except ImportError:
        return False
    return True


def require_onnx(backend: str) -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"backend={backend!r} runs the encoder on ONNX Runtime, which is not installed ({error.name} is "
            f"missing): {INSTALL}, or use backend='torch'."
        ) from error


def cache_root() -> Path:
    """Where exports of encoders that belong to no saved folder go: ``$FEWSHOT_NLP_CACHE`` or the user cache."""
    if os.environ.get("FEWSHOT_NLP_CACHE"):
        return Path(os.environ["FEWSHOT_NLP_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "fewshot-nlp"


def weights_fingerprint(model: nn.Module) -> str:
    """sha256 of what the export depends on: every tensor of ``model`` and its modules' settings (repr)."""
    digest = hashlib.sha256(f"format {EXPORT_FORMAT}, opset {OPSET}\n{model!r}".encode())
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


# ------------------------------------------------------------------------ the encoder
class OnnxEncoder:
    """Inference-only stand-in for a :class:`~fewshot_nlp.SentenceEncoder`: :meth:`encode` runs on ONNX Runtime.

    ``torch_encoder`` is the PyTorch encoder it was exported from, built on first use when the
    classifier was loaded from its saved export (saving an adapter or weights, ``set_backend("torch")``).
    Everything that trains the encoder raises a ``ValueError`` that says to load it on ``"torch"``.
    """

    def __init__(
        self,
        runtime: OnnxRuntime,
        name_or_path: str,
        embedding_dim: int,
        *,
        torch_encoder=None,
        build_torch: Callable | None = None,
        lora_settings=None,
        fully_trainable: bool = False,
        batch_size: int = 64,
    ):
        self.runtime, self.name_or_path, self.embedding_dim = runtime, name_or_path, int(embedding_dim)
        self._torch, self._build_torch = torch_encoder, build_torch
        self.lora_settings, self.fully_trainable, self.batch_size = lora_settings, fully_trainable, batch_size

    @classmethod
    def of(cls, encoder, backend: str, folder: Path | None = None, writable: bool = True) -> OnnxEncoder:
        """``encoder`` (a SentenceEncoder) on ``backend``, exported unless an export of its weights exists."""
        runtime = load_runtime(encoder, backend, folder, writable)
        return cls(
            runtime,
            encoder.name_or_path,
            encoder.embedding_dim,
            torch_encoder=encoder,
            lora_settings=encoder.lora_settings,
            fully_trainable=encoder.fully_trainable,
            batch_size=encoder.batch_size,
        )

    @property
    def backend(self) -> str:
        return self.runtime.backend

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def torch_encoder(self):
        if self._torch is None:
            self._torch = self._build_torch()
        return self._torch

    def encode(self, texts: Sequence[str], batch_size: int | None = None, show_progress_bar=None) -> torch.Tensor:
        """Embed texts; a float32 CPU tensor [len(texts), dim], rows of norm 1 (as ``SentenceEncoder.encode``)."""
        texts = list(texts)
        if not texts:
            return torch.empty(0, self.embedding_dim)
        if show_progress_bar is None:
            show_progress_bar = len(texts) > 1000
        return self.runtime.encode(texts, batch_size or self.batch_size, show_progress_bar)

    # What saving needs, from the PyTorch encoder.
    @property
    def model(self):
        return self.torch_encoder.model

    def lora_state_dict(self) -> dict[str, torch.Tensor]:
        return self.torch_encoder.lora_state_dict()

    def lora_parameters(self) -> dict:
        return self.torch_encoder.lora_parameters()

    # What training needs: refused.
    def _refuse(self, what: str):
        raise ValueError(f"{what} " + TRAINING_NEEDS_TORCH.format(backend=self.backend))

    def forward(self, *args, **kwargs):
        self._refuse("training the encoder")

    __call__ = forward

    def functional_forward(self, *args, **kwargs):
        self._refuse("adapting the encoder (adapt_steps)")

    def tokenize(self, *args, **kwargs):
        self._refuse("adapting the encoder (adapt_steps)")

    def trainable_parameters(self):
        self._refuse("training the encoder")

    def parameters(self):
        self._refuse("training the encoder")

    def named_parameters(self):
        self._refuse("training the encoder")

    def enable_full_finetuning(self):
        self._refuse("tuning the encoder (fit with tune=...)")

    def add_lora(self, *args, **kwargs):
        self._refuse("a LoRA adapter")

    def add_lora_from(self, *args, **kwargs):
        self._refuse("a LoRA adapter")

    def load_lora_state_dict(self, *args, **kwargs):
        self._refuse("loading LoRA weights")

    @property
    def transformer(self):
        self._refuse("training the encoder")

    def train(self, mode: bool = True):
        self._refuse("training the encoder")

    def eval(self):
        return self


def carried_encoder(folder: Path, backend: str, name_or_path: str, build_torch: Callable, writable: bool, **fields):
    """An :class:`OnnxEncoder` of the export a saved classifier carries in ``folder``, built without PyTorch's model;
    None when the folder holds no export for ``backend`` (or no tokenizer that runs without transformers)."""
    path = _carried_model(folder, backend, writable)
    if path is None:
        return None
    record = _record(path.parent)
    if not record.get("tokenizer") or not (path.parent / TOKENIZER_FILE).is_file():
        return None
    return OnnxEncoder(OnnxRuntime(path, backend), name_or_path, record["dimension"], build_torch=build_torch, **fields)


# ------------------------------------------------------------------------ the runtime
class OnnxRuntime:
    """Texts -> L2-normalised embeddings through an ONNX Runtime session of an exported encoder.

    Tokenizes with the tokenizer saved beside the model when the export checked it, else with
    ``preprocess`` (the sentence-transformers model's). Shared, not copied, by ``copy.deepcopy``.
    """

    def __init__(self, path: Path, backend: str, preprocess: Callable | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        # The threads torch uses, so the backends compare under the same process settings.
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.path, self.backend = Path(path), backend
        settings = _record(self.path.parent).get("tokenizer")
        if settings and (self.path.parent / TOKENIZER_FILE).is_file():
            self.tokenize = FastTokenizer(self.path.parent / TOKENIZER_FILE, settings)
        elif preprocess is not None:
            self.tokenize = lambda texts: as_numpy(preprocess(texts))
        else:
            raise ValueError(f"{self.path.parent} has no {TOKENIZER_FILE} to tokenize with; export it again.")

    def __deepcopy__(self, memo):
        return self

    def encode(self, texts: Sequence[str], batch_size: int, show_progress_bar: bool = False) -> torch.Tensor:
        from tqdm.auto import tqdm

        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths together: less padding
        rows = []
        for start in tqdm(range(0, len(texts), batch_size), desc="Batches", disable=not show_progress_bar):
            features = self.tokenize([texts[i] for i in order[start : start + batch_size]])
            rows.append(self.session.run(None, {name: features[name] for name in self.inputs})[0])
        embeddings = np.empty((len(texts), rows[0].shape[1]), dtype=np.float32)
        embeddings[order] = np.concatenate(rows)
        return nn.functional.normalize(torch.from_numpy(embeddings), dim=-1)


def load_runtime(encoder, backend: str, folder: Path | None = None, writable: bool = True) -> OnnxRuntime:
    """An ONNX Runtime session of ``encoder`` for ``backend``, exporting (and quantising) only when needed.

    Looks in ``folder`` (a saved classifier's ``onnx/``, trusted to match its weights), then in the
    user cache under the hash of the weights; a new export goes to ``folder`` when it is ``writable``,
    to the cache otherwise.
    """
    require_onnx(backend)
    check_backend(backend)
    name, preprocess = MODEL_FILES[backend], _preprocess(encoder)
    path = _carried_model(folder, backend, writable) if folder is not None else None
    if path is not None:
        return OnnxRuntime(path, backend, preprocess)
    model = export_model(encoder)
    fingerprint = weights_fingerprint(model)
    cached = cache_root() / ONNX_FOLDER / fingerprint[:16]
    if (cached / name).is_file():
        return OnnxRuntime(cached / name, backend, preprocess)
    target = folder if folder is not None and writable and _can_write(folder) else cached
    source = cached if (cached / MODEL_FILES["onnx"]).is_file() else target
    if not (source / MODEL_FILES["onnx"]).is_file():
        logger.info("exporting %s to ONNX in %s", encoder.name_or_path, source)
        export_onnx(model, preprocess, source / MODEL_FILES["onnx"])
        record = {"format": EXPORT_FORMAT, "fingerprint": fingerprint, "encoder": encoder.name_or_path}
        record |= {"dimension": encoder.embedding_dim, "versions": _versions(), "tokenizer": None}
        record["files"] = {MODEL_FILES["onnx"]: {"exporter": "torch.onnx (TorchScript)", "opset": OPSET}}
        tokenizer = fast_tokenizer_settings(model, preprocess)
        if tokenizer is not None:
            atomic_write(source / TOKENIZER_FILE, tokenizer[0])
            record["tokenizer"] = tokenizer[1]
        atomic_write(source / EXPORT_RECORD, json.dumps(record, indent=2))
    if backend == "onnx-int8":
        _quantize_into(source, target)
    return OnnxRuntime(target / name, backend, preprocess)


def save_export(encoder, save_directory: Path) -> None:
    """Carry the ONNX model an encoder runs on into a classifier's folder; drop an export that does not match.

    A PyTorch encoder leaves an existing ``onnx/`` folder in place only when its weights are the ones exported.
    """
    runtime = getattr(encoder, "runtime", None)
    folder = Path(save_directory) / ONNX_FOLDER
    if runtime is not None:
        if folder.is_dir() and runtime.path.parent.resolve() == folder.resolve():
            return  # saved where it was loaded from: the export is already there
        _remove_export(folder)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(runtime.path, folder / runtime.path.name)
        if (runtime.path.parent / TOKENIZER_FILE).is_file():
            shutil.copyfile(runtime.path.parent / TOKENIZER_FILE, folder / TOKENIZER_FILE)
        record = _record(runtime.path.parent)
        record["files"] = {runtime.path.name: record.get("files", {}).get(runtime.path.name)}
        (folder / EXPORT_RECORD).write_text(json.dumps(record, indent=2))
        return
    if not folder.is_dir():
        return
    fingerprint = _record(folder).get("fingerprint")
    if not hasattr(encoder, "model") or fingerprint != weights_fingerprint(export_model(encoder)):
        _remove_export(folder)


# ------------------------------------------------------------------------ helpers
def _carried_model(folder: Path | None, backend: str, writable: bool) -> Path | None:
    """``backend``'s model in a saved classifier's export folder, int8 quantised from its float32 model if need be."""
    name = MODEL_FILES[backend]
    if folder is None or not (folder / name).is_file() and not (folder / MODEL_FILES["onnx"]).is_file():
        return None
    if (folder / name).is_file():
        return folder / name
    fingerprint = _record(folder).get("fingerprint")
    if fingerprint is None:
        return None
    target = folder if writable and _can_write(folder) else cache_root() / ONNX_FOLDER / fingerprint[:16]
    if not (target / name).is_file():
        _quantize_into(folder, target)
    return target / name


def _quantize_into(source: Path, target: Path) -> None:
    """The int8 model of ``source``'s float32 one in ``target``, with the tokenizer and the record beside it."""
    name = MODEL_FILES["onnx-int8"]
    logger.info("quantising %s to int8 in %s", source / MODEL_FILES["onnx"], target)
    quantize_onnx(source / MODEL_FILES["onnx"], target / name)
    record = _record(source)
    if source != target:
        if (source / TOKENIZER_FILE).is_file():
            shutil.copyfile(source / TOKENIZER_FILE, target / TOKENIZER_FILE)
        record["files"] = {}
    record.setdefault("files", {})[name] = {"quantisation": "onnxruntime quantize_dynamic", **QUANTISATION}
    atomic_write(target / EXPORT_RECORD, json.dumps(record, indent=2))


def _preprocess(encoder) -> Callable:
    return getattr(encoder.model, "preprocess", None) or encoder.model.tokenize  # renamed in sentence-transformers 6


def _versions() -> dict:
    import onnxruntime

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


def _record(folder: Path) -> dict:
    try:
        return json.loads((folder / EXPORT_RECORD).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _remove_export(folder: Path) -> None:
    for name in (*MODEL_FILES.values(), TOKENIZER_FILE, EXPORT_RECORD):
        (folder / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when nothing else is in it


def _can_write(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)
