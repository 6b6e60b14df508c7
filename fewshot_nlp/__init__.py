"""fewshot_nlp: few-shot NLP adaptation.

Text classifiers from a handful of examples or label descriptions alone, on a sentence
encoder that can carry a meta-learned LoRA adapter.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fewshot-nlp")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from .classifier import FewShotClassifier  # noqa: E402
from .encoders import DEFAULT_ENCODER, LoraSettings, SentenceEncoder  # noqa: E402
from .evaluation import EvaluationResult, evaluate_episodes, mean_confidence_interval  # noqa: E402
from .heads import LabelDescriptionHead, PrototypeHead  # noqa: E402
from .tasks import ClassificationTaskSet, Episode, EpisodeSampler, TranslationTaskSet, load_task_set  # noqa: E402
from .translation import FewShotTranslator  # noqa: E402

__all__ = [
    "DEFAULT_ENCODER",
    "ClassificationTaskSet",
    "Episode",
    "EpisodeSampler",
    "EvaluationResult",
    "FewShotClassifier",
    "FewShotTranslator",
    "LabelDescriptionHead",
    "LoraSettings",
    "PrototypeHead",
    "SentenceEncoder",
    "TranslationTaskSet",
    "__version__",
    "evaluate_episodes",
    "load_task_set",
    "mean_confidence_interval",
]
