"""Task sets and episodes: from real corpora to reproducible N-way K-shot tasks and language pairs."""

from .bible import BibleSplit, bible_languages, read_bible, read_bible_file, verse_book
from .classification import (
    ClassificationTaskSet,
    check_class_split,
    load_class_split,
    read_label_descriptions,
    save_class_split,
)
from .cloze import cloze_task_set, word_family
from .episodes import Episode, EpisodeSampler, load_episodes, save_episodes
from .readers import (
    CSV_CORPORA,
    DATA_ENV,
    GROUPED_VIEWS,
    HUB_DATASETS,
    TASK_READERS,
    data_root,
    label_descriptions,
    load_task_set,
    parse_task_name,
    read_banking77,
    read_bbc_news,
    read_chatterbot,
    read_clinc150,
    read_csv_corpus,
)
from .translation import TranslationEpisode, TranslationTaskSet

__all__ = [
    "CSV_CORPORA",
    "BibleSplit",
    "DATA_ENV",
    "GROUPED_VIEWS",
    "HUB_DATASETS",
    "TASK_READERS",
    "ClassificationTaskSet",
    "Episode",
    "EpisodeSampler",
    "TranslationEpisode",
    "TranslationTaskSet",
    "bible_languages",
    "check_class_split",
    "cloze_task_set",
    "data_root",
    "label_descriptions",
    "load_class_split",
    "load_episodes",
    "load_task_set",
    "parse_task_name",
    "read_banking77",
    "read_bbc_news",
    "read_bible",
    "read_bible_file",
    "read_chatterbot",
    "read_clinc150",
    "read_csv_corpus",
    "read_label_descriptions",
    "save_class_split",
    "save_episodes",
    "verse_book",
    "word_family",
]
