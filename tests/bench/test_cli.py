"""`fakescope bench --quick` through the command line, one area at a time, on tiny data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from fakescope.bench.machine import bf16_statement, native_bf16
from fakescope.cli import main

QUICK_KEYS = {
    "data": ["data/first-epoch/32", "data/later-epochs/32"],
    # held to fp32 and the default settings; without native bf16 the default is fp32: one row
    "gan": ["gan/cpu/32/fp32", "gan/cpu/32"] if native_bf16() else ["gan/cpu/32"],
    "detect": ["detect/cpu/dcgan_disc64/64"],
    "inference": [
        "inference/latency/dcgan_disc64/64", "inference/latency-1-thread/dcgan_disc64/64",
        "inference/throughput/dcgan_disc64/64", "inference/throughput-1-thread/dcgan_disc64/64",
    ],
    "serve": ["serve/dcgan_disc64", "serve/1-thread/dcgan_disc64"],
}  # fmt: skip


def run_quick(area: str, out: Path, *extra: str) -> dict:
    code = main(["bench", "--quick", "--only", area, "--device", "cpu", "--out", str(out),
                 *extra])
    assert code == 0
    return json.loads((out / "bench.json").read_text())


def check_report(report: dict, out: Path, area: str) -> None:
    rows = report["rows"]
    assert [row["key"] for row in rows] == QUICK_KEYS[area]
    for row in rows:
        assert row["area"] == area
        for name in ("baseline", "fakescope", "ratio"):
            assert math.isfinite(row[name]) and row[name] > 0, (row["key"], name)
        units_ratio = (row["baseline"] / row["fakescope"] if row["unit"] == "ms"
                       else row["fakescope"] / row["baseline"])
        assert row["ratio"] == pytest.approx(units_ratio)
        rounds = 1 if "first-epoch" in row["key"] else report["rounds"]  # one cache build
        assert len(row["details"]["rounds"]["baseline"]) == rounds and report["rounds"] == 2
    markdown = (out / "bench.md").read_text()
    assert "| area | what | baseline | fakescope | unit | ratio |" in markdown
    assert all(f"| {area} | {row['what']} |" in markdown for row in rows)
    assert report["machine"]["logical_cores"] >= 1 and report["command"].startswith(
        "fakescope bench --out")
    assert len(report["load_before"]) == 3 and area in report["areas"]
    assert report["machine"]["native_bf16"] == native_bf16()
    assert f"**bf16:** {bf16_statement(native_bf16())}" in markdown


@pytest.mark.parametrize("area", ["gan", "detect", "inference"])
def test_quick_area_writes_its_rows(area: str, faces_root: Path, tmp_path: Path) -> None:
    report = run_quick(area, tmp_path, "--data", str(faces_root))
    check_report(report, tmp_path, area)


def test_quick_data_area_draws_its_own_faces(tmp_path: Path) -> None:
    report = run_quick("data", tmp_path / "out", "--images", "16")
    check_report(report, tmp_path / "out", "data")
    assert report["data"].startswith("16 synthetic 64x64 JPEG faces (8 real, 8 fake)")


def test_detect_rows_name_the_settings_fakescope_chose(faces_root: Path, tmp_path: Path) -> None:
    (row,) = run_quick("detect", tmp_path, "--data", str(faces_root), "--rounds", "1")["rows"]
    assert row["goal"] == 2.0 and row["met"] == (row["ratio"] >= 2.0)
    assert "threads=" in row["details"]["fakescope_settings"] and row["details"]["probe_s"] > 0


@pytest.mark.slow
def test_quick_serve_area_against_live_servers(faces_root: Path, tmp_path: Path) -> None:
    report = run_quick("serve", tmp_path, "--data", str(faces_root))
    check_report(report, tmp_path, "serve")
    assert report["rows"][0]["details"]["fakescope_backend"] == "onnx"


@pytest.mark.parametrize(("argv", "message"), [
    (["--only", "nosuch"], "--only: unknown area 'nosuch' (choose from data, gan, detect, "
                           "inference, serve)"),
    (["--only", ","], "--only: unknown area ','"),
    (["--data", "/no/such/faces"], "--data /no/such/faces: no such folder"),
    (["--data", ".", "--images", "10"], "--images draws synthetic faces; it cannot be combined"),
    (["--set", "rounds=0"], "--rounds must be at least 1, got 0"),  # --rounds 0: argparse's
])  # fmt: skip
def test_bad_flags_give_a_one_line_error(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--quick", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"fakescope: error: {message}") and "\n" not in err
    assert not (tmp_path / "bench.json").exists()


def test_a_folder_without_real_and_fake_is_refused(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "faces" / "cats").mkdir(parents=True)
    assert main(["bench", "--quick", "--data", str(tmp_path / "faces"), "--out",
                 str(tmp_path / "out")]) == 2
    assert "expected exactly the subfolders real/ and fake/" in capsys.readouterr().err
