"""What every command shares: one-line usage errors, the files a user gives (checked before any model loads),
and a plain table for the terminal."""

from __future__ import annotations

import argparse
import csv
import json
import os
from importlib import resources
from pathlib import Path

PACKAGE_DATA = "fewshot_nlp.data"
TEXT_FORMATS = (".txt", ".csv", ".jsonl")
OUTPUT_FORMATS = (".csv", ".jsonl")


class UsageError(Exception):
    """A bad command-line input: one line on stderr naming it and the fix, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad option on one line (through :class:`UsageError`)."""

    def error(self, message):
        raise UsageError(f"{message}; see '{self.prog} --help'.")


def packaged(name: str) -> Path:
    return Path(str(resources.files(PACKAGE_DATA) / name))


def print_table(rows: list[list], header: list[str]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


def input_file(path: str, what: str, formats: tuple[str, ...]) -> Path:
    """An existing, readable file of a known format, or a usage error that says so."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{what} {path}: no such file.")
    if file.suffix not in formats:
        raise UsageError(f"{what} {path}: unknown format {file.suffix or '(none)'!r}; use {', '.join(formats)}.")
    if not os.access(file, os.R_OK):
        raise UsageError(f"{what} {path}: not readable (check its permissions).")
    return file


def read_csv(path: Path, columns: list[str], option: str) -> list[dict]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise UsageError(
                    f"{path} has no column {missing[0]!r}; its columns are {reader.fieldnames}. Use {option}."
                )
            return list(reader)
    except UnicodeDecodeError as error:
        raise UsageError(f"{path} is not UTF-8 text ({error.reason}); save it as UTF-8.") from None


def read_texts(path: Path, column: str) -> list[str]:
    """Texts from .txt (one per line), .csv or .jsonl (the column ``column``); blank lines are skipped."""
    if path.suffix == ".csv":
        texts = [row[column] for row in read_csv(path, [column], "--text-column")]
    elif path.suffix == ".jsonl":
        texts = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise UsageError(f"{path} line {number} is not JSON ({error.msg}).") from None
            if not isinstance(row, dict) or column not in row:
                raise UsageError(f"{path} line {number} has no field {column!r}. Use --text-column.")
            texts.append(row[column])
    else:
        try:
            texts = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as error:
            raise UsageError(f"{path} is not UTF-8 text ({error.reason}); save it as UTF-8.") from None
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if not texts:
        raise UsageError(f"{path} holds no texts to classify.")
    return texts


def read_examples(path: Path, text_column: str, label_column: str) -> tuple[list[str], list[str]]:
    rows = read_csv(path, [text_column, label_column], "--text-column / --label-column")
    rows = [r for r in rows if (r[text_column] or "").strip() and (r[label_column] or "").strip()]
    if not rows:
        raise UsageError(f"{path} holds no rows with both a {text_column!r} and a {label_column!r}.")
    return [r[text_column] for r in rows], [r[label_column] for r in rows]


def read_labels(path: Path) -> dict:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise UsageError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(loaded, dict) or not loaded:
        raise UsageError(f"{path} must map each label to its description, one 'label: description' per line.")
    blank = [label for label, text in loaded.items() if not isinstance(text, str) or not text.strip()]
    if blank:
        raise UsageError(f"{path}: label {blank[0]!r} has no description; write 'label: a sentence about it'.")
    return {str(label): text for label, text in loaded.items()}


def check_model(name: str | None, option: str) -> None:
    """A local path that is not there is named now; anything else may be a Hub id (tried on load)."""
    if name is None or Path(name).is_dir():
        return
    path = Path(name).expanduser()
    hub_shaped = name.count("/") <= 1 and not name.startswith((".", "/", "~"))
    local = path.exists() or not hub_shaped or (name.count("/") == 1 and path.parent.is_dir())
    if local:
        raise UsageError(
            f"{option} {name}: no such model folder. Save one with clf.save_pretrained({name!r}) "
            "(see the README's API tour) or give a Hub id."
        )


def check_task_name(name: str, data: str | None) -> None:
    """A registry name (with its data folder) or a labelled-text file, before anything loads."""
    from ..tasks import CSV_CORPORA, TASK_READERS, data_root, parse_task_name

    try:
        corpus, _ = parse_task_name(name)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if corpus in ("clinc150", "banking77", "bible", *CSV_CORPORA):
        try:
            data_root(data)
        except FileNotFoundError as error:
            raise UsageError(str(error)) from None
    elif corpus not in TASK_READERS:
        if Path(corpus).suffix not in (".csv", ".json", ".jsonl"):
            raise UsageError(
                f"unknown task set {corpus!r}; use one of {', '.join(sorted(TASK_READERS))} or a .csv/.json/.jsonl file."
            )
        input_file(corpus, "task set", (".csv", ".json", ".jsonl"))


def check_positive(args, *names: str) -> None:
    for name in names:
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be at least 1.")


def check_backend_option(args) -> None:
    """An ONNX backend needs the onnx extra, and serves inference only."""
    from importlib.util import find_spec

    if args.backend == "torch":
        return
    missing = [name for name in ("onnxruntime", "onnx") if find_spec(name) is None]
    if missing:
        raise UsageError(f'--backend {args.backend} needs {" and ".join(missing)}: pip install "fewshot-nlp[onnx]".')
    if getattr(args, "adapt_steps", 0):
        raise UsageError(f"--adapt-steps trains the encoder, which needs --backend torch (not {args.backend}).")


def add_backend_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--backend",
        choices=["torch", "onnx", "onnx-int8"],
        default="torch",
        help="run the encoder on PyTorch (default) or ONNX Runtime, float32 or int8: faster on CPUs; exported "
        'once, offline; needs pip install "fewshot-nlp[onnx]"',
    )
