"""Provenance beside the detector: `predict` gets provenance columns, `eval` counts the
verdicts per class and the HTML report shows them."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from provenancefiles import camera_exif, png_with_text

from fakescope.cli import main
from fakescope.evaluate.evaluate import read_evaluation
from fakescope.inference.decision import DECISIONS
from fakescope.report.html import build_report

A1111 = b"a face\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1"


@pytest.fixture
def marked_faces(faces: Path, tmp_path: Path) -> Path:
    """A copy of the tiny face set where 3 fakes carry generator parameters in a JPEG comment
    and 2 reals carry camera EXIF."""
    root = tmp_path / "faces"
    shutil.copytree(faces, root)
    for folder, count, options in (
        ("fake", 3, {"comment": A1111}),
        ("real", 2, {"exif": camera_exif().tobytes()}),
    ):
        for path in sorted((root / folder).glob("*.jpg"))[:count]:
            with Image.open(path) as image:
                image.convert("RGB").save(path, format="JPEG", quality=90, **options)
    return root


def test_predict_adds_provenance_columns(
    one_logit_checkpoint: Path, marked_faces: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    generated = tmp_path / "generated.png"
    generated.write_bytes(png_with_text({"parameters": "Steps: 30, Sampler: DPM++ 2M"}))
    camera = sorted((marked_faces / "real").glob("*.jpg"))[0]
    args = ["predict", str(generated), str(camera), "--checkpoint", str(one_logit_checkpoint),
            "--device", "cpu", "--quiet"]  # fmt: skip
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["provenance"] for r in rows] == ["declared-generated", "camera-metadata"]
    assert rows[0]["provenance_basis"] == "unsigned metadata"
    assert rows[0]["provenance_evidence"].startswith("png-text:parameters=")
    assert all(r["label"] in ("real", "fake") for r in rows)  # the detector's own columns
    # the joint decision comes first: a declaration of generation decides whatever the pixels say
    assert list(rows[0])[:3] == ["path", "decision", "decision_text"]
    assert rows[0]["decision"] == "generated"
    assert rows[0]["decision_text"].startswith("declared generated (unsigned PNG text); the ")
    assert rows[0]["decision_text"].endswith(": treat as generated")
    # unsigned camera EXIF does not contest the pixels
    expected = {"real": "likely-real", "fake": "likely-generated", "uncertain": "uncertain"}
    assert rows[1]["decision"] == expected[rows[1]["verdict"]]
    assert rows[1]["decision_text"].startswith("camera capture claim (unsigned EXIF); ")

    assert main([*args, "--csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["provenance_c2pa"] for r in table] == ["", ""]
    assert list(table[0])[:3] == ["path", "decision", "decision_text"]
    assert [r["decision"] for r in table] == [r["decision"] for r in rows]
    assert list(table[0])[-4:] == ["provenance", "provenance_basis", "provenance_c2pa",
                                   "provenance_evidence"]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == [
        "path", "decision", "p_fake", "verdict", "provenance", "why", "/", "error"]
    assert main([*args, "--json", "--no-provenance"]) == 0
    unread = json.loads(capsys.readouterr().out)[0]
    assert "provenance" not in unread
    assert unread["decision_text"].startswith("provenance not read; ")


def test_eval_counts_provenance_per_class_and_the_report_shows_it(
    two_logit_checkpoint: Path, marked_faces: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "evaluation"
    code = main(["eval", "--checkpoint", str(two_logit_checkpoint), "--data", str(marked_faces),
                 "--split", "all", "--no-cache", "--device", "cpu", "--quiet",
                 "--explain", "1", "--out", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.index("joint decision") < printed.index("provenance (metadata claims)")
    evaluation = read_evaluation(out / "evaluation.json")
    counts = evaluation.provenance
    assert counts["fake"]["declared-generated"] == 3
    assert counts["real"]["camera-metadata"] == 2
    assert sum(counts["real"].values()) == evaluation.metrics["n_real"]
    assert sum(counts["fake"].values()) == evaluation.metrics["n_fake"]
    # the joint decision: the declared fakes are generated whatever the detector said
    decisions = evaluation.decisions
    assert decisions["fake"]["generated"] == 3 and decisions["real"]["generated"] == 0
    assert sum(decisions["real"].values()) == evaluation.metrics["n_real"]
    assert sum(decisions["fake"].values()) == evaluation.metrics["n_fake"]
    examples = json.loads((out / "gradcam" / "examples.json").read_text())
    assert [e["label"] for e in examples] == ["real", "fake"]
    assert {e["image"] for e in examples} == {p.name for p in (out / "gradcam").glob("*.png")}
    assert all(e["decision"] in DECISIONS and e["decision_text"] for e in examples)
    page = build_report(tmp_path)
    assert "Provenance verdicts per class" in page
    assert "<td>declared-generated</td><td>0</td><td>3</td>" in page
    assert "Joint decisions per class" in page
    assert "<td>generated</td><td>0</td><td>3</td>" in page
    assert page.index("Joint decisions per class") < page.index("Provenance verdicts per class")
    assert "Examples: joint decisions" in page
    assert f"<td>{examples[0]['image']}</td><td>{examples[0]['decision']}</td>" in page
