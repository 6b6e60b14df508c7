"""How long a newcomer's first steps take: the README's two set-up commands, timed in a fresh venv.

    python bench/newcomer.py                # fresh venv under runs/newcomer-venv, then every step
    python bench/newcomer.py --venv DIR     # another place for the venv

Steps, in the README's order, from the repository root (so the quickstart finds ../shared/data
when it is there): install (``pip install torch==2.13.0 -e .``), ``fewshot-nlp quickstart``,
the test extra (``pip install -e ".[test]"``), ``pytest -m "not slow"`` and ``pytest``. Run it on
a quiet machine: every step is wall time. pip installs from its local cache or the wheels on disk
where it can, as a newcomer's second install would. Writes docs/results/newcomer.json, which
bench/results_page.py turns into the README's times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness import RESULTS, ROOT, today  # bench/harness.py


def timed(command: list[str], env: dict, log) -> float:
    """Wall seconds of one step; a failing step stops the benchmark (its output is in the log)."""
    print(f"$ {' '.join(command)}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {result.returncode}); see {log.name}")
    print(f"  {seconds:.0f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, default=ROOT / "runs" / "newcomer-venv")
    args = parser.parse_args()
    if args.venv.exists():
        shutil.rmtree(args.venv)
    subprocess.run([sys.executable, "-m", "venv", str(args.venv)], check=True)
    bin_dir = args.venv / "bin"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(args.venv)}
    env.pop("PYTHONPATH", None)
    load = os.getloadavg()[0]
    log_path = ROOT / "runs" / "newcomer.log"
    with log_path.open("w") as log:
        pip = [str(bin_dir / "pip"), "install", "--quiet"]
        install = timed([*pip, "torch==2.13.0", "-e", "."], env, log)
        quickstart = timed([str(bin_dir / "fewshot-nlp"), "quickstart"], env, log)
        test_extra = timed([*pip, "torch==2.13.0", "-e", ".[test]"], env, log)
        fast = timed([str(bin_dir / "pytest"), "-q", "-m", "not slow", "-p", "no:cacheprovider"], env, log)
        everything = timed([str(bin_dir / "pytest"), "-q", "-p", "no:cacheprovider"], env, log)
    result = {
        "command": "python bench/newcomer.py",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU",
        "cores": os.cpu_count(),
        "date": today(),
        "load_average_at_start": round(load, 2),
        "install_minutes": round(install / 60, 2),
        "quickstart_minutes": round(quickstart / 60, 2),
        "test_extra_minutes": round(test_extra / 60, 2),
        "fast_tests_seconds": round(fast),
        "all_tests_minutes": round(everything / 60, 2),
    }
    out = RESULTS / "newcomer.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    print(f"wrote {out.relative_to(ROOT)}; run python bench/results_page.py to carry the times into the README")


if __name__ == "__main__":
    main()
