"""`fakescope eval|compare|robustness|predict|report` on tiny data."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from fakescope.cli import main
from fakescope.config import DataConfig
from fakescope.models.registry import load_detector


def _data_flags(data_config: DataConfig) -> list[str]:
    return ["--data", data_config.path, "--cache-dir", data_config.cache_dir, "--device", "cpu"]


def test_eval_writes_outputs_and_stores_the_threshold(
    two_logit_checkpoint: Path, data_config: DataConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([
        "eval", "--checkpoint", str(two_logit_checkpoint), *_data_flags(data_config),
        "--calibrate-threshold", "fpr:0.0", "--explain", "1",
    ])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "stored in the checkpoint" in out and "paper002_sensitivity" in out
    folder = two_logit_checkpoint.parent.parent / "evaluation" / "best-test"
    names = {p.name for p in folder.iterdir()}
    assert {"evaluation.json", "metrics.csv", "predictions.csv", "confusion.png", "roc.png",
            "pr.png", "reliability.png", "gradcam"} <= names  # fmt: skip
    assert len(list((folder / "gradcam").glob("*.png"))) == 2  # one per class
    stored = json.loads((folder / "evaluation.json").read_text())
    assert stored["threshold_source"] == "fpr:0 on val"
    assert load_detector(two_logit_checkpoint).threshold == pytest.approx(stored["threshold"])


def test_eval_json_output(
    one_logit_checkpoint: Path, data_config: DataConfig, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code = main([
        "eval", "--checkpoint", str(one_logit_checkpoint), *_data_flags(data_config),
        "--split", "all", "--json", "--out", str(tmp_path / "ev"),
    ])  # fmt: skip
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n"] == 40 and metrics["threshold"] == pytest.approx(0.45)


def test_eval_says_which_files_it_skipped(
    one_logit_checkpoint: Path, faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(faces, data)
    (data / "real" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    code = main(["eval", "--checkpoint", str(one_logit_checkpoint), "--data", str(data),
                 "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--split", "all",
                 "--json", "--out", str(tmp_path / "ev")])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n"] == 40  # stdout stays JSON
    assert "skipped 1 unreadable image files" in captured.err and "broken.jpg" in captured.err


def test_eval_bad_rule_is_one_line(
    one_logit_checkpoint: Path, data_config: DataConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([
        "eval", "--checkpoint", str(one_logit_checkpoint), *_data_flags(data_config),
        "--calibrate-threshold", "best",
    ])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("fakescope: error: unknown threshold rule 'best'") and err.count("\n") == 1
    )


def test_predict_reports_bad_files_and_fails(
    two_logit_checkpoint: Path, faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG broken")
    csv_path = tmp_path / "out.csv"
    args = ["predict", str(faces / "real" / "face_0000[0-2].jpg"), str(corrupt),
            "--checkpoint", str(two_logit_checkpoint), "--device", "cpu", "--quiet"]  # fmt: skip
    code = main([*args, "--json", "--out", str(csv_path), "--explain", str(tmp_path / "cams")])
    assert code == 3  # some inputs failed
    rows = json.loads(capsys.readouterr().out)
    assert [Path(r["path"]).name for r in rows] == [
        "face_00000.jpg", "face_00001.jpg", "face_00002.jpg", "corrupt.png",
    ]  # fmt: skip
    assert rows[3]["error"] and rows[3]["label"] is None
    assert all(r["label"] in ("real", "fake") for r in rows[:3])
    with csv_path.open() as handle:
        table = list(csv.DictReader(handle))
    assert [r["probability_fake"] for r in table[:3]] == [
        str(r["probability_fake"]) for r in rows[:3]
    ]
    assert len(list((tmp_path / "cams").glob("*.png"))) == 3


def test_predict_table_and_success(
    one_logit_checkpoint: Path, faces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["predict", str(faces / "fake"), "--checkpoint", str(one_logit_checkpoint),
                 "--device", "cpu", "--quiet", "--csv"])  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 20 and all(r["error"] == "" for r in rows)


def test_compare_robustness_and_report(
    checkpoint_dir: Path, data_config: DataConfig, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    compare_out = tmp_path / "cmp"
    code = main(["compare", "--models", str(checkpoint_dir), "--glob", "best.pt",
                 *_data_flags(data_config), "--out", str(compare_out)])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "run-one/best" in out and "run-two/best" in out
    assert {"comparison.json", "comparison.csv", "roc.png", "pr.png"} <= {
        p.name for p in compare_out.iterdir()
    }
    assert len(list(compare_out.glob("confusion-*.png"))) == 2

    robust_out = tmp_path / "robust"
    model = checkpoint_dir / "run-one" / "checkpoints" / "best.pt"
    code = main(["robustness", "--models", str(model),
                 "--corruptions", "noise", "downscale", *_data_flags(data_config),
                 "--out", str(robust_out)])  # fmt: skip
    assert code == 0
    assert {p.name for p in robust_out.iterdir()} == {
        "robustness.json", "robustness-noise.png", "robustness-downscale.png",
    }  # fmt: skip

    report = tmp_path / "report.html"
    assert main(["report", str(tmp_path), "--out", str(report)]) == 0
    page = report.read_text()
    assert "Model comparison" in page and "Robustness" in page


def test_compare_without_checkpoints_is_one_line(
    tmp_path: Path, data_config: DataConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["compare", "--models", str(tmp_path), *_data_flags(data_config)])
    assert code == 2
    assert "no detector checkpoints" in capsys.readouterr().err


@pytest.mark.parametrize("output", [[], ["--json"], ["--csv"]])
def test_predict_on_a_folder_without_images_says_so_and_fails(
    one_logit_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    output: list[str],
) -> None:  # fmt: skip
    (tmp_path / "somedir").mkdir()
    code = main(["predict", str(tmp_path / "somedir"), "--checkpoint", str(one_logit_checkpoint),
                 "--device", "cpu", "--quiet", *output])  # fmt: skip
    assert code == 3
    assert "no image files in this folder" in capsys.readouterr().out


def test_eval_shows_progress_bars_unless_quiet(
    one_logit_checkpoint: Path, data_config: DataConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", "--checkpoint", str(one_logit_checkpoint), *_data_flags(data_config)]
    assert main(args) == 0
    shown = capsys.readouterr()
    assert "scoring" in shown.err and "%|" in shown.err  # a tqdm bar, also where no terminal is
    assert main([*args, "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert "%|" not in quiet.err and quiet.out == shown.out  # the same summary
