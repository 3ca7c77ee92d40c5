"""Finding checkpoints in a folder and comparing them on the same images."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from fakescope.checkpoints import save_checkpoint
from fakescope.config import DataConfig
from fakescope.evaluate.compare import (
    TABLE_COLUMNS,
    compare_checkpoints,
    find_checkpoints,
    read_comparison,
    write_comparison,
)
from fakescope.evaluate.options import EvalOptions


def test_find_checkpoints_skips_what_is_not_a_detector(
    checkpoint_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "models"
    for run in ("run-one", "run-two"):
        target = folder / run / "best.pt"
        target.parent.mkdir(parents=True)
        target.write_bytes((checkpoint_dir / run / "checkpoints" / "best.pt").read_bytes())
    save_checkpoint(folder / "gan" / "last.pt", {"kind": "gan"})
    (folder / "run-one" / "ckpt-00000010.pt").write_bytes(b"resume state")
    (folder / "broken.pt").write_bytes(b"not a checkpoint")
    found, skipped = find_checkpoints(folder)
    assert found == [folder / "run-one" / "best.pt", folder / "run-two" / "best.pt"]
    reasons = {Path(s["path"]).name: s["reason"] for s in skipped}
    assert "cannot read" in reasons["broken.pt"]
    assert "'gan' checkpoint" in reasons["last.pt"]
    assert "resume" in reasons["ckpt-00000010.pt"]
    assert find_checkpoints(folder, "best.pt") == (found, [])
    with pytest.raises(NotADirectoryError):
        find_checkpoints(folder / "nothing")


def test_find_checkpoints_takes_each_runs_best_else_its_last(
    checkpoint_dir: Path, tmp_path: Path
) -> None:
    detector = (checkpoint_dir / "run-one" / "checkpoints" / "best.pt").read_bytes()
    both, stopped = tmp_path / "both" / "checkpoints", tmp_path / "stopped" / "checkpoints"
    for path in (both / "best.pt", both / "last.pt", stopped / "last.pt"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(detector)
    found, skipped = find_checkpoints(tmp_path)
    assert found == [both / "best.pt", stopped / "last.pt"]
    assert skipped == [{"path": str(stopped / "best.pt"),
                        "reason": "not written by this run; its last.pt is scored instead"}]
    every, _ = find_checkpoints(tmp_path, "*.pt")
    assert every == [both / "best.pt", both / "last.pt", stopped / "last.pt"]


def test_compare_two_models_on_the_same_images(
    one_logit_checkpoint: Path, two_logit_checkpoint: Path, data_config: DataConfig, tmp_path: Path
) -> None:
    comparison = compare_checkpoints(
        [one_logit_checkpoint, two_logit_checkpoint], data_config,
        EvalOptions(device="cpu", batch_size=8),
    )
    first, second = comparison.evaluations
    assert (first.model, second.model) == ("run-one/best", "run/best")
    # Different input specs (64 px [-1, 1] and 32 px ImageNet), the same test images.
    assert first.metrics["n"] == second.metrics["n"] == 4
    assert first.data["counts"] == second.data["counts"]
    table = comparison.table()
    assert [row["model"] for row in table] == ["run-one/best", "run/best"]
    assert set(table[0]) == {"model", "calibrated", *TABLE_COLUMNS}
    assert table[0]["threshold"] == pytest.approx(0.45)
    assert [row["calibrated"] for row in table] == [False, False]
    json_path, csv_path = write_comparison(comparison, tmp_path)
    assert read_comparison(json_path) == comparison
    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["model"] for r in rows] == ["run-one/best", "run/best"]
    assert np.isclose(float(rows[1]["accuracy"]), second.metrics["accuracy"])


def test_same_named_checkpoints_get_their_paths_as_names(
    one_logit_checkpoint: Path, data_config: DataConfig, tmp_path: Path
) -> None:
    copy = tmp_path / "run-one" / "checkpoints" / "best.pt"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(one_logit_checkpoint.read_bytes())
    comparison = compare_checkpoints([one_logit_checkpoint, copy], data_config,
                                     EvalOptions(device="cpu"))
    names = [e.model for e in comparison.evaluations]
    assert len(set(names)) == 2 and names[1].startswith(str(tmp_path))


def test_nothing_to_compare() -> None:
    with pytest.raises(ValueError, match="no detector checkpoints"):
        compare_checkpoints([], DataConfig(path="x"))


def test_a_calibrated_model_ranks_before_an_uncalibrated_one() -> None:
    from fakescope.evaluate.compare import best_by

    table = [
        {"model": "raw", "calibrated": False, "roc_auc": 0.99, "accuracy": 0.5},
        {"model": "fitted", "calibrated": True, "roc_auc": 0.95, "accuracy": 0.9},
    ]
    assert best_by(table)["model"] == "fitted"
    assert best_by(table[:1])["model"] == "raw"
