"""`fakescope provenance FILE|FOLDER...`: table, --json, --csv, trust anchors, exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from provenancefiles import encode, jpeg_with_exif, png_with_text, sign, signing_pki, tamper

from fakescope.cli import main


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("c2pa")
    root = tmp_path_factory.mktemp("provenance")
    signed = sign(encode("JPEG"), "JPEG")
    files = {
        "a_signed.jpg": signed,
        "b_tampered.jpg": tamper(signed, "JPEG"),
        "c_a1111.png": png_with_text({"parameters": "Steps: 20, Sampler: Euler a, Seed: 1"}),
        "d_camera.jpg": jpeg_with_exif(),
        "e_plain.png": encode("PNG"),
    }
    for name, data in files.items():
        (root / "pics" / name).parent.mkdir(exist_ok=True)
        (root / "pics" / name).write_bytes(data)
    (root / "notes.txt").write_text("not an image")
    return root


def test_table_for_a_folder(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["provenance", str(folder / "pics")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["path", "provenance", "c2pa", "evidence"]
    verdicts = [line.split()[1:3] for line in lines[1:6]]
    assert verdicts == [["declared-generated", "valid-untrusted"],
                        ["declared-generated", "invalid"], ["declared-generated", "-"],
                        ["camera-metadata", "-"], ["no-provenance", "-"]]
    assert "Metadata is a claim, not proof" in out


def test_json_lists_every_piece_of_evidence(folder: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    assert main(["provenance", str(folder / "pics" / "a_signed.jpg"), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["verdict"] == "declared-generated"
    assert row["c2pa"]["state"] == "valid-untrusted"
    assert row["c2pa"]["signer"] == "fakescope test signer (fakescope tests)"
    assert {"source": "c2pa", "field": "digitalSourceType", "value": "trainedAlgorithmicMedia",
            "signal": "generated", "basis": "valid-untrusted"} in row["evidence"]


def test_csv_and_trust_anchors(folder: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    anchors = tmp_path / "ca.pem"
    anchors.write_text(signing_pki().ca_pem)
    out = tmp_path / "rows.csv"
    argv = ["provenance", str(folder / "pics" / "*.jpg"), "--out", str(out),
            "--trust-anchors", str(anchors)]
    assert main(argv) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["provenance_c2pa"] for r in rows] == ["trusted", "invalid", ""]
    assert rows[0]["provenance_basis"] == "C2PA manifest, signer trusted"
    assert "claim, not proof" in rows[0]["summary"]
    capsys.readouterr()


def test_missing_file_and_bad_anchors(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["provenance", str(folder / "missing.png")]) == 3  # some inputs failed
    assert "file not found" in capsys.readouterr().out
    assert main(["provenance", str(folder / "pics"), "--trust-anchors",
                 str(folder / "notes.txt")]) == 2
    assert "no PEM certificate" in capsys.readouterr().err
