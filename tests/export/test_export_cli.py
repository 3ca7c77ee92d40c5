"""`fakescope export` and `fakescope predict --backend` end to end on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakescope.cli import main
from fakescope.inference.runtime import read_metadata


def test_export_then_predict_picks_the_export_up(
    disc_checkpoint: Path, faces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--checkpoint", str(disc_checkpoint)]) == 0
    out = capsys.readouterr().out
    onnx_path = disc_checkpoint.with_suffix(".onnx")
    assert f"wrote {onnx_path}" in out and "max |P(fake) diff|" in out
    assert read_metadata(onnx_path).detector == "dcgan_disc64"
    pictures = [str(p) for p in sorted((faces / "fake").glob("*.jpg"))[:3]]
    args = ["predict", *pictures, "--checkpoint", str(disc_checkpoint), "--device", "cpu"]
    args.append("--quiet")
    assert main(args) == 0
    assert f"3 of 3 images predicted with {onnx_path}" in capsys.readouterr().out
    assert main([*args, "--backend", "torch"]) == 0
    assert "3 of 3 images predicted with PyTorch" in capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in rows] == pictures and all(r["error"] is None for r in rows)


def test_export_int8_reports_its_accuracy_cost(
    disc_checkpoint: Path, faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model" / "disc.onnx"
    code = main([
        "export", "--checkpoint", str(disc_checkpoint), "--onnx", "--int8", "--out", str(out),
        "--data", str(faces), "--no-cache", "--calibration-images", "8", "--json",
    ])  # fmt: skip
    assert code == 0
    results = json.loads(capsys.readouterr().out)
    assert results["onnx"]["path"] == str(out) and out.is_file()
    int8 = results["int8"]
    assert int8["path"] == str(tmp_path / "model" / "disc.int8.onnx") and int8["method"] == "static"
    assert int8["calibration_images"] == 8  # taken from the train split of --data
    cost = int8["cost"]
    assert cost["split"] == "test" and cost["n"] == 4 and cost["threshold"] == 0.45
    assert 0 <= cost["accuracy_int8"] <= 1 and 0 <= cost["max_probability_diff"] < 0.1
    assert read_metadata(int8["path"]).precision == "int8-static"


def test_export_int8_with_a_calibration_folder_prints_a_summary(
    disc_checkpoint: Path, faces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([
        "export", "--checkpoint", str(disc_checkpoint), "--int8",
        "--calibration-data", str(faces / "real"), "--calibration-images", "4",
    ])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "static int8, calibrated on 4 pictures" in out and "int8 cost" not in out
    assert disc_checkpoint.with_suffix(".int8.onnx").is_file()


def test_user_errors_are_one_line(
    disc_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--checkpoint", str(disc_checkpoint), "--int8"]) == 2
    err = capsys.readouterr().err
    assert "static int8 needs calibration pictures" in err and err.count("\n") == 1
    assert main(["export", "--checkpoint", str(tmp_path / "missing.pt")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["export", "--checkpoint", str(disc_checkpoint), "--data", "x"]) == 2
    assert "are for --int8" in capsys.readouterr().err
    args = ["predict", "x.jpg", "--checkpoint", str(disc_checkpoint), "--backend", "onnx"]
    assert main(args) == 2
    assert "no ONNX export found" in capsys.readouterr().err
    assert not list(disc_checkpoint.parent.glob("*.onnx"))
