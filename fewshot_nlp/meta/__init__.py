"""Meta-learning over tasks: prototypical training and first-order MAML over LoRA tensors.

The public names load on first use (PEP 562): the fit-time algorithms (``fomaml``, ``protonet``) that the
classifier uses are importable without the meta-trainer, which sits above the classifier (it writes classifiers).
"""

from importlib import import_module

_EXPORTS = {
    "AdaptationResult": ".fomaml",
    "BaseMetaTrainingArguments": ".arguments",
    "CheckpointError": ".checkpoint",
    "MetaTrainer": ".trainer",
    "MetaTrainingArguments": ".arguments",
    "ProtoMAMLTask": ".protonet",
    "TranslationMetaTrainer": ".translation",
    "TranslationMetaTrainingArguments": ".translation",
    "adapt": ".fomaml",
    "first_order_maml_gradients": ".fomaml",
    "latest_checkpoint": ".checkpoint",
    "load_checkpoint": ".checkpoint",
    "protonet_loss": ".protonet",
    "save_checkpoint": ".checkpoint",
    "squared_distance_logits": ".protonet",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
