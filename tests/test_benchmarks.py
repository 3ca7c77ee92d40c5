"""Every benchmark imports as a module of the `benchmarks` package and answers --help, both as
`python -m benchmarks.NAME` and as `python benchmarks/NAME.py`; no result file cites a script
that is gone."""

from __future__ import annotations

import contextlib
import io
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
MODULES = sorted(p.stem for p in BENCHMARKS.glob("*.py") if p.stem != "__init__")


def test_the_benchmarks_folder_holds_modules() -> None:
    assert len(MODULES) >= 10, MODULES


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", MODULES)
def test_a_benchmark_runs_as_a_module_and_answers_help(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [f"benchmarks.{name}", "--help"])
    monkeypatch.delitem(sys.modules, f"benchmarks.{name}", raising=False)  # a sibling imported it
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        runpy.run_module(f"benchmarks.{name}", run_name="__main__", alter_sys=False)
    assert done.value.code == 0
    assert "usage:" in out.getvalue()


def test_a_benchmark_that_imports_a_sibling_runs_as_a_file_from_anywhere(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(BENCHMARKS / "gan_swd.py"), "--help"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_no_result_file_cites_a_missing_script() -> None:
    # The archive keeps results of scripts since removed; each says where the code went.
    cited = {
        (path.name, script)
        for path in (BENCHMARKS / "results").glob("*.md")
        for script in re.findall(r"benchmarks/([a-z0-9_]+)\.py", path.read_text())
    }
    missing = sorted((page, script) for page, script in cited
                     if not (BENCHMARKS / f"{script}.py").is_file())
    assert cited and not missing


def test_the_index_lists_every_result() -> None:
    index = (BENCHMARKS / "README.md").read_text()
    results = BENCHMARKS / "results"
    unlisted = sorted(str(p.relative_to(results)) for p in results.rglob("*")
                      if p.is_file() and str(p.relative_to(results)) not in index)
    assert not unlisted
