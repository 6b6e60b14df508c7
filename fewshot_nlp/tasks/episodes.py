"""N-way K-shot episodes, reproducible from (seed, index) and serialisable to JSON."""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .classification import ClassificationTaskSet


@dataclass
class Episode:
    """One few-shot task: a support set to adapt on and a query set to score."""

    classes: list
    support_texts: list[str]
    support_labels: list
    query_texts: list[str]
    query_labels: list
    seed: int | None = None
    index: int | None = None

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


class EpisodeSampler:
    """Draws N-way K-shot episodes with Q queries per class from a task set.

    Episode ``i`` depends only on ``(seed, i)``, so a resumed run continues the same stream.

    Args:
        task_set: where classes and texts come from.
        way: classes per episode; ``None`` (or ``"all"``) uses every eligible class.
        shot: support examples per class.
        query: query examples per class.
        seed: base seed of the stream.
        too_small: what to do with classes that have fewer than ``shot + query`` texts:
            ``"skip"`` (with a warning) or ``"error"``.
    """

    def __init__(
        self,
        task_set: ClassificationTaskSet,
        way: int | None = 5,
        shot: int = 5,
        query: int = 15,
        seed: int = 0,
        too_small: str = "skip",
    ):
        if shot < 1 or query < 1:
            raise ValueError(f"shot={shot!r} and query={query!r} must both be >= 1.")
        if too_small not in ("skip", "error"):
            raise ValueError(f"too_small={too_small!r} must be 'skip' or 'error'.")
        self.task_set, self.shot, self.query, self.seed = task_set, shot, query, seed
        need = shot + query
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
        self.way = len(self.classes) if way in (None, "all") else int(way)
        if self.way < 2 or self.way > len(self.classes):
            raise ValueError(
                f"way={way!r} needs between 2 and {len(self.classes)} classes with >= {need} texts "
                f"in {task_set.name}; lower way, shot or query."
            )

    def episode(self, index: int) -> Episode:
        rng = np.random.default_rng([self.seed, index])
        chosen = [self.classes[i] for i in sorted(rng.choice(len(self.classes), self.way, replace=False))]
        support_texts, support_labels, query_texts, query_labels = [], [], [], []
        for label in chosen:
            texts = self._pool[label]
            picked = rng.choice(len(texts), self.shot + self.query, replace=False)
            support_texts += [texts[i] for i in picked[: self.shot]]
            support_labels += [label] * self.shot
            query_texts += [texts[i] for i in picked[self.shot :]]
            query_labels += [label] * self.query
        return Episode(chosen, support_texts, support_labels, query_texts, query_labels, self.seed, index)

    def sample(self, n: int, start: int = 0) -> list[Episode]:
        return [self.episode(i) for i in range(start, start + n)]
