"""Checking and normalising what users pass in: texts, labels, datasets, DataFrames.

Every error names the bad value and says how to fix it, before any work is done.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

DEFAULT_COLUMNS = {"text": "text", "label": "label"}


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def check_texts(texts, name: str = "texts") -> list[str]:
    """A non-empty list of non-empty strings, or a clear error naming the first bad item."""
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of strings, not a single string; wrap it: [{texts[:40]!r}].")
    if hasattr(texts, "tolist") and not isinstance(texts, list):  # pandas Series, numpy array
        texts = texts.tolist()
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}.") from None
    if not texts:
        raise ValueError(f"{name} is empty; pass at least one text.")
    for i, text in enumerate(texts):
        if _is_missing(text):
            raise ValueError(f"{name}[{i}] is {text!r}; drop missing texts before calling (e.g. df.dropna()).")
        if not isinstance(text, str):
            raise TypeError(f"{name}[{i}] is {type(text).__name__} {text!r}; every text must be a str.")
        if not text.strip():
            raise ValueError(f"{name}[{i}] is an empty string; remove empty texts.")
    return texts


def _check_label(label, where: str):
    if _is_missing(label):
        raise ValueError(f"{where} is missing ({label!r}); every text needs a label.")
    if isinstance(label, bool) or not isinstance(label, (str, int)):
        raise TypeError(f"{where} is {type(label).__name__} {label!r}; labels must be str or int.")
    if isinstance(label, str) and not label.strip():
        raise ValueError(f"{where} is an empty string; give every class a name.")
    return label


def check_labels(labels, n_texts: int, multi_label: bool = False) -> list:
    """Labels aligned with the texts: one label each, or a list of labels each when multi-label."""
    if isinstance(labels, str):
        raise TypeError("labels must be a list with one label per text, not a single string.")
    if hasattr(labels, "tolist") and not isinstance(labels, list):
        labels = labels.tolist()
    labels = list(labels)
    if len(labels) != n_texts:
        raise ValueError(f"got {n_texts} texts but {len(labels)} labels; pass exactly one label per text.")
    checked = []
    for i, label in enumerate(labels):
        if multi_label:
            if isinstance(label, (str, int)) and not isinstance(label, bool):
                label = [label]
            if not isinstance(label, (list, tuple, set)) or not label:
                raise TypeError(
                    f"labels[{i}] is {label!r}; with multi_label=True each text needs a non-empty list of labels."
                )
            checked.append([_check_label(x, f"labels[{i}]") for x in dict.fromkeys(label)])
        else:
            checked.append(_check_label(label, f"labels[{i}]"))
    return checked


def check_label_descriptions(labels) -> dict:
    """``[names]`` or ``{name: description}`` -> ``{name: description or None}``."""
    if isinstance(labels, str):
        raise TypeError(f"labels must be a list of names or a {{name: description}} dict, not the string {labels!r}.")
    described = dict(labels) if isinstance(labels, Mapping) else dict.fromkeys(list(labels))
    if not described:
        raise ValueError("labels is empty; pass at least one label name or {name: description}.")
    for name, description in described.items():
        _check_label(name, f"label name {name!r}")
        if description is not None and (not isinstance(description, str) or not description.strip()):
            raise ValueError(
                f"the description of label {name!r} is {description!r}; give a sentence, or None to use the name."
            )
    return described


def texts_and_labels(data, labels=None, column_mapping: Mapping | None = None):
    """Accept lists, a ``datasets.Dataset`` or a pandas DataFrame; return (texts, labels).

    ``column_mapping`` maps the data's column names to ``"text"`` and ``"label"``, as in SetFit,
    e.g. ``{"utterance": "text", "intent": "label"}``. ClassLabel ids become their names.
    """
    kind = type(data).__name__
    if kind == "DatasetDict":
        raise TypeError(f"got a DatasetDict with splits {list(data)}; pass one split, e.g. data['train'].")
    if kind not in ("Dataset", "DataFrame"):
        if column_mapping is not None:
            raise ValueError("column_mapping is only used with a datasets.Dataset or a pandas DataFrame.")
        if labels is None:
            raise ValueError("fit(texts, labels) needs labels: one per text.")
        return data, labels
    if labels is not None:
        raise ValueError(f"got a {kind} and separate labels; put the labels in a column and use column_mapping.")
    mapping = dict(column_mapping) if column_mapping else {}
    unknown_roles = set(mapping.values()) - {"text", "label"}
    if unknown_roles:
        raise ValueError(f"column_mapping values must be 'text' or 'label', got {sorted(unknown_roles)}.")
    source = {role: column for column, role in mapping.items()}
    columns = list(data.column_names) if kind == "Dataset" else [str(c) for c in data.columns]
    for role in ("text", "label"):
        column = source.get(role, DEFAULT_COLUMNS[role])
        if column not in columns:
            raise ValueError(
                f"column {column!r} ({role}) not found; columns are {columns}. "
                f"Pass column_mapping={{'<your text column>': 'text', '<your label column>': 'label'}}, "
                f"e.g. column_mapping={{{columns[0]!r}: 'text', {columns[-1]!r}: 'label'}}."
            )
        source[role] = column
    if kind == "Dataset":
        texts, label_values = data[source["text"]], data[source["label"]]
        feature = data.features[source["label"]]
        if type(feature).__name__ == "ClassLabel":
            label_values = [feature.int2str(v) if not _is_missing(v) else v for v in label_values]
        return list(texts), list(label_values)
    return data[source["text"]].tolist(), data[source["label"]].tolist()
