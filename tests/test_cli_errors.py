"""The command line shows a user's mistake as one line (exit 2) and a bug with its traceback."""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import fakescope
from fakescope.cli import main
from fakescope.errors import FakescopeError


def _project_exceptions() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(fakescope.__path__, "fakescope."):
        if info.name == "fakescope.__main__":  # runs the command line when imported
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                found.append(obj)
    return found


def test_every_exception_fakescope_defines_shares_the_one_base() -> None:
    exceptions = _project_exceptions()
    assert len(exceptions) >= 9  # ConfigError, BadImageError, CheckpointError, ... and the base
    assert [e.__name__ for e in exceptions if not issubclass(e, FakescopeError)] == []


def test_a_user_error_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--config", "no_such_preset", "--data", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fakescope: error: config preset 'no_such_preset' not found")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_missing_user_path_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "inspect", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fakescope: error:") and "absent" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("bug", [ValueError("bad"), KeyError("k"), RuntimeError("r")])
def test_a_bug_keeps_its_traceback_and_asks_for_a_report(
    bug: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: argparse.Namespace) -> int:
        raise bug

    monkeypatch.setattr("fakescope.cli.data._inspect", broken)
    assert main(["data", "inspect", "."]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and f"{type(bug).__name__}" in err
    assert "in broken" in err  # the frame where it was raised
    assert err.strip().splitlines()[-1].startswith("fakescope: this is a bug in fakescope")
