"""The README's Python blocks run as written, and every ``print(...)  # value`` shows that value."""

import re

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow  # the tour uses the real embedded MiniLM

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
CHECKED_PRINT = re.compile(r"^([ \t]*)print\((.*)\)[ \t]+#[ \t]+(.+?)[ \t]*$", re.M)  # the comment is a Python literal


def test_readme_has_python_blocks():
    assert BLOCKS
    assert any(CHECKED_PRINT.search(block) for block in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS)
def test_readme_block_runs_and_prints_what_it_says(block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the tour saves to out/
    checked = CHECKED_PRINT.sub(r"\1assert (\2) == \3, (\2)", block)
    exec(compile(checked, "README.md", "exec"), {})


PREDICT_LINES = re.findall(r"^fewshot-nlp predict .*$", (ROOT / "README.md").read_text(), re.M)


def test_readme_cli_examples_run_as_written(tmp_path, monkeypatch):
    """The README's predict commands, in order, from a fresh clone's root (data/ ships the files)."""
    import csv
    import json
    import shlex

    from fewshot_nlp.cli import main

    assert len(PREDICT_LINES) >= 2
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").symlink_to(ROOT / "data")
    for line in PREDICT_LINES:
        assert main(shlex.split(line)[1:]) == 0, line
    texts = [t for t in (ROOT / "data" / "quickstart_texts.txt").read_text().splitlines() if t.strip()]
    first = list(csv.DictReader((tmp_path / "predictions.csv").open()))
    second = [json.loads(row) for row in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert [r["text"] for r in first] == [r["text"] for r in second] == texts
    examples = {row["label"] for row in csv.DictReader((ROOT / "data" / "quickstart_examples.csv").open())}
    described = {"refund", "delivery_time"}  # data/quickstart_labels.yaml
    assert {r["nearest_label"] for r in first + second} <= examples | described
    assert [r["label"] for r in first] == [r["nearest_label"] for r in first]  # no threshold: nothing rejected
    assert all((r["label"] == "oos") == r["out_of_scope"] for r in second)
