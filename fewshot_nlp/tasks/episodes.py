"""N-way K-shot episodes, reproducible from (seed, index) and serialisable to JSON."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .classification import ClassificationTaskSet


@dataclass
class Episode:
    """One few-shot task: a support set to adapt on and a query set to score.

    ``label_texts`` (aligned with ``classes``) are what the encoder reads for each class: its
    description or templated name. An episode with no support texts is a zero-shot one.
    """

    classes: list
    support_texts: list[str]
    support_labels: list
    query_texts: list[str]
    query_labels: list
    seed: int | None = None
    index: int | None = None
    label_texts: list[str] | None = None

    @property
    def way(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Episode:
        return cls(**data)


def save_episodes(episodes, path) -> None:
    """Freeze a list of episodes as JSON, so every method can be shown exactly the same ones."""
    Path(path).write_text(json.dumps([e.to_dict() for e in episodes], ensure_ascii=False))


def load_episodes(path) -> list[Episode]:
    try:
        return [Episode.from_dict(d) for d in json.loads(Path(path).read_text())]
    except (json.JSONDecodeError, TypeError) as error:
        raise ValueError(f"{path} is not an episode file written by save_episodes: {error}") from error


def _as_range(value, name: str) -> tuple[int, int]:
    low, high = (value, value) if isinstance(value, int) else tuple(value)
    if not 1 <= low <= high:
        raise ValueError(f"{name}={value!r} must be a positive int or a (low, high) range with 1 <= low <= high.")
    return int(low), int(high)


class EpisodeSampler:
    """Draws N-way K-shot episodes with Q queries per class from a task set.

    Episode ``i`` depends only on ``(seed, i)``, so a resumed run continues the same stream.

    Args:
        task_set: where classes and texts come from.
        way: classes per episode: an int, a ``(low, high)`` range drawn per episode (as in
            Meta-Dataset), or ``None`` / ``"all"`` for every eligible class.
        shot: support examples per class: an int or a ``(low, high)`` range.
        query: query examples per class.
        imbalanced: with a shot range, draw the shot count per class instead of per episode.
        seed: base seed of the stream.
        too_small: what to do with classes that have fewer than ``max shot + query`` distinct
            texts: ``"skip"`` (with a warning) or ``"error"`` (naming them).
        cap_way: lower ``way`` to the number of eligible classes instead of refusing it (for
            training over corpora of very different sizes: 7 intents in one, 150 in another).
        class_vectors: ``{class: vector}`` (e.g. embedded label texts) for hard episodes.
        hard_fraction: share of episodes whose classes are a random anchor class and its nearest
            classes by cosine similarity of ``class_vectors``: fine distinctions (card arrival
            against card delivery) instead of whatever a random draw brings together.
        family: ``class -> key``; a hard episode takes no two classes with one key (cloze tasks
            pass the first four letters, so that "card" and "cards", one word's forms and its
            nearest neighbours, never face each other).
    """

    #: nearest classes kept per class for hard episodes, at least (all of them when the classes are fewer)
    NEIGHBOURS = 256

    def __init__(
        self,
        task_set: ClassificationTaskSet,
        way: int | tuple[int, int] | str | None = 5,
        shot: int | tuple[int, int] = 5,
        query: int = 15,
        imbalanced: bool = False,
        seed: int = 0,
        too_small: str = "skip",
        cap_way: bool = False,
        class_vectors: dict | None = None,
        hard_fraction: float = 0.0,
        family: Callable[[str], str] | None = None,
    ):
        self.shot_range = _as_range(shot, "shot")
        if not isinstance(query, int) or query < 1:
            raise ValueError(f"query={query!r} must be an int >= 1.")
        if too_small not in ("skip", "error"):
            raise ValueError(f"too_small={too_small!r} must be 'skip' or 'error'.")
        self.task_set, self.query, self.imbalanced, self.seed = task_set, query, imbalanced, seed
        need = self.shot_range[1] + query
        # Distinct texts per class: a duplicated text must never sit in both support and query.
        self._pool = {c: list(dict.fromkeys(texts)) for c, texts in task_set.by_class.items()}
        small = [c for c, texts in self._pool.items() if len(texts) < need]
        if small and too_small == "error":
            raise ValueError(
                f"{task_set.name}: classes {small[:10]} have fewer than shot+query={need} texts; "
                "lower shot/query or pass too_small='skip'."
            )
        if small:
            warnings.warn(
                f"{task_set.name}: skipping {len(small)} classes with < {need} texts: {small[:5]}", stacklevel=2
            )
        self.classes = [c for c in task_set.classes if c not in small]
        all_classes = (len(self.classes), len(self.classes))
        self.way_range = all_classes if way in (None, "all") else _as_range(way, "way")
        if cap_way:
            self.way_range = tuple(min(w, len(self.classes)) for w in self.way_range)
        if self.way_range[0] < 2 or self.way_range[1] > len(self.classes):
            raise ValueError(
                f"way={way!r} needs between 2 and {len(self.classes)} classes with >= {need} texts "
                f"in {task_set.name}; lower way, shot or query."
            )
        if not 0.0 <= hard_fraction <= 1.0:
            raise ValueError(f"hard_fraction={hard_fraction!r} must be in [0, 1].")
        self.hard_fraction = hard_fraction
        if hard_fraction:
            missing = [c for c in self.classes if class_vectors is None or c not in class_vectors]
            if missing:
                raise ValueError(f"hard episodes need class_vectors for every class; missing {missing[:5]}.")
            vectors = np.stack([np.asarray(class_vectors[c], dtype=float) for c in self.classes])
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            # row a: the other classes nearest to class a, nearest first; only the nearest are kept, a
            # block of rows at a time: a cloze task set has thousands of classes, and every class's
            # full order would be tens of millions of list entries
            self._nearest, kept = [], max(self.NEIGHBOURS, 8 * self.way_range[1])
            for start in range(0, len(vectors), 1024):
                order = np.argsort(-(vectors[start : start + 1024] @ vectors.T), axis=1, kind="stable")
                for a, row in enumerate(order[:, : kept + 1], start):
                    self._nearest.append([i for i in row.tolist() if i != a])
            self._family = [c if family is None else family(c) for c in self.classes]

    def episode(self, index: int) -> Episode:
        rng = np.random.default_rng([self.seed, index])
        way = int(rng.integers(self.way_range[0], self.way_range[1] + 1))
        # a separate stream decides hardness, so that hard_fraction=0 leaves every episode as it was
        if self.hard_fraction and np.random.default_rng([self.seed, index, 3]).random() < self.hard_fraction:
            anchor = int(rng.integers(len(self.classes)))
            members, families = [anchor], {self._family[anchor]}
            for i in self._nearest[anchor]:
                if len(members) == way:
                    break
                if self._family[i] not in families:
                    members.append(i)
                    families.add(self._family[i])
            if len(members) < way:  # too few families near the anchor: the nearest classes left
                members += [i for i in self._nearest[anchor] if i not in members][: way - len(members)]
            chosen = [self.classes[i] for i in sorted(members)]
        else:
            chosen = [self.classes[i] for i in sorted(rng.choice(len(self.classes), way, replace=False))]
        low, high = self.shot_range
        episode_shot = int(rng.integers(low, high + 1))
        support_texts, support_labels, query_texts, query_labels = [], [], [], []
        for label in chosen:
            shot = int(rng.integers(low, high + 1)) if self.imbalanced else episode_shot
            texts = self._pool[label]
            picked = rng.choice(len(texts), shot + self.query, replace=False)
            support_texts += [texts[i] for i in picked[:shot]]
            support_labels += [label] * shot
            query_texts += [texts[i] for i in picked[shot:]]
            query_labels += [label] * self.query
        label_texts = [self.task_set.label_text(c) for c in chosen]
        return Episode(chosen, support_texts, support_labels, query_texts, query_labels, self.seed, index, label_texts)

    def sample(self, n: int, start: int = 0) -> list[Episode]:
        return [self.episode(i) for i in range(start, start + n)]
