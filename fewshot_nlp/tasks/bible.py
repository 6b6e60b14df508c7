"""Reader for the verse-aligned Bible corpus (Corpus Encoding Standard XML).

Each file holds ``<seg id="b.BOOK.CHAPTER.VERSE" type="verse">text</seg>``; verse ids align
the languages. Two quirks of the published files are handled here:

- some files number the chapters of "1CO", "2JO", ... with the book's digit in front
  (``b.1CO.110.5`` is 1 Corinthians 10:5): detected per book and undone;
- some translations merge two verses into one, leaving the second missing: the verse
  before a missing one may hold both, so it is kept out of the pairs.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar

from .readers import data_root
from .translation import TranslationTaskSet

TARGET_FILE = "English-KJV-NT.xml"
VERSE_ID = re.compile(r"b\.([0-9A-Z]+)\.(\d+)\.(\d+)")


def read_bible_file(path) -> dict[str, str]:
    """``{verse id: text}`` with whitespace collapsed; empty verses are left out."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such Bible file: {path}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise ValueError(f"{path} is not well-formed XML ({error}).") from error
    verses = {}
    for seg in root.iter("seg"):
        match = VERSE_ID.fullmatch(seg.get("id") or "")
        if match is None:
            raise ValueError(f"{path}: segment id {seg.get('id')!r} is not of the form b.BOOK.CHAPTER.VERSE.")
        text = " ".join("".join(seg.itertext()).split())
        if text:
            verses[seg.get("id")] = text
    if not verses:
        raise ValueError(f"{path} holds no verses (<seg id='b.BOOK.C.V' type='verse'>text</seg>).")
    return _undo_prefixed_chapters(verses)


def _undo_prefixed_chapters(verses: dict[str, str]) -> dict[str, str]:
    chapters: dict[str, set[str]] = {}
    for verse_id in verses:
        book, chapter, _ = VERSE_ID.fullmatch(verse_id).groups()
        chapters.setdefault(book, set()).add(chapter)
    prefixed = {
        book
        for book, numbers in chapters.items()
        if book[0].isdigit()
        and all(n.startswith(book[0]) and len(n) > 1 for n in numbers)
        and sorted(int(n[1:]) for n in numbers) == list(range(1, len(numbers) + 1))
    }
    if not prefixed:
        return verses
    fixed = {}
    for verse_id, text in verses.items():
        book, chapter, verse = VERSE_ID.fullmatch(verse_id).groups()
        fixed[f"b.{book}.{chapter[1:] if book in prefixed else chapter}.{verse}"] = text
    return fixed


def align_verses(source: dict[str, str], target: dict[str, str]) -> list[tuple[str, str, str]]:
    """(id, source text, target text) for verses present in both, merged verses kept out."""
    merged = set()
    for verse_id in target:
        if verse_id not in source:
            book, chapter, verse = VERSE_ID.fullmatch(verse_id).groups()
            if int(verse) > 1:
                merged.add(f"b.{book}.{chapter}.{int(verse) - 1}")
    return [(i, source[i], text) for i, text in target.items() if i in source and i not in merged]


def bible_languages(root) -> dict[str, dict]:
    """``{language name: metadata row}`` for the Bible files present (name = file stem without -NT)."""
    folder = data_root(root) / "bible"
    metadata = {}
    if (folder / "metadata.csv").is_file():
        with (folder / "metadata.csv").open(newline="", encoding="utf-8") as handle:
            metadata = {row["Filename"]: row for row in csv.DictReader(handle)}
    return {
        path.stem.removesuffix("-NT"): {"file": path.name, **metadata.get(path.name, {})}
        for path in sorted(folder.glob("*.xml"))
        if path.name != TARGET_FILE
    }


def read_bible(root=None, languages=None, exclude_books=()) -> TranslationTaskSet:
    """Bible languages paired with English (KJV): one language pair per language.

    Args:
        root: the data folder holding ``bible/`` (or ``$FEWSHOT_NLP_DATA``).
        languages: names as in :func:`bible_languages` (default: all).
        exclude_books: book codes (e.g. ``("ACT", "HEB")``) left out of every pair.
    """
    folder = data_root(root) / "bible"
    available = bible_languages(root)
    languages = list(available) if languages is None else list(languages)
    unknown = [lang for lang in languages if lang not in available]
    if unknown:
        raise ValueError(f"no Bible file for {unknown}; available: {sorted(available)}.")
    english = read_bible_file(folder / TARGET_FILE)
    excluded = set(exclude_books)
    pairs, ids = {}, {}
    for language in languages:
        aligned = align_verses(read_bible_file(folder / available[language]["file"]), english)
        aligned = [row for row in aligned if VERSE_ID.fullmatch(row[0]).group(1) not in excluded]
        pairs[language] = [(source, target) for _, source, target in aligned]
        ids[language] = [verse_id for verse_id, _, _ in aligned]
    return TranslationTaskSet(pairs, target_language="English", ids=ids)


def verse_book(verse_id: str) -> str:
    """``"b.ACT.2.1"`` -> ``"ACT"``."""
    match = VERSE_ID.fullmatch(verse_id)
    if match is None:
        raise ValueError(f"{verse_id!r} is not a verse id of the form b.BOOK.CHAPTER.VERSE.")
    return match.group(1)


@dataclass
class BibleSplit:
    """Which Bible verses and languages each stage may see, so no score rests on memorised verses.

    Parts of the verses (:meth:`part`), the same in every language:

    - ``test``: the ``held_out_books``, excluded from every stage (base, meta-training,
      adaptation); all evaluation verses come from them;
    - ``dev``: the ``dev_chapters`` (``"JOH.21"``), for model selection, never trained on;
    - ``meta``: the ``meta_books``, kept out of base training; meta-training and the adaptation
      of new languages draw from them, so the inner loop meets English the decoder has not
      memorised;
    - ``base``: the other books, for base training.

    ``evaluation_languages`` are excluded whole from base training and meta-training.
    """

    held_out_books: list[str]
    meta_books: list[str] = field(default_factory=list)
    dev_chapters: list[str] = field(default_factory=list)
    evaluation_languages: list[str] = field(default_factory=list)

    PARTS: ClassVar[tuple[str, ...]] = ("base", "meta", "dev", "test")

    def __post_init__(self):
        overlap = sorted(set(self.held_out_books) & set(self.meta_books))
        if overlap:
            raise ValueError(f"books {overlap} are both held out and meta books; a book belongs to one part.")
        for chapter in self.dev_chapters:
            if not re.fullmatch(r"[0-9A-Z]+\.\d+", str(chapter)):
                raise ValueError(f"dev chapter {chapter!r} must look like 'JOH.21' (book code, chapter number).")

    @classmethod
    def from_yaml(cls, path) -> BibleSplit:
        import yaml

        data = yaml.safe_load(Path(path).read_text()) or {}
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"{path}: unknown keys {unknown}; expected {[f.name for f in fields(cls)]}.")
        return cls(**data)

    def part(self, verse_id: str) -> str:
        """``"test"`` (held-out book), ``"dev"`` (dev chapter), ``"meta"`` (meta book) or ``"base"``."""
        book, chapter, _ = VERSE_ID.fullmatch(verse_id).groups()
        if book in self.held_out_books:
            return "test"
        if f"{book}.{chapter}" in self.dev_chapters:
            return "dev"
        return "meta" if book in self.meta_books else "base"

    def check_books(self, verse_ids) -> None:
        """Refuse book codes the corpus does not use (a typo would silently empty a part)."""
        books = {verse_book(i) for i in verse_ids}
        named = set(self.held_out_books) | set(self.meta_books) | {c.split(".")[0] for c in self.dev_chapters}
        unknown = sorted(named - books)
        if unknown:
            raise ValueError(
                f"books {unknown} of this split are not in the corpus; its book codes are {sorted(books)}."
            )

    def training_languages(self, root=None) -> list[str]:
        return [lang for lang in bible_languages(root) if lang not in self.evaluation_languages]

    def read(self, root=None, part: str = "base", languages=None) -> TranslationTaskSet:
        """The verses of one part; ``languages`` default to the training languages."""
        return self.read_parts(root, (part,), languages)[0]

    def read_parts(self, root=None, parts=("base", "dev"), languages=None) -> list[TranslationTaskSet]:
        """The verses of several parts, reading the Bible files once."""
        unknown = [part for part in parts if part not in self.PARTS]
        if unknown:
            raise ValueError(f"part={unknown[0]!r} must be one of {self.PARTS}.")
        languages = self.training_languages(root) if languages is None else languages
        pairs = read_bible(root, languages)
        ids = [i for language_ids in pairs.ids.values() for i in language_ids]
        self.check_books(ids)
        found = {self.part(i) for i in ids}
        for part in parts:
            if part not in found:
                raise ValueError(
                    f"no verse of {languages} falls in the {part!r} part of this split; "
                    + ("list some books in meta_books." if part == "meta" else "check its books and chapters.")
                )
        return [pairs.filter_ids(lambda verse_id, part=part: self.part(verse_id) == part) for part in parts]
