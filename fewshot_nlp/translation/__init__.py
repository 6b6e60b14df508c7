"""Few-shot translation: a seq2seq base model, a LoRA adapter per language pair, offline base builders."""

from .languages import LanguageSetup, language_setup
from .translator import FewShotTranslator, base_fingerprint, seq2seq_batch

__all__ = ["FewShotTranslator", "LanguageSetup", "base_fingerprint", "language_setup", "seq2seq_batch"]
