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


def _subcommand_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _subcommand_parsers(sub)
    return found


def test_every_numeric_flag_is_range_checked_where_it_is_parsed() -> None:
    from fakescope.cli import build_parser

    unchecked = [
        f"{parser.prog} {'/'.join(action.option_strings)}"
        for parser in _subcommand_parsers(build_parser())
        for action in parser._actions
        if action.type in (int, float) and not action.choices
    ]
    assert unchecked == []


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["serve", "--limit-concurrency", "0"], "--limit-concurrency"),  # F10
        (["serve", "--keep-alive-s", "-3"], "--keep-alive-s"),  # F12
        (["predict", "--checkpoint", "x.pt", "--device", "tpu", "a.jpg"], "--device"),  # F11
        (["gan", "generate", "--checkpoint", "g", "--n", "1", "--out", "o", "--batch-size", "0"],
         "--batch-size"),  # F13
        (["gan", "generate", "--checkpoint", "g", "--n", "1", "--out", "o", "--quality", "500"],
         "--quality"),  # F14
        (["gan", "generate", "--checkpoint", "g", "--n", "1", "--out", "o", "--prefix",
          "../../x"], "--prefix"),  # F15
        (["eval", "--checkpoint", "c.pt", "--data", "d", "--explain", "-2"], "--explain"),  # F16
        (["data", "inspect", "--workers", "-1", "d"], "--workers"),  # F16
        (["export", "--checkpoint", "c.pt", "--opset", "3"], "--opset"),  # F17
        (["train", "--data", "d", "--max-minutes", "nan"], "--max-minutes"),
        (["gan", "train", "--resolution", "48"], "--resolution"),
    ],
)
def test_a_value_out_of_range_is_a_usage_error(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"error: argument {flag}" in last and "Traceback" not in last


def test_eval_flags_that_need_calibrate_threshold_refuse_without_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", "--checkpoint", str(tmp_path / "c.pt"), "--data", str(tmp_path), "--no-store"]
    assert main(argv) == 2
    assert capsys.readouterr().err == ("fakescope: error: --no-store: only with "
                                       "--calibrate-threshold (without it nothing is fitted or "
                                       "stored)\n")


@pytest.mark.parametrize("command", [["train"], ["gan", "train"]])
def test_resume_of_a_run_that_never_existed_is_an_error(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*command, "--resume", "--data", str(tmp_path / "data"), "--root", str(tmp_path),
            "--name", "never"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fakescope: error: --resume: run folder {tmp_path / 'never'} does "
                          "not exist") and err.count("\n") == 1
    assert not (tmp_path / "never").exists()


def test_a_trainer_stopped_by_sigterm_exits_143_and_by_sigint_130(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from types import SimpleNamespace

    from fakescope.detect.train import TrainingInterrupted

    def stopped_detector(config: object, resume: bool, progress: bool) -> None:
        raise TrainingInterrupted("stopped by SIGTERM", stopped_detector.signal)  # type: ignore

    def stopped_gan(config: object, resume: bool, progress: bool) -> SimpleNamespace:
        return SimpleNamespace(interrupted=stopped_gan.signal, step=3,  # type: ignore
                               checkpoint=tmp_path / "ckpt-3.pt")

    monkeypatch.setattr("fakescope.detect.train.train_detector", stopped_detector)
    monkeypatch.setattr("fakescope.gan.train.train_gan", stopped_gan)
    for signal, code in (("SIGTERM", 143), ("SIGINT", 130)):
        stopped_detector.signal = stopped_gan.signal = signal  # type: ignore[attr-defined]
        assert main(["train", "--data", str(tmp_path), "--root", str(tmp_path)]) == code
        assert main(["gan", "train", "--data", str(tmp_path), "--root", str(tmp_path)]) == code
    capsys.readouterr()


def test_an_error_message_carries_no_terminal_codes() -> None:
    from fakescope.cli.errors import format_error

    err = FakescopeError("load failed, \x1b[1mdo this only if you trust it\x1b[0m.\n\tdetail")
    assert format_error(err) == "load failed, do this only if you trust it. detail"


def test_an_unknown_device_is_a_one_line_error_in_the_library() -> None:
    from fakescope.reproducibility import resolve_device

    with pytest.raises(FakescopeError, match="'tpu' is not a device: use auto, cpu, cuda"):
        resolve_device("tpu")


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["gan", "sample", "--checkpoint", "{ckpt}", "--out", "{ckpt}"], "inputs"),
        (["gan", "export-detector", "--checkpoint", "{ckpt}", "--out", "{png}"], "image"),
        (["export", "--checkpoint", "{ckpt}", "--out", "{png}"], "image"),
        (["report", "{dir}", "--out", "{png}"], "image"),
        (["search", "--data", "{dir}", "--out", "{png}"], "image"),
        (["report", "{dir}", "--out", "{dir}"], "folder"),
    ],
)
def test_no_command_writes_over_an_input_or_an_image(
    argv: list[str], why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    paths = {"ckpt": tmp_path / "g.pt", "png": tmp_path / "photo.png", "dir": tmp_path}
    paths["ckpt"].write_bytes(b"weights")
    Image.new("RGB", (4, 4)).save(paths["png"])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert main([word.format(**paths) for word in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fakescope: error: --out ") and why in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "--checkpoint", "c.pt", "--data", "d", "--out", "{png}"],
        ["compare", "--models", "m", "--data", "d", "--out", "{png}"],
        ["robustness", "--models", "m", "--data", "d", "--out", "{png}"],
        ["predict", "--checkpoint", "c.pt", "--explain", "{png}", "a.jpg"],
        ["data", "synth", "--out", "{png}"],
        ["gan", "generate", "--checkpoint", "g", "--n", "1", "--out", "{png}"],
        ["gan", "eval-disc", "--checkpoint", "g", "--out", "{png}"],
        ["data", "multigen", "--reals", "r", "--out", "{png}"],
        ["xgen", "--set-dir", "s", "--detectors", "npr_cnn", "--out", "{png}"],
        ["bench", "--out", "{png}"],
        ["demo", "--out", "{png}"],
    ],
)
def test_a_folder_output_is_never_an_existing_file(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(SystemExit) as refused:
        main([word.format(png=png) for word in argv])
    assert refused.value.code == 2
    assert f"{png} is an existing file, not a folder" in capsys.readouterr().err
    assert png.read_bytes() == b"\x89PNG\r\n\x1a\n"
