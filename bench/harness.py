"""What the benchmark scripts share: where things are, the --data option, the record of a run, the logs it writes.

A script run as ``python bench/NAME.py`` has bench/ first on its path, so it imports this as ``harness``.
Confidence intervals come from the package (``fewshot_nlp.evaluation.mean_confidence_interval``), as everywhere.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RESULTS = DOCS / "results"
#: how a full fine-tune ships: the rank-32 fit of its weight change on every linear layer (the largest rank under 3 MB
#: in float16; recipes/ship_default_adapter.py), so benchmarks score a trained default as it would ship
SHIPPED_LORA = {"r": 32, "lora_alpha": 64, "target_modules": "all-linear"}


def add_data_option(parser) -> None:
    parser.add_argument(
        "--data",
        default=os.environ.get("FEWSHOT_NLP_DATA", "../shared/data"),
        help="the data folder, the one that holds intents/ (default: $FEWSHOT_NLP_DATA or ../shared/data)",
    )


def command() -> str:
    """How this script was invoked, as the results record it."""
    return f"python bench/{Path(sys.argv[0]).name} {shlex.join(sys.argv[1:])}".rstrip()


def machine() -> str:
    import torch

    accelerator = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, {accelerator}"


def today() -> str:
    return datetime.date.today().isoformat()


def record(command_line: str | None = None) -> dict:
    """The command, machine and date that every result carries."""
    return {"command": command_line or command(), "machine": machine(), "date": today()}


def write_result(name: str, data: dict, indent: int = 2) -> Path:
    """docs/results/NAME.json, which bench/results_page.py and the experiment logs read."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=indent, default=str))
    return path


def interval(values, digits: int = 4) -> list[float]:
    """[mean, half-width of the 95% Student-t interval], rounded: how results record a score or a paired difference."""
    from fewshot_nlp.evaluation import mean_confidence_interval

    return [round(x, digits) for x in mean_confidence_interval(list(values))]


def header(meta: dict) -> list[str]:
    """The lines that open a generated section of an experiment log."""
    return [f"Command: `{meta['command']}`  ", f"Machine: {meta['machine']}  ", f"Date: {meta['date']}", ""]


def experiment_log(docs: Path, marker: str) -> Path:
    """The dated log under ``docs/experiments/`` that holds a section's markers; a section seen for the first time
    starts a new log named by today's date."""
    start = f"<!-- {marker}:start -->"
    for path in sorted((docs / "experiments").glob("*.md")):
        if start in path.read_text():
            return path
    return docs / "experiments" / f"{today()}-{marker.replace('_', '-')}.md"


def write_section(docs: Path, marker: str, body: str) -> Path:
    """Replace the generated block between a section's markers in its experiment log."""
    path = experiment_log(docs, marker)
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    text = path.read_text() if path.exists() else f"# {marker}\n"
    block = f"{start}\n{body}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
