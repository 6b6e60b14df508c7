"""fewshot_nlp: few-shot NLP adaptation.

Text classifiers from a handful of examples or label descriptions alone, on a sentence
encoder that can carry a meta-learned LoRA adapter.

The public names below load on first use (PEP 562), so ``fewshot-nlp`` can check its
inputs and answer a usage error before torch is imported.
"""

from importlib.metadata import PackageNotFoundError, version

from .lazy import lazy_exports

try:
    __version__ = version("fewshot-nlp")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

_EXPORTS = {
    "DEFAULT_ENCODER": ".encoders",
    "ClassificationTaskSet": ".tasks",
    "Episode": ".tasks",
    "EpisodeSampler": ".tasks",
    "EvaluationResult": ".evaluation",
    "FewShotClassifier": ".classifier",
    "FewShotTranslator": ".translation",
    "LabelDescriptionHead": ".heads",
    "LoraSettings": ".encoders",
    "Prediction": ".prototype_classifier",
    "PrototypeHead": ".heads",
    "SelfTrainingArguments": ".self_training",
    "SentenceEncoder": ".encoders",
    "TranslationTaskSet": ".tasks",
    "TuningArguments": ".tuning",
    "evaluate_episodes": ".evaluation",
    "load_task_set": ".tasks",
    "macro_f1": ".evaluation",
    "mean_confidence_interval": ".evaluation",
}
__all__ = [*_EXPORTS, "__version__"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
