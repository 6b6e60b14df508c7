"""Meta-learning over tasks: prototypical training and first-order MAML over LoRA tensors."""

from .checkpoint import CheckpointError, latest_checkpoint, load_checkpoint, save_checkpoint
from .fomaml import AdaptationResult, adapt, first_order_maml_gradients
from .protonet import ProtoMAMLTask, protonet_loss, squared_distance_logits
from .trainer import BaseMetaTrainingArguments, MetaTrainer, MetaTrainingArguments
from .translation import TranslationMetaTrainer, TranslationMetaTrainingArguments

__all__ = [
    "AdaptationResult",
    "BaseMetaTrainingArguments",
    "CheckpointError",
    "MetaTrainer",
    "MetaTrainingArguments",
    "ProtoMAMLTask",
    "TranslationMetaTrainer",
    "TranslationMetaTrainingArguments",
    "adapt",
    "first_order_maml_gradients",
    "latest_checkpoint",
    "load_checkpoint",
    "protonet_loss",
    "save_checkpoint",
    "squared_distance_logits",
]
