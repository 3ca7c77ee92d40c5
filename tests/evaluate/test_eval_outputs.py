"""Output flags cannot eat an input, and file names that are not UTF-8 are written as they are.

`--json`/`--csv` take no value, `--out FILE` always does: the command lines below once wrote
their JSON over `a.jpg` / `gen.png` (issue 27).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

from fakescope.cli import main

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs byte file names")

ODD_NAME = b"caf\xe9_\xff.jpg"  # Latin-1 bytes: not UTF-8


@pytest.fixture
def pictures(faces: Path, tmp_path: Path) -> Path:
    """a.jpg, b.jpg and a face whose name is not UTF-8, in one folder."""
    folder = tmp_path / "pics"
    folder.mkdir()
    for name, source in [("a.jpg", "face_00000.jpg"), ("b.jpg", "face_00001.jpg")]:
        shutil.copy(faces / "real" / source, folder / name)
    shutil.copy(faces / "fake" / "face_00000.jpg", os.fsdecode(os.fsencode(folder) + b"/" +
                                                              ODD_NAME))
    return folder


def _predict(checkpoint: Path, *args: str) -> int:
    return main(["predict", "--checkpoint", str(checkpoint), "--device", "cpu", "--quiet",
                 "--no-provenance", *args])


def test_predict_json_before_the_paths_reads_both_and_writes_neither(
    two_logit_checkpoint: Path, pictures: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(pictures)
    shutil.copy(two_logit_checkpoint, "best.pt")
    before = Path("a.jpg").read_bytes()
    typed = "predict --checkpoint best.pt --json a.jpg b.jpg"
    assert main(typed.split(" ")) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in rows] == ["a.jpg", "b.jpg"]
    assert Path("a.jpg").read_bytes() == before


def test_provenance_json_before_the_paths_reads_both(
    pictures: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(pictures)
    Image.open("a.jpg").save("gen.png")
    shutil.copy("b.jpg", "cam.jpg")
    before = Path("gen.png").read_bytes()
    typed = "provenance --json gen.png cam.jpg"
    assert main(typed.split(" ")) == 0
    assert [r["path"] for r in json.loads(capsys.readouterr().out)] == ["gen.png", "cam.jpg"]
    assert Path("gen.png").read_bytes() == before


@pytest.mark.parametrize("command", ["predict", "provenance"])
@pytest.mark.parametrize("target", ["a.jpg", "a.json", "rows.txt", "old.json"])
def test_out_never_writes_over_an_image_or_an_input(
    command: str, target: str, two_logit_checkpoint: Path, pictures: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    (pictures / "a.json").symlink_to(pictures / "a.jpg")  # an input under another name
    Image.new("RGB", (8, 8)).save(pictures / "old.json", "PNG")  # an image named .json
    before = {p.name: p.read_bytes() for p in pictures.iterdir()}
    argv = ["--out", str(pictures / target), str(pictures / "a.jpg"), str(pictures / "b.jpg")]
    if command == "predict":
        code = _predict(two_logit_checkpoint, *argv)
    else:
        code = main(["provenance", *argv])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fakescope: error: --out {pictures / target}") and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in pictures.iterdir()} == before


def test_the_old_json_file_spelling_is_refused_with_the_new_one(
    two_logit_checkpoint: Path, pictures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = pictures / "rows.json"
    assert _predict(two_logit_checkpoint, "--json", str(rows), str(pictures / "a.jpg")) == 2
    assert f"use --out {rows}" in capsys.readouterr().err
    assert not rows.exists()


def test_non_utf8_names_round_trip_through_predict_outputs(
    two_logit_checkpoint: Path, pictures: Path, tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:  # fmt: skip
    out_csv, out_json = tmp_path / "rows.csv", tmp_path / "rows.json"
    assert _predict(two_logit_checkpoint, str(pictures), "--out", str(out_csv),
                    "--out", str(out_json)) == 0
    assert ODD_NAME in capsysbinary.readouterr().out  # the table shows the name's own bytes
    names = [os.fsencode(r["path"]) for r in json.loads(out_json.read_text())]
    table = list(csv.DictReader(io.StringIO(out_csv.read_text(errors="surrogateescape"))))
    assert [os.fsencode(r["path"]) for r in table] == names
    assert os.fsencode(pictures) + b"/" + ODD_NAME in names
    assert all(r["error"] == "" for r in table)


def test_non_utf8_names_through_provenance_csv_and_json(
    pictures: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    out_csv = tmp_path / "rows.csv"
    assert main(["provenance", str(pictures), "--out", str(out_csv), "--json"]) == 0
    names = [os.fsencode(r["path"]) for r in json.loads(capsysbinary.readouterr().out)]
    assert os.fsencode(pictures) + b"/" + ODD_NAME in names
    assert ODD_NAME in out_csv.read_bytes()


@pytest.fixture
def odd_faces(faces: Path, tmp_path: Path) -> Path:
    """The faces, one per class renamed to a name that is not UTF-8."""
    data = tmp_path / "odd"
    shutil.copytree(faces, data)
    for cls in ("real", "fake"):
        os.rename(data / cls / "face_00000.jpg", os.fsencode(data / cls) + b"/" + ODD_NAME)
    return data


@pytest.mark.parametrize("cache", [True, False])
def test_eval_writes_non_utf8_names_into_its_files(
    two_logit_checkpoint: Path, odd_faces: Path, tmp_path: Path, cache: bool,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:  # fmt: skip
    out = tmp_path / "ev"
    argv = ["eval", "--checkpoint", str(two_logit_checkpoint), "--data", str(odd_faces),
            "--split", "all", "--device", "cpu", "--quiet", "--no-provenance", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache")]
    assert main(argv if cache else [*argv, "--no-cache"]) == 0
    capsysbinary.readouterr()
    rows = list(csv.DictReader(io.StringIO(
        (out / "predictions.csv").read_text(errors="surrogateescape"))))
    names = {os.fsencode(r["path"]) for r in rows}
    assert len(rows) == 40
    assert {os.fsencode(odd_faces / cls) + b"/" + ODD_NAME for cls in ("real", "fake")} <= names
    assert json.loads((out / "evaluation.json").read_text())["metrics"]["n"] == 40
