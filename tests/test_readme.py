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
