"""The curated API: `import fakescope` stays cheap, and the docs page's examples run."""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_package_does_not_import_torch() -> None:
    code = "import sys, fakescope; print('torch' in sys.modules, len(fakescope.__all__))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == ["False", "6"]


def test_every_exported_name_resolves_and_unknown_ones_fail() -> None:
    import fakescope

    assert all(getattr(fakescope, name) is not None for name in fakescope.__all__)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = fakescope.no_such_name


def page_examples(page: Path) -> str:
    """The page's ```pycon blocks, one after another, as doctest source."""
    return "\n".join(re.findall(r"```pycon\n(.*?)```", page.read_text(), flags=re.DOTALL))


def test_the_python_api_page_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(os.getcwd())  # the page changes into a temporary folder; come back after
    page = ROOT / "docs" / "python-api.md"
    test = doctest.DocTestParser().get_doctest(page_examples(page), {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.tries >= 10 and runner.failures == 0
