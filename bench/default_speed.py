"""Prediction throughput of the default classifier (adapter merged) against the plain MiniLM's raw encode.

    python bench/default_speed.py --data ../shared/data

The default adapter is folded into MiniLM's weights when it loads, so a prediction should cost
what encoding with the plain model costs (the target: at least 0.95 of it). Uses
``bench/classifier.py``'s measurement (150 labels, 2,000 CLINC150 test texts, the two runs
alternated ``--repeats`` times so that other load hits both alike) with the plain MiniLM as the
yardstick. Writes docs/results/default_speed.json and the ``default_speed`` section of
docs/experiments/2026-12-01-transfer.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
from pathlib import Path

from classifier import throughput, write_section  # bench/classifier.py

from fewshot_nlp import DEFAULT_ENCODER, SentenceEncoder, __version__
from fewshot_nlp.encoders import DEFAULT_MODEL
from fewshot_nlp.tasks import load_task_set

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("FEWSHOT_NLP_DATA", "../shared/data"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    default = SentenceEncoder()
    if default.name_or_path != DEFAULT_MODEL:
        raise SystemExit("this installation ships no default adapter: there is nothing to measure.")
    texts = load_task_set("clinc150:test", args.data).texts_and_labels()[0][:2000]
    speed = throughput(default, texts, args.repeats, reference=SentenceEncoder(DEFAULT_ENCODER).model)
    report = {
        "command": "python bench/default_speed.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "date": datetime.date.today().isoformat(),
        "version": __version__,
        **speed,
    }
    (ROOT / "docs" / "results" / "default_speed.json").write_text(json.dumps(report, indent=2))
    body = [
        f"Command: `{report['command']}`  ",
        f"Machine: {report['machine']}  ",
        f"Date: {report['date']}",
        "",
        f"{speed['texts']} CLINC150 test texts, batch {speed['batch_size']}, median of {speed['repeats']}: raw "
        f"`encode` of the plain MiniLM {speed['raw_encode_texts_per_s']} texts/s, `predict` of the default "
        f"classifier (adapter merged, 150 labels) {speed['predict_texts_per_s']} texts/s: **{speed['ratio']:.3f}x**.",
    ]
    write_section(ROOT / "docs", "default_speed", "\n".join(body))
    print(json.dumps(speed))


if __name__ == "__main__":
    main()
