"""`fakescope train` and `fakescope search` from the command line, errors as one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from detect.tiny_detector import TINY

from fakescope.cli import main
from fakescope.config import ConfigError, load_config
from fakescope.detect.config import DetectJobConfig


def _args(faces: Path, cache_dir: Path, root: Path) -> list[str]:
    return [
        "--data", str(faces), "--model", TINY, "--epochs", "1", "--root", str(root), "--quiet",
        "--set", f"data.cache_dir={cache_dir}", "--set", "train.amp=off",
        "--set", "train.channels_last=off",
    ]


def test_train_prints_the_run_and_resumes(
    faces: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", *_args(faces, cache_dir, tmp_path), "--name", "cli"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"run: {tmp_path / 'cli'}" in out and "best epoch 1" in out
    assert (tmp_path / "cli" / "checkpoints" / "best.pt").is_file()
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert "after 2 epochs" in capsys.readouterr().out


def test_train_ends_calibrated_or_says_how(
    faces: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fakescope.models.registry import load_detector

    assert main(["train", *_args(faces, cache_dir, tmp_path), "--name", "cal"]) == 0
    out = capsys.readouterr().out
    assert "calibrated on val (fpr:0.05)" in out and "uncertain from" in out
    loaded = load_detector(tmp_path / "cal" / "checkpoints" / "best.pt")
    assert loaded.calibration.method == "temperature" and loaded.calibration.has_band
    low, high = loaded.calibration.band(loaded.threshold)
    assert low < loaded.threshold < high  # never a band of width zero
    assert main(["train", *_args(faces, cache_dir, tmp_path), "--name", "raw",
                 "--no-calibration"]) == 0  # fmt: skip
    assert "fakescope eval --checkpoint" in capsys.readouterr().out
    assert not load_detector(tmp_path / "raw" / "checkpoints" / "best.pt").calibration.has_band


def test_flags_win_over_the_preset_and_must_agree_with_set(
    faces: Path, cache_dir: Path, tmp_path: Path
) -> None:
    preset = tmp_path / "p.yaml"
    preset.write_text("train: {epochs: 7, lr: 0.5}\n")
    from fakescope.cli import build_parser
    from fakescope.cli.detect import _load

    argv = ["train", "--config", str(preset), "--epochs", "3", "--set", "train.epochs=3",
            "--set", "train.lr=0.25", "--data", str(faces)]
    config = _load(build_parser().parse_args(argv), lambda c: c)
    assert (config.train.epochs, config.train.lr, config.data.path) == (3, 0.25, str(faces))
    clash = ["train", "--epochs", "1", "--set", "train.epochs=-3", "--data", str(faces)]
    with pytest.raises(ConfigError, match=r"train\.epochs is given twice"):
        _load(build_parser().parse_args(clash), lambda c: c)


def test_a_bad_value_is_one_line_and_exit_code_2(
    faces: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", *_args(faces, cache_dir, tmp_path), "--set", "train.lr=-1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == "fakescope: error: train.lr must be positive, got -1.0"


def test_search_writes_the_preset_where_asked(
    faces: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "best.yaml"
    args = ["search", *_args(faces, cache_dir, tmp_path), "--trials", "2", "--study", "s",
            "--out", str(out), "--set", "search.batch_sizes=[16]"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "2 complete" in printed and f"preset: {out}" in printed
    assert load_config(DetectJobConfig, out).train.batch_size == 16


def test_train_shows_a_progress_bar_unless_quiet(
    faces: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", *_args(faces, cache_dir, tmp_path)]  # _args asks for --quiet
    assert main([*args, "--name", "quiet"]) == 0
    quiet = capsys.readouterr()
    assert "%|" not in quiet.err and "run:" in quiet.out
    assert main([a for a in args if a != "--quiet"] + ["--name", "bars"]) == 0
    shown = capsys.readouterr()
    assert "epoch 1/1" in shown.err and "%|" in shown.err and "run:" in shown.out


def test_train_eval_and_report_on_names_that_are_not_utf8(
    faces: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    import os
    import shutil

    def odd(folder: Path, name: bytes) -> Path:
        return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))

    data = odd(tmp_path, b"d\xe9ta")  # the data folder, the run and two files: Latin-1 bytes
    shutil.copytree(faces, data)
    for cls in ("real", "fake"):
        os.rename(data / cls / "face_00000.jpg", odd(data / cls, b"caf\xe9_\xff.jpg"))
    run = odd(tmp_path, b"r\xe9n")
    args = ["train", *_args(data, tmp_path / "cache", tmp_path), "--name", run.name]
    assert main(args) == 0
    assert b"best epoch 1" in capsysbinary.readouterr().out
    best = run / "checkpoints" / "best.pt"
    assert main(["eval", "--checkpoint", str(best), "--data", str(data), "--split", "all",
                 "--device", "cpu", "--quiet", "--no-provenance"]) == 0  # its figures too
    assert main(["report", str(run)]) == 0
    assert os.fsencode(run) in capsysbinary.readouterr().out
    assert (run / "report" / "index.html").stat().st_size > 0


def test_a_budget_too_short_to_calibrate_says_which_command_does_it(
    faces: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from fakescope.evaluate import calibration_plan
    from fakescope.models.registry import load_detector

    monkeypatch.setattr(calibration_plan, "MARGIN", 1e9)  # no calibration fits any budget
    args = ["train", *_args(faces, cache_dir, tmp_path), "--name", "short", "--max-minutes",
            "0.2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    best = tmp_path / "short" / "checkpoints" / "best.pt"
    assert "uncalibrated: the time budget has" in out
    assert (f"calibrate with `fakescope eval --checkpoint {best} --data {faces} "
            "--calibrate-threshold fpr:0.05`") in out
    assert load_detector(best).calibration.method == "none"
