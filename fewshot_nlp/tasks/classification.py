"""ClassificationTaskSet: labelled texts grouped by class, the raw material of episodes."""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..inputs import check_label_descriptions, check_labels, check_texts, texts_and_labels
from ..labels import DEFAULT_TEMPLATE, label_text


class ClassificationTaskSet:
    """Texts with labels (and optional label descriptions), indexed by class.

    Rows are kept as given, so published corpora keep their published sizes. A text given
    two different labels is an error naming both (``conflicts="error"``, the default for
    your own data), or a warning (``conflicts="warn"``, used for published corpora, which
    carry a handful of such texts).
    """

    def __init__(
        self,
        texts,
        labels,
        descriptions: Mapping | None = None,
        name: str = "custom",
        groups=None,
        conflicts: str = "error",
    ):
        if conflicts not in ("error", "warn", "keep"):
            raise ValueError(f"conflicts={conflicts!r} must be 'error', 'warn' or 'keep' (silently).")
        texts = check_texts(texts)
        labels = check_labels(labels, len(texts))
        self.name = name
        self.by_class: dict = {}
        first_label: dict = {}
        conflicting = []
        for text, label in zip(texts, labels):
            if first_label.setdefault(text, label) != label:
                conflicting.append((text, first_label[text], label))
            self.by_class.setdefault(label, []).append(text)
        if conflicting:
            text, a, b = conflicting[0]
            message = f"{name}: {len(conflicting)} texts carry two labels, e.g. {text!r} is {a!r} and {b!r}"
            if conflicts == "error":
                raise ValueError(f"{message}; fix or drop one of them.")
            if conflicts == "warn":
                warnings.warn(f"{message}; kept under both labels.", stacklevel=2)
        self.descriptions = dict(check_label_descriptions(descriptions)) if descriptions else {}
        #: optional grouping of classes (e.g. CLINC150 domains): group -> list of classes
        self.groups: dict = dict(groups or {})

    # ---------------------------------------------------------------- builders
    @classmethod
    def from_data(
        cls, data, column_mapping: Mapping | None = None, split: str | None = None, **kwargs
    ) -> ClassificationTaskSet:
        """From a ``datasets.Dataset`` / ``DatasetDict`` (pick ``split``, or all splits joined)
        or a pandas DataFrame; see ``column_mapping`` in ``FewShotClassifier.fit``."""
        if type(data).__name__ == "DatasetDict":
            if split is not None and split not in data:
                raise ValueError(f"split {split!r} not found; splits are {list(data)}.")
            import datasets

            data = data[split] if split is not None else datasets.concatenate_datasets(list(data.values()))
        texts, labels = texts_and_labels(data, None, column_mapping or None)
        return cls(texts, labels, **kwargs)

    @classmethod
    def from_file(cls, path, text_column: str = "text", label_column: str = "label", **kwargs):
        """A ``.csv`` (header row), ``.json`` (a list of objects) or ``.jsonl`` file of labelled texts."""
        path = Path(path)
        if path.suffix == ".csv":
            return cls.from_csv(path, text_column, label_column, **kwargs)
        if path.suffix not in (".json", ".jsonl"):
            raise ValueError(f"{path}: unsupported file type {path.suffix!r}; use .csv, .json or .jsonl.")
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        rows = []
        lines = path.read_text(encoding="utf-8").splitlines() if path.suffix == ".jsonl" else [path.read_text()]
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                loaded = json.loads(line)
            except json.JSONDecodeError as error:
                where = f"line {number}" if path.suffix == ".jsonl" else f"line {error.lineno}"
                raise ValueError(f"{path}, {where}: not valid JSON ({error.msg}).") from error
            rows += loaded if isinstance(loaded, list) else [loaded]
        if not rows:
            raise ValueError(f"{path} holds no rows.")
        for number, row in enumerate(rows, start=1):
            missing = [c for c in (text_column, label_column) if not isinstance(row, dict) or c not in row]
            if missing:
                keys = sorted(row) if isinstance(row, dict) else type(row).__name__
                raise ValueError(
                    f"{path}, row {number}: {missing} not found (it has {keys}); pass text_column=/label_column=."
                )
        kwargs.setdefault("name", path.stem)
        return cls([r[text_column] for r in rows], [r[label_column] for r in rows], **kwargs)

    @classmethod
    def from_hub(
        cls, name: str, config: str | None = None, split: str = "train", column_mapping: Mapping | None = None, **kwargs
    ):
        """A Hugging Face dataset by name (needs the network): ``datasets.load_dataset(name, config, split=split)``."""
        import datasets

        try:
            data = datasets.load_dataset(name, config, split=split)
        except Exception as error:  # offline, unknown name, unknown split: say which and how to fix
            raise ValueError(
                f"could not load the Hugging Face dataset {name!r} (split {split!r}): {error}. "
                "Check the name and the network, or load a local file with ClassificationTaskSet.from_file."
            ) from error
        kwargs.setdefault("name", name)
        return cls.from_data(data, column_mapping, **kwargs)

    @classmethod
    def from_csv(cls, path, text_column: str = "text", label_column: str = "label", **kwargs):
        """A CSV file with a header row; the named columns hold the text and the label."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            for column in (text_column, label_column):
                if column not in columns:
                    raise ValueError(
                        f"{path}: column {column!r} not found; columns are {columns}. "
                        "Pass text_column=... and label_column=..."
                    )
            rows = list(reader)
        if not rows:
            raise ValueError(f"{path} has a header but no rows.")
        kwargs.setdefault("name", path.stem)
        return cls([r[text_column] for r in rows], [r[label_column] for r in rows], **kwargs)

    # ------------------------------------------------------------------- views
    @property
    def classes(self) -> list:
        return list(self.by_class)

    def __len__(self) -> int:
        return sum(len(texts) for texts in self.by_class.values())

    def label_text(self, label, template: str = DEFAULT_TEMPLATE) -> str:
        """What the encoder reads for ``label``: its description, else its templated name."""
        return label_text(label, self.descriptions.get(label), template)

    def texts_and_labels(self) -> tuple[list[str], list]:
        pairs = [(t, c) for c, texts in self.by_class.items() for t in texts]
        return [t for t, _ in pairs], [c for _, c in pairs]

    def subset(self, classes, name: str | None = None) -> ClassificationTaskSet:
        """The same data restricted to ``classes`` (in that order)."""
        unknown = [c for c in classes if c not in self.by_class]
        if unknown:
            raise ValueError(f"{self.name}: unknown classes {unknown[:5]}; known classes are e.g. {self.classes[:5]}.")
        texts = [t for c in classes for t in self.by_class[c]]
        labels = [c for c in classes for _ in self.by_class[c]]
        descriptions = {c: self.descriptions[c] for c in classes if c in self.descriptions}
        groups = {g: [c for c in cs if c in classes] for g, cs in self.groups.items()}
        groups = {g: cs for g, cs in groups.items() if cs}
        # conflicts were reported when the full set was built
        return ClassificationTaskSet(texts, labels, descriptions or None, name or self.name, groups, conflicts="keep")

    def grouped(self, groups: Mapping | None = None, descriptions: Mapping | None = None, name: str | None = None):
        """A coarser task over the same texts: each text labelled by its class's group (``groups``: group ->
        classes, default :attr:`groups`), e.g. CLINC150's domains. Classes in no group are left out."""
        groups = dict(self.groups if groups is None else groups)
        owner: dict = {}
        for group, classes in groups.items():
            for label in classes:
                if owner.setdefault(label, group) != group:
                    raise ValueError(f"{self.name}: class {label!r} is in groups {owner[label]!r} and {group!r}.")
        if not set(owner) & set(self.by_class):
            raise ValueError(f"{self.name}: no class is in any group; its classes are e.g. {self.classes[:5]}.")
        pairs = [(t, owner[c]) for c, texts in self.by_class.items() if c in owner for t in texts]
        present = {g for _, g in pairs}
        described = {g: d for g, d in (descriptions or {}).items() if g in present}
        return ClassificationTaskSet(
            [t for t, _ in pairs],
            [g for _, g in pairs],
            described or None,
            name or f"{self.name}-grouped",
            conflicts="keep",
        )

    def split_classes(self, fractions=(0.6, 0.2, 0.2), seed: int = 0, names=("train", "val", "test")) -> dict:
        """Class-disjoint split: each class goes to exactly one part. Seeded and reproducible."""
        if len(fractions) != len(names) or not np.isclose(sum(fractions), 1.0) or min(fractions) < 0:
            raise ValueError(f"fractions={fractions!r} must be {len(names)} non-negative numbers summing to 1.")
        order = np.random.default_rng(seed).permutation(len(self.classes))
        bounds = np.round(np.cumsum(fractions) * len(order)).astype(int)
        parts = np.split(order, bounds[:-1])
        return {name: [self.classes[i] for i in sorted(part)] for name, part in zip(names, parts)}

    def split_by_groups(self, parts: Mapping) -> dict:
        """Class-disjoint split along groups, e.g. ``{"train": [7 domains], "test": [3 domains]}``."""
        unknown = [g for groups in parts.values() for g in groups if g not in self.groups]
        if unknown:
            raise ValueError(f"{self.name}: unknown groups {unknown}; groups are {sorted(self.groups)}.")
        split = {part: [c for g in groups for c in self.groups[g]] for part, groups in parts.items()}
        check_class_split(split)
        return split

    def info(self) -> dict:
        sizes = [len(t) for t in self.by_class.values()]
        return {
            "name": self.name,
            "classes": len(sizes),
            "texts": len(self),
            "per_class_min": min(sizes),
            "per_class_max": max(sizes),
            "described_classes": len(self.descriptions),
            "groups": len(self.groups),
        }

    def __repr__(self) -> str:
        return f"ClassificationTaskSet(name={self.name!r}, classes={len(self.by_class)}, texts={len(self)})"


def read_label_descriptions(path) -> dict:
    """A YAML (or JSON) file mapping label -> one-sentence description."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such label-description file: {path}")
    try:
        loaded = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"{path} is not valid {path.suffix[1:].upper()}: {error}") from error
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{path} must map label -> description, got {type(loaded).__name__}.")
    described = {k: v for k, v in loaded.items() if v}
    if len(described) < len(loaded):
        warnings.warn(f"{path}: {len(loaded) - len(described)} labels have an empty description", stacklevel=2)
    return check_label_descriptions(described)


def check_class_split(split: Mapping) -> None:
    """A class split must be disjoint: the same class in two parts would leak into evaluation."""
    seen: dict = {}
    for part, classes in split.items():
        for label in classes:
            if label in seen and seen[label] != part:
                raise ValueError(f"class {label!r} is in both {seen[label]!r} and {part!r}; a split must be disjoint.")
            seen[label] = part


def save_class_split(split: Mapping, path) -> None:
    """Write a class split as JSON (kept with every meta-trained model)."""
    check_class_split(split)
    Path(path).write_text(json.dumps({part: list(classes) for part, classes in split.items()}, indent=2))


def load_class_split(path) -> dict:
    try:
        split = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not a class split written by save_class_split: {error}") from error
    if not isinstance(split, dict) or not all(isinstance(v, list) for v in split.values()):
        raise ValueError(f"{path} must map part name -> list of classes.")
    check_class_split(split)
    return split
