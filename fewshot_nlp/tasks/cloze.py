"""Cloze tasks: classification tasks made from unlabelled texts, one class per masked word.

Labelled corpora are few, and an encoder meta-trained on them learns those corpora. Any pile of
texts gives thousands of further classes (Bansal et al. 2020, subset masked language-model tasks):
a class is a word, its texts are the texts that contain it with the word masked out, and its
label text, by the one rule of :mod:`fewshot_nlp.labels`, is "This text is about <word>.". To
place a text there the encoder must read what the text means without the word that names it.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from .classification import ClassificationTaskSet

_WORD = re.compile(r"[A-Za-z]+")


def cloze_task_set(
    texts,
    min_texts: int = 8,
    max_share: float = 0.01,
    per_word: int = 40,
    min_length: int = 4,
    mask: str = "[MASK]",
    seed: int = 0,
    name: str = "cloze",
    phrases: bool = False,
) -> ClassificationTaskSet:
    """A task set whose classes are words of ``texts`` and whose texts have that word masked.

    A word (lower-cased, letters only, at least ``min_length`` of them) is a class when it occurs
    in at least ``min_texts`` distinct texts and in at most ``max_share`` of them, and is written
    in lower case in at least half of those: common words ("what", "have") say nothing of a text's
    meaning, and leaving them out needs no stop-word list; names ("Manhattan", "Johnny") would
    make the tasks trivia. A class keeps at most ``per_word`` of its texts (drawn with ``seed``),
    so that frequent words do not outweigh the rest when texts are counted. Every occurrence of
    the word in a text is replaced by ``mask`` ("[MASK]" is the mask token of BERT-style tokenizers).

    ``phrases``: two consecutive words, each rare enough to be a class, are a class too when the
    phrase passes the same tests ("direct debit", "doctor appointment"), masked as one ``mask``:
    classes shaped like the names of intents.
    """
    texts = list(dict.fromkeys(str(t) for t in texts))
    if min_texts < 1 or per_word < 1 or min_length < 1 or not 0 < max_share <= 1:
        raise ValueError(
            f"min_texts={min_texts!r}, per_word={per_word!r}, min_length={min_length!r} must be >= 1 and "
            f"max_share={max_share!r} in (0, 1]."
        )
    containing, in_lower_case = defaultdict(list), defaultdict(int)
    for index, text in enumerate(texts):
        words = _WORD.findall(text)
        found = [w for w in words if len(w) >= min_length]
        if phrases:
            found += [f"{a} {b}" for a, b in zip(words, words[1:]) if min(len(a), len(b)) >= min_length]
        for word in {w.lower() for w in found}:
            containing[word].append(index)
        for word in {w for w in found if w.islower()}:
            in_lower_case[word] += 1
    most = max_share * len(texts)

    def is_class(word: str) -> bool:
        rows = containing[word]
        rare = all(len(containing[w]) <= most for w in word.split())  # a phrase: each of its words too
        return min_texts <= len(rows) and rare and 2 * in_lower_case[word] >= len(rows)

    words = sorted(w for w in list(containing) if is_class(w))
    if len(words) < 2:
        raise ValueError(
            f"{len(texts)} texts give {len(words)} words in {min_texts} to {most:.0f} texts; a cloze task set needs "
            "at least 2: give more texts, or lower min_texts / raise max_share."
        )
    rng = np.random.default_rng(seed)
    masked, labels = [], []
    for word in words:
        rows = containing[word]
        if len(rows) > per_word:
            rows = sorted(rng.choice(rows, per_word, replace=False).tolist())
        spelled = r"[^A-Za-z]+".join(word.split())  # a phrase's words, whatever lies between them in the text
        pattern = re.compile(rf"(?<![A-Za-z]){spelled}(?![A-Za-z])", re.IGNORECASE)
        masked += [pattern.sub(mask, texts[i]) for i in rows]
        labels += [word] * len(rows)
    return ClassificationTaskSet(masked, labels, name=name, conflicts="keep")


def word_family(word: str) -> str:
    """The first four letters of a cloze class: a word's forms share them (card, cards; invest,
    investor), and being each other's nearest neighbours they would face each other in every hard
    episode, with texts that tell them apart by grammar alone (``EpisodeSampler(family=...)``)."""
    return word[:4]
