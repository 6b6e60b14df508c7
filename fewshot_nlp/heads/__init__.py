"""Heads turn embeddings into class scores; all are savable as json + safetensors."""

from .label_description import DEFAULT_TEMPLATE, LabelDescriptionHead, label_to_phrase
from .prototype import PrototypeHead

__all__ = ["DEFAULT_TEMPLATE", "LabelDescriptionHead", "PrototypeHead", "label_to_phrase"]
