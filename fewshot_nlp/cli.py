"""The ``fewshot-nlp`` command (also ``python -m fewshot_nlp``)."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import warnings
from importlib import resources
from pathlib import Path

PACKAGE_DATA = "fewshot_nlp.data"
TEXT_FORMATS = (".txt", ".csv", ".jsonl")
OUTPUT_FORMATS = (".csv", ".jsonl")


class UsageError(Exception):
    """A bad command-line input: one line on stderr naming it and the fix, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option on one line (through :class:`UsageError`)."""

    def error(self, message):
        raise UsageError(f"{message}; see '{self.prog} --help'.")


def _packaged(name: str) -> Path:
    return Path(str(resources.files(PACKAGE_DATA) / name))


def _print_table(rows: list[list], header: list[str]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


# --------------------------------------------------------------------- quickstart
def quickstart(args) -> int:
    """Fit on the packaged example set (+ two described labels), predict, and evaluate if data is there."""
    from . import FewShotClassifier
    from .encoders import DEFAULT_MODEL
    from .tasks import ClassificationTaskSet, read_label_descriptions

    examples = ClassificationTaskSet.from_csv(_packaged("quickstart_examples.csv"))
    descriptions = read_label_descriptions(_packaged("quickstart_labels.yaml"))
    texts = [t for t in _packaged("quickstart_texts.txt").read_text().splitlines() if t.strip()]

    classifier = FewShotClassifier.from_pretrained(labels=descriptions)
    classifier.fit(*examples.texts_and_labels())
    adapted = classifier.encoder.name_or_path == DEFAULT_MODEL
    print(
        f"Classifier on the embedded all-MiniLM-L6-v2{' with its meta-trained adapter' if adapted else ''}: "
        f"{len(examples)} examples of "
        f"{len(examples.classes)} labels, plus {len(descriptions)} labels known only by description "
        f"({', '.join(descriptions)}).\n"
    )
    probabilities = classifier.predict_proba(texts)
    predictions = classifier.predict(texts)
    rows = []
    for text, label, row in zip(texts, predictions, probabilities):
        top2 = row.topk(2)
        runner_up = classifier.classes_[top2.indices[1]]
        rows.append([text, label, f"{top2.values[0]:.2f}", f"{runner_up} ({top2.values[1]:.2f})"])
    _print_table(rows, ["text", "prediction", "prob", "runner-up"])
    _quickstart_evaluation(args, classifier.encoder)
    return 0


def _quickstart_evaluation(args, encoder) -> None:
    from . import FewShotClassifier, evaluate_episodes
    from .encoders import DEFAULT_MODEL
    from .tasks import EpisodeSampler, data_root, read_clinc150

    # --data, then $FEWSHOT_NLP_DATA, then ../shared/data (where the project's own data lives beside a checkout)
    if args.data is not None:
        root = data_root(args.data)  # a wrong --data is an error, not a silent skip
    else:
        root = data_root(None, required=False) or data_root(Path("..", "shared", "data"), required=False)
    if root is None or not (root / "intents" / "clinc150").is_dir():
        print(
            "\nNo CLINC150 data found (looked at --data, $FEWSHOT_NLP_DATA and ../shared/data); "
            "skipping the episodic evaluation."
        )
        return
    task_set = read_clinc150(root, split="test")
    sampler = EpisodeSampler(task_set, way=5, shot=5, query=15, seed=0)
    episodes = sampler.sample(args.episodes)
    print(f"\nEpisodic evaluation on CLINC150 (test split), 5-way 5-shot, {len(episodes)} episodes:")
    if encoder.name_or_path == DEFAULT_MODEL:
        print(
            "  (the default adapter was meta-trained on CLINC150's train split: the test texts are new, "
            "the intents are not; docs/results.md, 'What meta-training buys', scores corpora it never saw)"
        )
    result = evaluate_episodes(lambda enc, ep: FewShotClassifier(enc), episodes, encoder, progress=False)
    print(f"  prototype accuracy: {result}")


# ------------------------------------------------------------------------ predict
def _input_file(path: str, what: str, formats: tuple[str, ...]) -> Path:
    """An existing, readable file of a known format, or a usage error that says so."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{what} {path}: no such file.")
    if file.suffix not in formats:
        raise UsageError(f"{what} {path}: unknown format {file.suffix or '(none)'!r}; use {', '.join(formats)}.")
    if not os.access(file, os.R_OK):
        raise UsageError(f"{what} {path}: not readable (check its permissions).")
    return file


def _read_csv(path: Path, columns: list[str], option: str) -> list[dict]:
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


def _read_texts(path: Path, column: str) -> list[str]:
    """Texts from .txt (one per line), .csv or .jsonl (the column ``column``); blank lines are skipped."""
    if path.suffix == ".csv":
        texts = [row[column] for row in _read_csv(path, [column], "--text-column")]
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


def _read_examples(path: Path, text_column: str, label_column: str) -> tuple[list[str], list[str]]:
    rows = _read_csv(path, [text_column, label_column], "--text-column / --label-column")
    rows = [r for r in rows if (r[text_column] or "").strip() and (r[label_column] or "").strip()]
    if not rows:
        raise UsageError(f"{path} holds no rows with both a {text_column!r} and a {label_column!r}.")
    return [r[text_column] for r in rows], [r[label_column] for r in rows]


def _read_labels(path: Path) -> dict:
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


def _check_model(name: str | None, option: str) -> None:
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


def check_predict(args) -> None:
    if not (args.model or args.examples or args.labels):
        raise UsageError("give --model FOLDER, or --examples CSV and/or --labels YAML to build a classifier.")
    if args.model and args.encoder:
        raise UsageError("--encoder builds a new classifier; a --model already has its encoder. Give one of them.")
    if Path(args.output).suffix not in OUTPUT_FORMATS:
        raise UsageError(f"--output {args.output}: unknown format; use a .csv or .jsonl name.")
    if args.self_train and (args.model or not args.labels):
        raise UsageError("--self-train builds a new classifier from --labels YAML (not a --model); give --labels.")
    _check_model(args.model, "--model")
    _check_model(args.encoder, "--encoder")
    _check_backend(args)
    args.texts = _read_texts(_input_file(args.input, "input", TEXT_FORMATS), args.text_column)
    examples = _input_file(args.examples, "--examples", (".csv",)) if args.examples else None
    args.example_rows = _read_examples(examples, args.text_column, args.label_column) if examples else None
    args.descriptions = _read_labels(_input_file(args.labels, "--labels", (".yaml", ".yml"))) if args.labels else None


PREDICTION_COLUMNS = [
    *("text", "label", "nearest_label", "nearest_probability", "score", "oos_threshold", "out_of_scope"),
    "prior_weight",
]


def _prediction_row(prediction) -> dict:
    """One output row; a multi-label decision is written as its labels joined by '|'."""
    row = prediction.to_dict()
    if isinstance(row["label"], list):
        row["label"] = "|".join(map(str, row["label"]))
    row["nearest_probability"] = round(row["nearest_probability"], 6)
    row["score"] = round(row["score"], 6)
    return row


def predict(args) -> int:
    """Classify a file of texts with a saved model, or one built from examples and/or descriptions."""
    from . import FewShotClassifier

    backend = "torch" if args.self_train else args.backend  # training needs torch; the result runs on --backend
    classifier = FewShotClassifier.from_pretrained(
        args.model or args.encoder, labels=args.descriptions, backend=backend
    )
    if args.self_train:  # the examples, if any, guide the labelling and join the training
        classifier = classifier.self_train(args.texts, examples=args.example_rows).set_backend(args.backend)
    elif args.example_rows:
        # A saved model keeps what it knows; a new one is fitted on the examples.
        learn = classifier.add_examples if args.model else classifier.fit
        learn(*args.example_rows)
    if args.oos_threshold is not None:
        classifier.oos_threshold = args.oos_threshold
    rows = [_prediction_row(p) for p in classifier.explain(args.texts)]
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="", encoding="utf-8") as handle:
        if output.suffix == ".jsonl":
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        else:
            writer = csv.DictWriter(handle, PREDICTION_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    if args.save:
        classifier.save_pretrained(args.save)
    rejected = sum(row["out_of_scope"] for row in rows)
    print(
        f"wrote {len(rows)} predictions to {output}"
        + (f" ({rejected} out of scope)" if classifier.oos_threshold is not None else "")
        + (f"; saved the classifier to {args.save}" if args.save else "")
    )
    return 0


# ----------------------------------------------------------------------- evaluate
def evaluate(args) -> int:
    """Episodic accuracy of a classifier (saved, or new on an encoder) on a task set's classes.

    A meta-trained model is evaluated on its meta-test classes of that task set (the class
    split saved with it), never on the classes it was trained on; ``--classes all`` overrides.
    """
    from . import FewShotClassifier, evaluate_episodes
    from .tasks import TASK_READERS, EpisodeSampler, load_task_set, parse_task_name

    options = {"split": args.split} if args.tasks in TASK_READERS else {}
    task_set = load_task_set(args.tasks, root=args.data, **options)  # data errors before the model loads
    base = FewShotClassifier.from_pretrained(args.model, backend=args.backend)
    splits = (base.meta_training or {}).get("class_split") or {}
    corpus = parse_task_name(args.tasks)[0]  # a model trained on "sgd:train" has a split of sgd
    split = splits.get(args.tasks) or next((v for k, v in splits.items() if parse_task_name(k)[0] == corpus), None)
    if split and args.classes != "all":
        if not split[args.classes]:
            sizes = ", ".join(f"{part} {len(classes)}" for part, classes in split.items())
            raise ValueError(
                f"the model's class split of {corpus} has no {args.classes!r} classes ({sizes}); "
                "pick another part with --classes, or --classes all."
            )
        task_set = task_set.subset(split[args.classes])
    elif args.classes != "all":
        print(f"note: the model has no class split for {args.tasks}; evaluating on all its classes")
    if args.label_text == "descriptions" and not task_set.descriptions:
        raise ValueError(f"{args.tasks} has no label descriptions; use --label-text names.")
    way = None if args.way == "all" else int(args.way)
    sampler = EpisodeSampler(task_set, way=way, shot=args.shot, query=args.query, seed=args.seed)
    episodes = sampler.sample(args.episodes)

    def make(encoder, episode):
        classifier = FewShotClassifier(encoder, metric=base.head.metric, temperature=base.head.temperature)
        classifier.meta_training = base.meta_training
        if args.method in ("zero-shot", "mixture"):
            described = args.label_text == "descriptions"
            classifier.add_labels(
                {c: task_set.descriptions.get(c) for c in episode.classes} if described else episode.classes
            )
        return classifier

    use_support = args.method != "zero-shot"
    result = evaluate_episodes(make, episodes, base.encoder, use_support=use_support, adapt_steps=args.adapt_steps)
    label_text = f" (label {args.label_text})" if args.method != "prototype" else ""
    adapted = f", {args.adapt_steps} adaptation steps" if args.adapt_steps else ""
    print(
        f"{args.tasks} ({args.split}, {len(task_set.classes)} classes) {episodes[0].way}-way {args.shot}-shot, "
        f"{args.method}{label_text}{adapted}: accuracy {result}"
    )
    return 0


# ---------------------------------------------------------------------- meta-train
def load_config(cls, config: str | None, overrides: list[str], required: tuple[str, ...] = ()):
    """A config dataclass from a YAML file and ``key=value`` overrides (values parsed as YAML)."""
    import dataclasses

    import yaml

    values = {}
    if config:
        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"no such config file: {path}")
        values = yaml.safe_load(path.read_text()) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path} must hold a mapping of {cls.__name__} fields.")
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep:
            raise ValueError(f"override {override!r} must look like key=value, e.g. steps=100.")
        values[key.strip()] = yaml.safe_load(value)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown settings {unknown}; known settings are {sorted(known)}.")
    for name in required:
        if name not in values:
            raise ValueError(f"{name} is not set; add it to the config or pass {name}=...")
    return cls(**values)


def load_training_arguments(config: str | None, overrides: list[str]):
    """Meta-training arguments from a YAML file and ``key=value`` overrides.

    ``problem: translation`` in either selects :class:`TranslationMetaTrainingArguments`;
    otherwise classification's :class:`MetaTrainingArguments`.
    """
    import yaml

    from .meta import MetaTrainingArguments, TranslationMetaTrainingArguments

    problem = (
        (yaml.safe_load(Path(config).read_text()) or {}).get("problem") if config and Path(config).is_file() else None
    )
    for override in overrides:
        key, _, value = override.partition("=")
        problem = yaml.safe_load(value) if key.strip() == "problem" else problem
    cls = TranslationMetaTrainingArguments if problem == "translation" else MetaTrainingArguments
    return load_config(cls, config, overrides, required=("output_dir",))


def meta_train(args) -> int:
    """Meta-train a LoRA adapter over many episodes (see recipes/configs)."""
    from .meta import MetaTrainer, TranslationMetaTrainer

    training_args = load_training_arguments(args.config, args.overrides)
    trainer = TranslationMetaTrainer if training_args.problem == "translation" else MetaTrainer
    output = trainer(training_args).train(resume=args.resume)
    print(f"meta-trained model written to {output}")
    return 0


# -------------------------------------------------------------------------- tasks
def tasks_info(args) -> int:
    """Sizes of a task set: classes and texts (and class groups), or Bible languages and verse pairs."""
    from .tasks import load_task_set, read_bible

    task_set = read_bible(args.data) if args.name == "bible" else load_task_set(args.name, root=args.data)
    for key, value in task_set.info().items():
        print(f"{key:>18}: {value}")
    if hasattr(task_set, "split_classes") and len(task_set.classes) >= 3:
        split = task_set.split_classes(seed=0)
        sizes = ", ".join(f"{part} {len(classes)}" for part, classes in split.items())
        print(f"{'class split':>18}: {sizes} classes (class-disjoint 60/20/20, seed 0)")
    for group, classes in getattr(task_set, "groups", {}).items():
        print(f"{'group ' + group:>18}: {len(classes)} classes")
    return 0


# ------------------------------------------------------------ checks of the inputs
def _check_task_name(name: str, data: str | None) -> None:
    """A registry name (with its data folder) or a labelled-text file, before anything loads."""
    from .tasks import CSV_CORPORA, TASK_READERS, data_root, parse_task_name

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
        _input_file(corpus, "task set", (".csv", ".json", ".jsonl"))


def _check_positive(args, *names: str) -> None:
    for name in names:
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be at least 1.")


def _check_backend(args) -> None:
    """An ONNX backend needs the onnx extra, and serves inference only."""
    from importlib.util import find_spec

    if args.backend == "torch":
        return
    missing = [name for name in ("onnxruntime", "onnx") if find_spec(name) is None]
    if missing:
        raise UsageError(f'--backend {args.backend} needs {" and ".join(missing)}: pip install "fewshot-nlp[onnx]".')
    if getattr(args, "adapt_steps", 0):
        raise UsageError(f"--adapt-steps trains the encoder, which needs --backend torch (not {args.backend}).")


def check_evaluate(args) -> None:
    _check_model(args.model, "--model")
    _check_backend(args)
    _check_task_name(args.tasks, args.data)
    if args.way != "all" and not (args.way.isdigit() and int(args.way) >= 2):
        raise UsageError(f"--way {args.way}: give a number of classes (2 or more) or 'all'.")
    _check_positive(args, "shot", "query", "episodes")


def check_tasks_info(args) -> None:
    _check_task_name(args.name, args.data)


def check_quickstart(args) -> None:
    if args.data is not None and not Path(args.data).is_dir():
        raise UsageError(f"--data {args.data}: no such folder; point it at the folder that holds intents/.")
    _check_positive(args, "episodes")


def check_meta_train(args) -> None:
    if args.config:
        _input_file(args.config, "--config", (".yaml", ".yml"))
    for override in args.overrides:
        if "=" not in override:
            raise UsageError(f"setting {override!r} must look like key=value, e.g. steps=100.")


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _configure_output(verbose: bool) -> None:
    """Library warnings and log messages reach the terminal as one line each (``warning: ...``);
    ``--verbose`` shows warnings whole, with the library's progress logs."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.showwarning = _one_line_warning
    library = logging.getLogger("fewshot_nlp")
    if not any(isinstance(h.formatter, _OneLine) for h in library.handlers):
        handler = logging.StreamHandler()  # stderr
        handler.setFormatter(_OneLine())
        library.addHandler(handler)  # with it, Python's bare last-resort output no longer applies


def _add_backend_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--backend",
        choices=["torch", "onnx", "onnx-int8"],
        default="torch",
        help="run the encoder on PyTorch (default) or ONNX Runtime, float32 or int8: faster on CPUs; exported "
        'once, offline; needs pip install "fewshot-nlp[onnx]"',
    )


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="library logs and whole warnings"
    )
    parser = _Parser(prog="fewshot-nlp", description="Few-shot text classification.", parents=[common])
    commands = parser.add_subparsers(dest="command", required=True)

    quick = commands.add_parser(
        "quickstart", parents=[common], help="classify example texts with the embedded default encoder"
    )
    quick.add_argument("--data", help="folder holding intents/clinc150 (default: $FEWSHOT_NLP_DATA)")
    quick.add_argument("--episodes", type=int, default=100, help="CLINC150 episodes to evaluate (default 100)")
    quick.set_defaults(run=quickstart, check=check_quickstart)

    pred = commands.add_parser("predict", parents=[common], help="classify a file of texts")
    pred.add_argument("input", help="texts: .txt (one per line), .csv or .jsonl (see --text-column)")
    pred.add_argument("--model", help="saved classifier folder or Hub id")
    pred.add_argument("--encoder", help="encoder for a new classifier (default: embedded all-MiniLM-L6-v2)")
    pred.add_argument("--examples", help="CSV of labelled examples (columns --text-column, --label-column)")
    pred.add_argument("--labels", help="YAML mapping label -> description (zero-shot labels)")
    pred.add_argument("--text-column", default="text")
    pred.add_argument("--label-column", default="label")
    pred.add_argument("--oos-threshold", type=float, help="best score under which the label is 'oos'")
    pred.add_argument("--output", "-o", default="predictions.csv", help="output .csv or .jsonl")
    pred.add_argument(
        "--self-train",
        action="store_true",
        help="first train the encoder on the input texts, labelled by the --labels (zero-shot); needs "
        "hundreds of texts, a few minutes on a CPU; --examples (of --labels' labels) help the labelling",
    )
    pred.add_argument("--save", help="also save the classifier to this folder")
    _add_backend_option(pred)
    pred.set_defaults(run=predict, check=check_predict)

    ev = commands.add_parser("evaluate", parents=[common], help="episodic accuracy with a 95%% confidence interval")
    ev.add_argument("--model", help="saved classifier or encoder (default: embedded all-MiniLM-L6-v2)")
    ev.add_argument("--tasks", required=True, help="task set name (clinc150, banking77) or a text,label CSV")
    ev.add_argument("--data", help="data folder (default: $FEWSHOT_NLP_DATA)")
    ev.add_argument("--split", default="test")
    ev.add_argument("--method", choices=["prototype", "zero-shot", "mixture"], default="prototype")
    ev.add_argument(
        "--label-text",
        choices=["names", "descriptions"],
        default="names",
        help="what zero-shot / mixture embed per label: its name, or the project's description",
    )
    ev.add_argument("--way", default="5", help="classes per episode, or 'all'")
    ev.add_argument(
        "--classes",
        choices=["test", "val", "train", "all"],
        default="test",
        help="which classes of a meta-trained model's class split to draw episodes from (default: test)",
    )
    ev.add_argument("--adapt-steps", type=int, default=0, help="test-time adaptation steps (fomaml models)")
    ev.add_argument("--shot", type=int, default=5)
    ev.add_argument("--query", type=int, default=15)
    ev.add_argument("--episodes", type=int, default=600)
    ev.add_argument("--seed", type=int, default=0)
    _add_backend_option(ev)
    ev.set_defaults(run=evaluate, check=check_evaluate)

    meta = commands.add_parser(
        "meta-train", parents=[common], help="meta-train a LoRA adapter (classification or translation)"
    )
    meta.add_argument("--config", help="YAML file of meta-training arguments (see recipes/configs/)")
    meta.add_argument("overrides", nargs="*", help="key=value settings that override the config")
    meta.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in output_dir")
    meta.set_defaults(run=meta_train, check=check_meta_train)

    tasks = commands.add_parser("tasks", parents=[common], help="inspect task sets")
    tasks_commands = tasks.add_subparsers(dest="tasks_command", required=True)
    info = tasks_commands.add_parser("info", parents=[common], help="classes, sizes and groups of a task set")
    info.add_argument("name", help="clinc150, banking77, bbc_news, chatterbot, bible, or a .csv/.json/.jsonl file")
    info.add_argument("--data", help="data folder (default: $FEWSHOT_NLP_DATA)")
    info.set_defaults(run=tasks_info, check=check_tasks_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Inputs are checked before any model loads; every error is one line on stderr, exit code 2."""
    try:
        args = build_parser().parse_args(argv)
        args.verbose = getattr(args, "verbose", False)
        _configure_output(args.verbose)
        args.check(args)
    except UsageError as error:
        print(f"fewshot-nlp: error: {error}", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except (UsageError, ValueError, TypeError, OSError) as error:
        if args.verbose:
            raise
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"fewshot-nlp: error: {first_line} (--verbose shows more)", file=sys.stderr)
        return 2
