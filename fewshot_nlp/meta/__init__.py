"""Meta-learning over tasks: prototypical training and first-order MAML over LoRA tensors.

The public names load on first use (PEP 562): the fit-time algorithms (``fomaml``, ``protonet``) that the
classifier uses are importable without the meta-trainer, which sits above the classifier (it writes classifiers).
"""

from ..lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
