"""TranslationTaskSet: parallel sentence pairs grouped by language pair; one pair = one task."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass
class TranslationEpisode:
    """K support pairs to adapt on and Q query pairs to score, all of one language pair."""

    language: str
    support: list[tuple[str, str]]
    query: list[tuple[str, str]]
    seed: int | None = None
    index: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TranslationEpisode:
        data = dict(data)
        data["support"] = [tuple(p) for p in data["support"]]
        data["query"] = [tuple(p) for p in data["query"]]
        return cls(**data)


def check_pairs(pairs, where: str) -> list[tuple[str, str]]:
    checked = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"{where}: pair {i} is {pair!r}; each pair must be (source, target).")
        source, target = pair
        if not isinstance(source, str) or not isinstance(target, str):
            raise TypeError(f"{where}: pair {i} holds {type(source).__name__}/{type(target).__name__}; use strings.")
        checked.append((source, target))
    return checked


class TranslationTaskSet:
    """Sentence pairs per source language, all into one target language (e.g. English).

    Args:
        pairs: ``{language: [(source, target), ...]}``.
        target_language: the shared target side, for bookkeeping and model cards.
        ids: optional ``{language: [pair id, ...]}`` aligned with ``pairs`` (e.g. Bible verse ids),
            used to keep whole books out of training.
    """

    def __init__(self, pairs: Mapping, target_language: str = "English", ids: Mapping | None = None):
        self.target_language = target_language
        self.pairs: dict[str, list[tuple[str, str]]] = {}
        self.ids: dict[str, list[str]] = {}
        for language, language_pairs in pairs.items():
            checked = check_pairs(language_pairs, f"language {language!r}")
            if not checked:
                raise ValueError(f"language {language!r} has no sentence pairs; drop it or fix its source.")
            self.pairs[language] = checked
            language_ids = list(ids[language]) if ids and language in ids else [str(i) for i in range(len(checked))]
            if len(language_ids) != len(checked):
                raise ValueError(f"language {language!r}: {len(checked)} pairs but {len(language_ids)} ids.")
            self.ids[language] = language_ids
        if not self.pairs:
            raise ValueError("no languages given; a TranslationTaskSet needs at least one language pair.")

    # ---------------------------------------------------------------- builders
    @classmethod
    def from_aligned_files(cls, source_path, target_path, language: str, **kwargs) -> TranslationTaskSet:
        """Two plain-text files, line i of one translating line i of the other."""
        source_lines = _read_lines(source_path)
        target_lines = _read_lines(target_path)
        if len(source_lines) != len(target_lines):
            raise ValueError(
                f"misaligned files: {source_path} has {len(source_lines)} lines but {target_path} has "
                f"{len(target_lines)}; they must translate each other line by line."
            )
        pairs = [(s, t) for s, t in zip(source_lines, target_lines) if s.strip() and t.strip()]
        ids = [str(i + 1) for i, (s, t) in enumerate(zip(source_lines, target_lines)) if s.strip() and t.strip()]
        return cls({language: pairs}, ids={language: ids}, **kwargs)

    @classmethod
    def from_tsv(cls, path, language: str, source_column: int = 0, target_column: int = 1, **kwargs):
        """A tab-separated file without header: one pair per line."""
        pairs, ids = [], []
        for number, line in enumerate(_read_lines(path), start=1):
            if not line.strip():
                continue
            cells = line.split("\t")
            if max(source_column, target_column) >= len(cells):
                raise ValueError(f"{path}, line {number}: {len(cells)} tab-separated columns, expected at least 2.")
            pairs.append((cells[source_column].strip(), cells[target_column].strip()))
            ids.append(str(number))
        return cls({language: pairs}, ids={language: ids}, **kwargs)

    @classmethod
    def from_jsonl(cls, path, language: str, source_key: str = "source", target_key: str = "target", **kwargs):
        """One JSON object per line holding the two sides under ``source_key`` and ``target_key``."""
        pairs, ids = [], []
        for number, line in enumerate(_read_lines(path), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, line {number}: not valid JSON ({error}).") from error
            missing = [k for k in (source_key, target_key) if k not in row]
            if missing:
                raise ValueError(f"{path}, line {number}: keys {missing} not found; keys are {sorted(row)}.")
            pairs.append((row[source_key], row[target_key]))
            ids.append(str(row.get("id", number)))
        return cls({language: pairs}, ids={language: ids}, **kwargs)

    @classmethod
    def from_hf_dataset(cls, dataset, source_language: str, target_language: str, column: str = "translation"):
        """A Hugging Face translation dataset: a ``translation`` column of ``{lang: text}`` dicts."""
        if column not in dataset.column_names:
            raise ValueError(f"column {column!r} not found; columns are {dataset.column_names}. Pass column=...")
        rows = dataset[column]
        missing = {source_language, target_language} - set(rows[0]) if rows else set()
        if missing:
            raise ValueError(f"languages {sorted(missing)} not in the {column!r} dicts; they hold {sorted(rows[0])}.")
        pairs = [(r[source_language], r[target_language]) for r in rows if r[source_language] and r[target_language]]
        return cls({source_language: pairs}, target_language=target_language)

    # ------------------------------------------------------------------- views
    @property
    def languages(self) -> list[str]:
        return list(self.pairs)

    def __len__(self) -> int:
        return sum(len(p) for p in self.pairs.values())

    def select(self, languages: Sequence[str]) -> TranslationTaskSet:
        unknown = [lang for lang in languages if lang not in self.pairs]
        if unknown:
            raise ValueError(f"unknown languages {unknown}; known: {self.languages}.")
        return TranslationTaskSet(
            {lang: self.pairs[lang] for lang in languages},
            self.target_language,
            {lang: self.ids[lang] for lang in languages},
        )

    def hold_out(self, languages: Sequence[str]) -> tuple[TranslationTaskSet, TranslationTaskSet]:
        """(the other languages, the held-out ones): held-out languages are kept out whole."""
        held = self.select(languages)
        return self.select([lang for lang in self.languages if lang not in languages]), held

    def filter_ids(self, keep) -> TranslationTaskSet:
        """Only the pairs whose id satisfies ``keep(id)`` (e.g. outside some Bible books)."""
        pairs, ids = {}, {}
        for lang in self.languages:
            kept = [(p, i) for p, i in zip(self.pairs[lang], self.ids[lang]) if keep(i)]
            if kept:
                pairs[lang], ids[lang] = [p for p, _ in kept], [i for _, i in kept]
        return TranslationTaskSet(pairs, self.target_language, ids)

    def episode(self, language: str, support: int, query: int, seed: int = 0, index: int = 0) -> TranslationEpisode:
        """K support and Q query pairs of one language, reproducible from (seed, index)."""
        pairs = self.pairs.get(language)
        if pairs is None:
            raise ValueError(f"unknown language {language!r}; known: {self.languages}.")
        if support + query > len(pairs):
            raise ValueError(
                f"language {language!r} has {len(pairs)} pairs, fewer than support+query={support + query}."
            )
        order = np.random.default_rng([seed, index, *language.encode()]).permutation(len(pairs))
        return TranslationEpisode(
            language,
            [pairs[i] for i in order[:support]],
            [pairs[i] for i in order[support : support + query]],
            seed,
            index,
        )

    def info(self) -> dict:
        return {"languages": len(self.pairs), "pairs": len(self), "target": self.target_language} | {
            lang: len(p) for lang, p in self.pairs.items()
        }

    def __repr__(self) -> str:
        return f"TranslationTaskSet(languages={len(self.pairs)}, pairs={len(self)}, target={self.target_language!r})"


def _read_lines(path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not any(line.strip() for line in lines):
        raise ValueError(f"{path} is empty.")
    return lines
