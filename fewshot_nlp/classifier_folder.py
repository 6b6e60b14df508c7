"""A classifier's folder: what ``save_pretrained`` and ``push_to_hub`` write and ``from_pretrained`` reads.

``config.json`` (settings, labels and the records of how the encoder was made), the head's tensors, the encoder's
LoRA adapter or its own weights (safetensors), the adapter a fit-time adaptation restarts from, an ONNX export
when the classifier runs on one, and a model card. Nothing is pickled.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData
from safetensors.torch import load_file, save_file

from . import __version__
from .backends import ONNX_FOLDER, TORCH, OnnxEncoder, carried_encoder, save_export
from .encoders import DEFAULT_MODEL, SentenceEncoder, default_adapter_revision
from .heads import LabelDescriptionHead
from .hub import CONFIG_NAME, LIBRARY_KEY
from .lora import LoraSettings

ADAPTER_NAME = "adapter_model.safetensors"
META_ADAPTER_NAME = "meta_adapter.safetensors"
ENCODER_FOLDER = "encoder"  # a fully fine-tuned encoder's own weights (safetensors), when there is one
CARD_TAGS = ["fewshot-nlp", "few-shot", "sentence-transformers", "text-classification"]

MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

A few-shot text classifier made with [fewshot-nlp](https://pypi.org/project/fewshot-nlp/):
a sentence encoder (`{{ encoder }}`) and {% if n_labels %}a {{ head_kind }} head{% else %}no labels yet (add them with `fit` or `add_labels`){% endif %}.

- Labels ({{ n_labels }}): {{ labels }}
- Multi-label: {{ multi_label }}; out-of-scope threshold: {{ oos_threshold }}
{% if meta_training %}- Meta-trained LoRA adapter: {{ meta_training.algorithm }}, {{ meta_training.steps_run }} steps on the
  meta-train classes of {{ meta_training.class_split | list | join(", ") }}{% if meta_training.best_val_accuracy is not none %};
  kept the weights of step {{ meta_training.best_step }} (meta-val accuracy {{ meta_training.best_val_accuracy | round(4) }}){% endif %}. Adapt it to your labels with
  `clf.fit(texts, labels{% if meta_training.algorithm == "fomaml" %}, adapt_steps={{ meta_training.inner_steps }}{% endif %})`.
{% endif %}{% if self_training %}- Self-trained encoder: {{ self_training.rounds }} round(s) of {{ self_training.steps }} steps on
  the surest of {{ self_training.texts }} unlabelled texts of the task, labelled by its predictions from the label
  texts{% if self_training.examples %} and {{ self_training.examples }} examples (also trained on){% endif %}.
{% endif %}{% if tuning %}- Encoder tuned at fit time on its {{ tuning.examples }} examples{% if tuning.label_weight is not none %} and the label texts{% endif %}:
  {{ tuning.steps }} steps ({{ tuning.seconds }} s); support loss {{ tuning.support_loss_before }} -> {{ tuning.support_loss_after }}.
{% endif %}
```python
from fewshot_nlp import FewShotClassifier

clf = FewShotClassifier.from_pretrained("{{ repo_id }}")
clf.predict(["your text here"])
```
"""


def classifier_config(classifier) -> dict:
    """``config.json``: every setting, the labels, and how the encoder was made."""
    head, encoder = classifier.head, classifier.encoder
    has_examples = bool((head.example_count > 0).any())
    has_descriptions = bool(head.has_description.any())
    head_kind = {(True, True): "mixture", (True, False): "prototype", (False, True): "label_description"}
    return {
        LIBRARY_KEY: __version__,
        "encoder": encoder.name_or_path,
        "encoder_revision": default_adapter_revision() if encoder.name_or_path == DEFAULT_MODEL else None,
        "encoder_folder": ENCODER_FOLDER if getattr(encoder, "fully_trainable", False) else None,
        "head_type": head_kind.get((has_examples, has_descriptions), "empty"),
        "labels": classifier.classes_,
        "descriptions": head.descriptions,
        "metric": head.metric,
        "temperature": head.temperature,
        "prior_weight": classifier.prior_weight,  # the setting; the head's config holds the weight in use
        "multi_label": classifier.multi_label,
        "threshold": classifier.threshold,
        "multi_label_center": classifier.multi_label_center,
        "oos_threshold": classifier.oos_threshold,
        "oos_label": classifier.oos_label,
        "lora": None if encoder.lora_settings is None else vars(encoder.lora_settings),
        "meta_training": classifier.meta_training,
        "self_training": classifier.self_training,
        "tuning": classifier.tuning,
    }


def write_folder(classifier, save_directory: Path) -> None:
    """Write ``classifier`` into ``save_directory`` (the model card is written by the Hub mixin)."""
    save_directory = Path(save_directory)
    encoder = classifier.encoder
    trained_encoder = encoder.lora_settings is not None or getattr(encoder, "fully_trainable", False)
    if classifier.head.classes or not trained_encoder:  # a meta-trained encoder is saved before it has labels
        classifier._check_fitted()  # with nothing worth saving, this explains how to add labels
    classifier.head.save(save_directory)
    if getattr(encoder, "fully_trainable", False):
        encoder.model.save(str(save_directory / ENCODER_FOLDER), safe_serialization=True)
    if encoder.lora_settings is not None:
        save_file(encoder.lora_state_dict(), save_directory / ADAPTER_NAME)
    if classifier._meta_lora is not None:  # adapted at fit time: keep the starting point for the next fit
        save_file({n: t.contiguous() for n, t in classifier._meta_lora.items()}, save_directory / META_ADAPTER_NAME)
    save_export(encoder, save_directory)  # the ONNX model it runs on, if any (onnx/)
    config = classifier_config(classifier)
    (save_directory / CONFIG_NAME).write_text(json.dumps(config, indent=2, ensure_ascii=False))


def read_folder(cls, folder: Path, device=None, backend: str = TORCH, writable: bool = False):
    """The classifier (of class ``cls``) saved in ``folder``, its encoder on ``backend``."""
    config = json.loads((folder / CONFIG_NAME).read_text())
    encoder = None
    if backend != TORCH:  # the export the folder carries runs without building the PyTorch model
        lora = LoraSettings(**config["lora"]) if config.get("lora") else None
        fields = {"lora_settings": lora, "fully_trainable": bool(config.get("encoder_folder"))}
        build = lambda: folder_encoder(folder, config, device)  # noqa: E731 (only when asked for)
        encoder = carried_encoder(folder / ONNX_FOLDER, backend, config["encoder"], build, writable, **fields)
    if encoder is None:
        encoder = folder_encoder(folder, config, device)
        encoder = encoder if backend == TORCH else OnnxEncoder.of(encoder, backend, folder / ONNX_FOLDER, writable)
    saved_revision = config.get("encoder_revision")
    if config["encoder"] == DEFAULT_MODEL and saved_revision != default_adapter_revision():
        warnings.warn(
            f"{folder} was made with default adapter {saved_revision}, this installation has "
            f"{default_adapter_revision()}: its examples were embedded by another encoder; fit it again.",
            stacklevel=3,
        )
    classifier = cls(
        encoder,
        multi_label=config["multi_label"],
        threshold=config["threshold"],
        oos_threshold=config["oos_threshold"],
        oos_label=config["oos_label"],
    )
    classifier.head = LabelDescriptionHead.load(folder)
    classifier._prior_weight = config.get("prior_weight", classifier.head.prior_weight)  # the head keeps its own
    classifier.multi_label_center = config.get("multi_label_center")
    classifier.meta_training = config.get("meta_training")
    classifier.self_training = config.get("self_training")
    classifier.tuning = config.get("tuning")
    if (folder / META_ADAPTER_NAME).is_file():
        meta_lora = load_file(folder / META_ADAPTER_NAME)
        if backend == TORCH and set(meta_lora) != set(encoder.lora_parameters()):
            raise ValueError(f"{folder / META_ADAPTER_NAME} does not match the encoder's LoRA tensors.")
        classifier._meta_lora = meta_lora
    return classifier


def folder_encoder(folder: Path, config: dict, device) -> SentenceEncoder:
    """The PyTorch encoder of a saved classifier: its own weights, or its base with its adapter."""
    if config.get("encoder_folder"):
        encoder = SentenceEncoder(str(folder / config["encoder_folder"]), device=device)
        encoder.name_or_path = config["encoder"]
        encoder.enable_full_finetuning()  # its own weights: saved again with the classifier
    else:
        encoder = SentenceEncoder(config["encoder"], lora=config.get("lora"), device=device)
    if config.get("lora"):
        encoder.load_lora_state_dict(load_file(folder / ADAPTER_NAME))
    return encoder


def model_card(classifier, **kwargs) -> ModelCard:
    """The README.md of a saved or shared classifier: what it is, how it was made, how to load it."""
    config = classifier_config(classifier)
    card_data = ModelCardData(
        library_name="fewshot-nlp",
        pipeline_tag="text-classification",
        base_model=config["encoder"] if not os.path.isdir(config["encoder"]) else None,
        tags=list(CARD_TAGS),
    )
    card_data.labels = [str(label) for label in config["labels"]]
    return ModelCard.from_template(
        card_data,
        template_str=MODEL_CARD_TEMPLATE,
        title=kwargs.get("title", "Few-shot text classifier"),
        encoder=config["encoder"],
        head_kind=config["head_type"].replace("_", " "),
        n_labels=len(config["labels"]),
        labels=", ".join(f"`{label}`" for label in config["labels"]),
        multi_label=config["multi_label"],
        oos_threshold=config["oos_threshold"],
        meta_training=config["meta_training"],
        self_training=config["self_training"],
        tuning=config["tuning"],
        repo_id=kwargs.get("repo_id", "<this folder or repo>"),
    )
