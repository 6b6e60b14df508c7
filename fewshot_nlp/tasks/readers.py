"""Readers for real corpora, in a small registry: ``load_task_set("clinc150", root=...)``.

Data is found through an explicit ``root`` or the ``FEWSHOT_NLP_DATA`` environment variable
(the folder that holds ``intents/``), never a hard-coded path.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from .classification import ClassificationTaskSet

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


def read_clinc150(root=None, split: str = "all", include_oos: bool = False) -> ClassificationTaskSet:
    """CLINC150 (``intents/clinc150/data_full.json``): 150 intents in 10 domains (groups).

    ``split`` is ``train``, ``val``, ``test`` or ``all``; ``include_oos`` adds the out-of-scope
    utterances under the label ``"oos"``.
    """
    folder = data_root(root) / "intents" / "clinc150"
    splits = CLINC150_SPLITS if split == "all" else (split,)
    if any(s not in CLINC150_SPLITS for s in splits):
        raise ValueError(f"split={split!r} must be one of {list(CLINC150_SPLITS)} or 'all'.")
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
    splits = ("train", "test") if split == "all" else (split,)
    texts, labels = [], []
    for name in splits:
        if name not in ("train", "test"):
            raise ValueError(f"split={split!r} must be 'train', 'test' or 'all'.")
        with _require(folder / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                texts.append(row["text"])
                labels.append(row["category"])
    return ClassificationTaskSet(texts, labels, name=f"banking77-{split}", conflicts="warn")


TASK_READERS = {"clinc150": read_clinc150, "banking77": read_banking77}


def load_task_set(name_or_path: str, root=None, **options) -> ClassificationTaskSet:
    """A task set by registry name (``clinc150``, ``banking77``) or from a ``text,label`` CSV path."""
    if name_or_path in TASK_READERS:
        return TASK_READERS[name_or_path](root, **options)
    path = Path(name_or_path)
    if path.suffix == ".csv":
        return ClassificationTaskSet.from_csv(path, **options)
    raise ValueError(f"unknown task set {name_or_path!r}; use one of {sorted(TASK_READERS)} or a .csv path.")
