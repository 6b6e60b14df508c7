"""Task sets and episodes: from real corpora to reproducible N-way K-shot tasks."""

from .classification import ClassificationTaskSet, read_label_descriptions
from .episodes import Episode, EpisodeSampler, load_episodes, save_episodes
from .readers import DATA_ENV, TASK_READERS, data_root, load_task_set, read_banking77, read_clinc150

__all__ = [
    "DATA_ENV",
    "TASK_READERS",
    "ClassificationTaskSet",
    "Episode",
    "EpisodeSampler",
    "data_root",
    "load_episodes",
    "load_task_set",
    "read_banking77",
    "read_clinc150",
    "read_label_descriptions",
    "save_episodes",
]
