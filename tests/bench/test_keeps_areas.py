"""A long bench keeps what it finished: each area's rows are on disk as soon as it ends, a
failing area is reported on its own line while the others go on, and an area whose optional
packages are missing says which, before any measuring (the probe lost 6 minutes of rows to a
`ModuleNotFoundError: httpx` in the last area)."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from fakescope.bench.context import BenchContext
from fakescope.bench.runner import INSTALL_HINTS, REQUIRES
from fakescope.bench.suites import detect, gan
from fakescope.bench.table import Row
from fakescope.cli import main


def fake_rows(area: str) -> Iterator[Row]:
    yield Row(area, f"{area}/fake", f"{area} stand-in", "img/s", 10.0, 20.0, 2.0)


@pytest.fixture
def quick_suites(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    """gan and detect measure a stand-in row at once instead of training."""
    for suite in (gan, detect):
        name = suite.__name__.rsplit(".", 1)[1]
        monkeypatch.setattr(suite, "measure", lambda ctx, name=name: fake_rows(name))
    return {"gan": gan, "detect": detect}


def bench(out: Path, faces_root: Path, only: str) -> int:
    return main(["bench", "--quick", "--only", only, "--device", "cpu", "--out", str(out),
                 "--data", str(faces_root)])


def test_a_failing_area_keeps_the_others(
    quick_suites: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch, faces_root: Path,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(ctx: BenchContext) -> Iterator[Row]:
        yield from fake_rows("gan")
        raise RuntimeError("the GPU fell off\nsecond line")

    monkeypatch.setattr(gan, "measure", broken)
    assert bench(tmp_path, faces_root, "gan,detect") == 1
    report = json.loads((tmp_path / "bench.json").read_text())
    assert [row["key"] for row in report["rows"]] == ["gan/fake", "detect/fake"]
    assert report["failed"] == {"gan": "failed: RuntimeError: the GPU fell off"}
    assert "- **gan**: failed: RuntimeError: the GPU fell off" in (
        tmp_path / "bench.md").read_text()
    assert "gan: failed: RuntimeError: the GPU fell off\n" in capsys.readouterr().err


def test_finished_areas_are_on_disk_when_a_later_one_is_killed(
    quick_suites: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch, faces_root: Path,
    tmp_path: Path,
) -> None:
    def killed(ctx: BenchContext) -> Iterator[Row]:
        raise KeyboardInterrupt  # Ctrl-C: not a failure to record, but the rows so far stay
        yield  # a generator, as measure is

    monkeypatch.setattr(detect, "measure", killed)
    assert bench(tmp_path, faces_root, "gan,detect") == 130  # the CLI's Ctrl-C exit
    report = json.loads((tmp_path / "bench.json").read_text())
    assert [row["key"] for row in report["rows"]] == ["gan/fake"]


def test_a_missing_optional_package_is_named_before_measuring(
    quick_suites: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch, faces_root: Path,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    real_find_spec = importlib.util.find_spec

    def without_httpx(name: str, *args: object) -> object:
        return None if name == "httpx" else real_find_spec(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", without_httpx)
    assert bench(tmp_path, faces_root, "gan,serve") == 1
    err = capsys.readouterr().err
    line = "serve: not run: needs httpx (pip install 'fakescope[serve]')"
    assert line in err and err.index(line) < err.index("gan stand-in")
    report = json.loads((tmp_path / "bench.json").read_text())
    assert [row["key"] for row in report["rows"]] == ["gan/fake"]
    assert report["failed"]["serve"] == line.removeprefix("serve: ")


def test_the_serve_extra_installs_what_the_serve_area_needs() -> None:
    """The README's install (setup.sh without --dev: the serve extra) runs every area; the
    probe's run crashed on httpx, then a dev-only dependency."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    import tomllib  # Python 3.11+

    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    serve = {re.split(r"[<>=!~ ]", requirement)[0] for requirement in extras["serve"]}
    package = {"multipart": "python-multipart"}
    for module in REQUIRES["serve"]:
        assert INSTALL_HINTS[module] == "fakescope[serve]"
        assert package.get(module, module) in serve, module
