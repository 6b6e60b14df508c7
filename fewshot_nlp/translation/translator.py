"""FewShotTranslator: any Hugging Face seq2seq model with a LoRA adapter for one language pair.

The base model stays frozen; only the LoRA tensors learn, so a new language pair costs a few
hundred sentence pairs and a few megabytes, and starts from a meta-learned adapter when one
is given. What is shared is the adapter alone (safetensors) plus the name of its base.
"""

from __future__ import annotations

import json
import os
import random
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from huggingface_hub import ModelCard, ModelCardData, ModelHubMixin
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from .. import __version__
from ..hub import CONFIG_NAME, LIBRARY_KEY, find_saved_folder
from ..inputs import check_texts
from ..lora import LoraSettings, attach_lora, load_lora_state_dict, lora_parameters, lora_state_dict, only_lora
from ..tasks.translation import check_pairs
from .languages import language_setup

ADAPTER_NAME = "adapter_model.safetensors"
TAGS = ["fewshot-nlp", "few-shot", "translation", "lora"]

MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

A LoRA adapter for translating {{ source }} into {{ target }}, made with
[fewshot-nlp](https://pypi.org/project/fewshot-nlp/) on the base model `{{ base_model }}`.
{% if adaptation %}
Adapted on {{ adaptation.pairs }} sentence pairs for {{ adaptation.steps }} steps (learning rate {{ adaptation.lr }}).
{% endif %}
```python
from fewshot_nlp import FewShotTranslator

translator = FewShotTranslator.from_pretrained("{{ repo_id }}")
translator.translate(["your sentence here"])
```
"""


def seq2seq_batch(
    tokenizer, pairs, max_source_length: int, max_target_length: int, decoder_start_token_id=None
) -> dict:
    """Tokenised (source, target) pairs with ``labels`` for any seq2seq model (padding -> -100).

    Truncates silently. A leading target token equal to the decoder start token (BERT's
    ``[CLS]`` in a MiniLM encoder-decoder) is dropped: the model puts it there itself.
    """
    inputs = tokenizer(
        [s for s, _ in pairs], truncation=True, max_length=max_source_length, padding=True, return_tensors="pt"
    )
    labels = tokenizer(
        text_target=[t for _, t in pairs],
        truncation=True,
        max_length=max_target_length,
        padding=True,
        return_tensors="pt",
    )["input_ids"]
    if decoder_start_token_id is not None and bool((labels[:, 0] == decoder_start_token_id).all()):
        labels = labels[:, 1:].contiguous()
    labels[labels == tokenizer.pad_token_id] = -100
    return {**inputs, "labels": labels}


def base_fingerprint(model) -> dict:
    """Enough of the base model to refuse an adapter trained on another one."""
    base = [p for n, p in model.named_parameters() if "lora_" not in n]
    embeddings = model.get_input_embeddings().weight
    return {
        "model_type": getattr(model.config, "model_type", None),
        "parameters": sum(p.numel() for p in base),
        "embedding_abs_mean": float(embeddings.detach().float().abs().mean()),
    }


def _same_base(saved: dict, actual: dict) -> bool:
    close = abs(saved["embedding_abs_mean"] - actual["embedding_abs_mean"]) <= 1e-4 * abs(saved["embedding_abs_mean"])
    return saved["model_type"] == actual["model_type"] and saved["parameters"] == actual["parameters"] and close


class FewShotTranslator(
    ModelHubMixin,
    library_name="fewshot-nlp",
    pipeline_tag="translation",
    tags=TAGS,
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """A seq2seq model (frozen) plus a LoRA adapter that learns one language pair.

    Build it with :meth:`from_pretrained` on a base model (any ``AutoModelForSeq2SeqLM`` name or
    folder) or on a saved translator / meta-learned adapter; :meth:`adapt` it on sentence
    pairs; :meth:`translate`.

    Args:
        model, tokenizer: the base model and its tokenizer.
        base_model: the name or path the base was loaded from (saved with the adapter).
        source_language, target_language: language codes or names, in the model family's
            convention (see :mod:`fewshot_nlp.translation.languages`); metadata otherwise.
        lora: LoRA settings (``True`` = defaults); the base is frozen either way.
        max_source_length, max_target_length: tokens (default: 256 or the model's limit, if
            smaller); longer inputs are truncated with a warning, never an error.
    """

    def __init__(
        self,
        model,
        tokenizer,
        *,
        base_model: str,
        source_language: str | None = None,
        target_language: str | None = None,
        lora: LoraSettings | dict | bool = True,
        max_source_length: int | None = None,
        max_target_length: int | None = None,
    ):
        limit = getattr(model.config, "max_position_embeddings", None) or 256
        lengths = {}
        for name, value in (("max_source_length", max_source_length), ("max_target_length", max_target_length)):
            if value is None:
                value = min(256, limit)
            elif not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive number of tokens, e.g. 256.")
            elif value > limit:
                warnings.warn(f"{name}={value} exceeds the model's {limit} positions; using {limit}.", stacklevel=2)
                value = limit
            lengths[name] = value
        self.model = model
        self.tokenizer = tokenizer
        self.base_model = str(base_model)
        self.max_source_length = lengths["max_source_length"]
        self.max_target_length = lengths["max_target_length"]
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        self.lora_settings = attach_lora(model, lora)
        self.model.eval()
        self.source_language = source_language
        self.target_language = target_language
        self.languages = language_setup(tokenizer, model.config.model_type, source_language, target_language)
        #: how the adapter was meta-trained / adapted, for the config and the model card
        self.meta_training: dict | None = None
        self.adaptation: dict | None = None

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        model_id_or_path: str | os.PathLike,
        *,
        source_language: str | None = None,
        target_language: str | None = None,
        lora: LoraSettings | dict | bool = True,
        base_model: str | os.PathLike | None = None,
        device: str | None = None,
        revision: str | None = None,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike | None = None,
        local_files_only: bool = False,
        **options,
    ) -> FewShotTranslator:
        """A new translator on a base seq2seq model, or a saved one (folder or Hub repo).

        For a saved translator the base named in its config is loaded (``base_model`` points
        elsewhere, e.g. a local copy) and must be the one the adapter was trained on; the
        language arguments, if given, override the saved ones (e.g. a meta-learned adapter
        about to learn a new pair). ``device`` defaults to the GPU when there is one.
        """
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        folder = find_saved_folder(
            str(model_id_or_path), CONFIG_NAME, LIBRARY_KEY, revision, token, cache_dir, local_files_only
        )
        config = json.loads((folder / CONFIG_NAME).read_text()) if folder else {}
        if folder and "base_fingerprint" not in config:
            raise ValueError(
                f"{model_id_or_path} holds a FewShotClassifier, not a translator; load it with that class."
            )
        base = str(base_model or config.get("base_model") or model_id_or_path)
        try:
            model = AutoModelForSeq2SeqLM.from_pretrained(base, token=token, cache_dir=cache_dir)
            tokenizer = AutoTokenizer.from_pretrained(base, token=token, cache_dir=cache_dir)
        except (OSError, ValueError) as error:
            raise ValueError(
                f"could not load the base seq2seq model {base!r}: pass a Hugging Face seq2seq model id "
                "(with the network, or cached), or a local folder such as the one recipes/translation/"
                f"build_base.py writes. ({error.__class__.__name__}: {str(error).splitlines()[0]})"
            ) from error
        model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if not folder:
            return cls(
                model,
                tokenizer,
                base_model=base,
                source_language=source_language,
                target_language=target_language,
                lora=lora,
                **options,
            )
        if not _same_base(config["base_fingerprint"], base_fingerprint(model)):
            raise ValueError(
                f"the adapter in {folder} was trained on base model {config['base_model']!r} "
                f"({config['base_fingerprint']}), but {base!r} is a different model ({base_fingerprint(model)}); "
                "pass base_model= the model it was trained on."
            )
        translator = cls(
            model,
            tokenizer,
            base_model=config["base_model"] if base_model is None else base,
            source_language=source_language or config.get("source_language"),
            target_language=target_language or config.get("target_language"),
            lora=config["lora"],
            max_source_length=options.get("max_source_length", config["max_source_length"]),
            max_target_length=options.get("max_target_length", config["max_target_length"]),
        )
        load_lora_state_dict(model, load_file(folder / ADAPTER_NAME), translator.base_model)
        translator.meta_training = config.get("meta_training")
        translator.adaptation = config.get("adaptation")
        return translator

    # -------------------------------------------------------------------- model
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def lora_parameters(self) -> dict[str, torch.nn.Parameter]:
        """The trainable LoRA tensors by full parameter name (for ``torch.func.functional_call``)."""
        return lora_parameters(self.model)

    def _encode_sources(self, sources: Sequence[str]) -> dict:
        texts = self._with_prefix(sources)
        return self.tokenizer(
            texts, truncation=True, max_length=self.max_source_length, padding=True, return_tensors="pt"
        ).to(self.device)

    def _with_prefix(self, sources: Sequence[str], warn: bool = True) -> list[str]:
        """Sources with the language prefix, warning (never failing) about those that will be truncated."""
        texts = [self.languages.prefix + s for s in sources]
        if not warn:
            return texts
        lengths = [len(ids) for ids in self.tokenizer(texts, truncation=False)["input_ids"]]
        too_long = sum(length > self.max_source_length for length in lengths)
        if too_long:
            warnings.warn(
                f"{too_long} of {len(texts)} source sentences are longer than max_source_length="
                f"{self.max_source_length} tokens (longest {max(lengths)}) and were truncated; "
                "split long texts into sentences, or raise max_source_length within the model's limit.",
                stacklevel=4,
            )
        return texts

    def batch(self, pairs: Sequence[tuple[str, str]], warn: bool = True) -> dict:
        """Model inputs with ``labels`` (padding masked out) for a list of (source, target) pairs.

        ``warn=False`` skips the length check (a second tokenisation), for training loops that
        checked their pairs once up front or whose corpus is known.
        """
        pairs = list(zip(self._with_prefix([s for s, _ in pairs], warn), [t for _, t in pairs]))
        start = self.model.config.decoder_start_token_id
        batch = seq2seq_batch(self.tokenizer, pairs, self.max_source_length, self.max_target_length, start)
        return {k: v.to(self.device) for k, v in batch.items()}

    def loss(self, batch: dict, weights: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Mean token cross-entropy of a :meth:`batch`; ``weights`` swaps LoRA tensors in (functional)."""
        if weights is None:
            return self.model(**batch).loss
        return torch.func.functional_call(self.model, only_lora(weights), args=(), kwargs=batch, strict=False).loss

    # --------------------------------------------------------------- adaptation
    def adapt(
        self,
        pairs: Sequence[tuple[str, str]],
        steps: int = 300,
        lr: float = 1e-3,
        batch_size: int = 16,
        seed: int = 0,
        progress: bool | None = None,
    ) -> list[float]:
        """Learn this language pair from (source, target) pairs, starting from the current adapter.

        AdamW on the LoRA tensors only, batches drawn in a seeded shuffled order; returns the
        training loss of each step. The current adapter is usually meta-learned: adaptation
        then needs fewer pairs and steps than from a fresh one.
        """
        pairs = check_pairs(pairs, "adapt")
        if not pairs:
            raise ValueError("adapt needs at least one (source, target) pair.")
        if not isinstance(steps, int) or steps < 1 or not lr > 0 or batch_size < 1:
            raise ValueError(f"steps={steps!r}, lr={lr!r} and batch_size={batch_size!r} must all be positive.")
        self._with_prefix([source for source, _ in pairs])  # one truncation warning, not one per step
        rng = random.Random(seed)
        torch.manual_seed(seed)
        optimizer = torch.optim.AdamW(list(self.lora_parameters().values()), lr=lr, weight_decay=0.0)
        losses, order = [], []
        self.model.train()
        bar = tqdm(range(steps), desc="adapting", disable=not (steps >= 50 if progress is None else progress))
        try:
            for _ in bar:
                if len(order) < batch_size:
                    order += rng.sample(range(len(pairs)), len(pairs))
                chosen, order = order[:batch_size], order[batch_size:]
                loss = self.loss(self.batch([pairs[i] for i in chosen], warn=False))
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                losses.append(float(loss.detach()))
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
        finally:
            self.model.eval()
        self.adaptation = {"pairs": len(pairs), "steps": steps, "lr": lr, "batch_size": batch_size, "seed": seed}
        return losses

    # -------------------------------------------------------------- translation
    @torch.no_grad()
    def translate(
        self,
        texts: Sequence[str],
        beams: int = 4,
        max_new_tokens: int | None = None,
        batch_size: int = 16,
        progress: bool | None = None,
    ) -> list[str]:
        """Translate texts (in the order given); a progress bar appears on its own past 100 texts."""
        texts = check_texts(texts)
        if beams < 1 or batch_size < 1:
            raise ValueError(f"beams={beams!r} and batch_size={batch_size!r} must be >= 1.")
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        outputs: list[str] = [""] * len(texts)
        starts = range(0, len(texts), batch_size)
        for start in tqdm(starts, desc="translating", disable=not (len(texts) > 100 if progress is None else progress)):
            chosen = order[start : start + batch_size]
            inputs = self._encode_sources([texts[i] for i in chosen])
            generated = self.model.generate(
                **inputs,
                num_beams=beams,
                max_new_tokens=max_new_tokens or self.max_target_length,
                **self.languages.generate_kwargs,
            )
            for i, text in zip(chosen, self.tokenizer.batch_decode(generated, skip_special_tokens=True)):
                outputs[i] = text.strip()
        return outputs

    def score(self, pairs: Sequence[tuple[str, str]], beams: int = 4, batch_size: int = 16) -> dict:
        """chrF and BLEU (sacrebleu) of the translations of held-out pairs."""
        from ..evaluation import translation_scores

        pairs = check_pairs(pairs, "score")
        hypotheses = self.translate([s for s, _ in pairs], beams=beams, batch_size=batch_size)
        return translation_scores(hypotheses, [t for _, t in pairs])

    # ------------------------------------------------------------------- saving
    def _config(self) -> dict:
        return {
            LIBRARY_KEY: __version__,
            "base_model": self.base_model,
            "base_fingerprint": base_fingerprint(self.model),
            "source_language": self.source_language,
            "target_language": self.target_language,
            "lora": vars(self.lora_settings),
            "max_source_length": self.max_source_length,
            "max_target_length": self.max_target_length,
            "meta_training": self.meta_training,
            "adaptation": self.adaptation,
        }

    def _save_pretrained(self, save_directory: Path) -> None:
        save_directory = Path(save_directory)
        save_file(lora_state_dict(self.model), save_directory / ADAPTER_NAME)
        (save_directory / CONFIG_NAME).write_text(json.dumps(self._config(), indent=2, ensure_ascii=False))

    def generate_model_card(self, *args, **kwargs) -> ModelCard:
        languages = [lang for lang in (self.source_language, self.target_language) if lang]
        card_data = ModelCardData(
            library_name="fewshot-nlp",
            pipeline_tag="translation",
            base_model=None if os.path.isdir(self.base_model) else self.base_model,
            language=languages or None,
            tags=TAGS,
        )
        return ModelCard.from_template(
            card_data,
            template_str=MODEL_CARD_TEMPLATE,
            title=kwargs.get("title", f"{self.source_language or 'Source'} to {self.target_language or 'target'}"),
            source=self.source_language or "the source language",
            target=self.target_language or "the target language",
            base_model=self.base_model,
            adaptation=self.adaptation,
            repo_id=kwargs.get("repo_id", "<this folder or repo>"),
        )
