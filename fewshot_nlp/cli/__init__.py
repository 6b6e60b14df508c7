"""The ``fewshot-nlp`` command (also ``python -m fewshot_nlp``): one module per subcommand.

Inputs are checked before any model loads (``check_*``), so a usage error costs no import of torch; every error
is one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

from .evaluate import check_evaluate, evaluate
from .inputs import Parser, UsageError, add_backend_option
from .meta_train import check_meta_train, load_config, load_training_arguments, meta_train
from .predict import check_predict, predict
from .quickstart import check_quickstart, quickstart
from .tasks import check_tasks_info, tasks_info

__all__ = ["UsageError", "build_parser", "load_config", "load_training_arguments", "main"]


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


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument(
        "--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="library logs and whole warnings"
    )
    parser = Parser(prog="fewshot-nlp", description="Few-shot text classification.", parents=[common])
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
    add_backend_option(pred)
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
    add_backend_option(ev)
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
