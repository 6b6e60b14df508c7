"""docs/results.md and the README's numbers are what bench/results_page.py makes of docs/results/*.json."""

import subprocess
import sys

from conftest import ROOT


def test_results_page_and_readme_match_the_benchmark_json():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "results_page.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr + "\nrun: python bench/results_page.py"
    assert len((ROOT / "docs" / "results.md").read_text().splitlines()) <= 200


def test_the_check_fails_when_a_number_drifts(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import results_page
    finally:
        sys.path.remove(str(ROOT / "bench"))
    page = tmp_path / "results.md"
    page.write_text((ROOT / "docs" / "results.md").read_text().replace("0.947", "0.957", 1))
    monkeypatch.setattr(results_page, "PAGE", page)
    monkeypatch.setattr(results_page, "ROOT", tmp_path)
    monkeypatch.setattr(results_page, "README", ROOT / "README.md")
    assert results_page.main(["--check"]) == 1
