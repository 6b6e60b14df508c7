"""How seq2seq model families are told the languages: prefixes, source codes, forced first tokens.

- T5 / mT5: a task prefix with language names, ``"translate German to English: "``;
- mBART-50, NLLB, M2M100: language-code tokens (``tokenizer.src_lang`` and a forced first
  decoder token for the target, e.g. ``"swh_Latn"`` -> ``"eng_Latn"``);
- multilingual Marian: a ``>>code<<`` token in front of the source names the target;
- anything else (single-pair Marian, the project's offline base): no codes; the language
  names are kept only as metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LanguageSetup:
    """What to put in front of each source text and what to pass to ``generate``."""

    prefix: str = ""
    generate_kwargs: dict = field(default_factory=dict)


def _known_code_id(tokenizer, code: str) -> int | None:
    if hasattr(tokenizer, "get_lang_id"):  # M2M100: "fr" -> "__fr__"
        try:
            return tokenizer.get_lang_id(code)
        except KeyError:
            return None
    token_id = tokenizer.convert_tokens_to_ids(code)
    return None if token_id is None or token_id == tokenizer.unk_token_id else token_id


def _unknown(code: str, examples) -> ValueError:
    shown = ", ".join(sorted(examples)[:8])
    return ValueError(f"language code {code!r} is not known to this model's tokenizer; it knows e.g. {shown}.")


def language_setup(tokenizer, model_type: str | None, source: str | None, target: str | None) -> LanguageSetup:
    """Configure ``tokenizer`` (in place, for code-token families) and return the setup."""
    if model_type in ("t5", "mt5"):
        return LanguageSetup(f"translate {source} to {target}: " if source and target else "")
    if hasattr(tokenizer, "src_lang"):
        codes = getattr(tokenizer, "additional_special_tokens", None) or list(getattr(tokenizer, "lang_code_to_id", {}))
        for code in (source, target):
            if code is not None and _known_code_id(tokenizer, code) is None:
                raise _unknown(code, codes)
        if source is not None:
            tokenizer.src_lang = source
        if target is None:
            return LanguageSetup()
        if hasattr(tokenizer, "tgt_lang"):
            tokenizer.tgt_lang = target
        return LanguageSetup(generate_kwargs={"forced_bos_token_id": _known_code_id(tokenizer, target)})
    marian_codes = [t for t in tokenizer.get_vocab() if t.startswith(">>") and t.endswith("<<")]
    if marian_codes and target is not None:
        token = target if target.startswith(">>") else f">>{target}<<"
        if token not in marian_codes:
            raise _unknown(token, marian_codes)
        return LanguageSetup(prefix=f"{token} ")
    return LanguageSetup()
