"""Evaluating checkpoints on a tiny face folder: splits, thresholds, outputs, agreement."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fakescope.checkpoints import load_checkpoint, save_checkpoint
from fakescope.config import DataConfig
from fakescope.evaluate.evaluate import (
    default_evaluation_dir,
    evaluate_checkpoint,
    read_evaluation,
    write_evaluation,
)
from fakescope.evaluate.options import CalibrationOptions, EvalOptions
from fakescope.evaluate.scoring import (
    evaluation_data_config,
    prepare_evaluation_data,
    score_split,
    training_seed,
)
from fakescope.inference.predict import Predictor
from fakescope.metrics import binary_metrics
from fakescope.models.registry import load_detector

CPU = torch.device("cpu")
CPU_OPTIONS = EvalOptions(device="cpu")
ALL_ON_CPU = EvalOptions(device="cpu", split="all")


def test_test_split_at_the_stored_threshold(
    one_logit_checkpoint: Path, data_config: DataConfig
) -> None:
    evaluation, scores = evaluate_checkpoint(one_logit_checkpoint, data_config, CPU_OPTIONS)
    assert evaluation.split == "test" and evaluation.threshold == pytest.approx(0.45)
    assert evaluation.threshold_source == "checkpoint"
    assert evaluation.model == "run-one/best" and evaluation.detector == "dcgan_disc64"
    assert evaluation.metrics["n"] == len(scores.paths) == 4  # 2 real + 2 fake of 40
    assert set(scores.labels.tolist()) == {0, 1}
    expected = binary_metrics(scores.labels, scores.probs, 0.45)
    measured = {k: evaluation.metrics[k] for k in expected}  # plus band and calibration keys
    assert measured == pytest.approx(expected, nan_ok=True)
    assert evaluation.confusion == [
        [expected["tn"], expected["fp"]],
        [expected["fn"], expected["tp"]],
    ]
    assert evaluation.data["layout"] == "class_folders"


def test_split_all_uses_every_image(one_logit_checkpoint: Path, data_config: DataConfig) -> None:
    evaluation, scores = evaluate_checkpoint(one_logit_checkpoint, data_config, ALL_ON_CPU)
    assert evaluation.metrics["n"] == 40 and len(set(scores.paths)) == 40


def test_unknown_split_is_a_clear_error(
    one_logit_checkpoint: Path, data_config: DataConfig
) -> None:
    with pytest.raises(ValueError, match="no 'holdout' split"):
        evaluate_checkpoint(one_logit_checkpoint, data_config,
                            EvalOptions(device="cpu", split="holdout"))


def test_calibrated_threshold_is_chosen_on_val_and_stored(
    two_logit_checkpoint: Path, data_config: DataConfig
) -> None:
    fit_f1 = EvalOptions(device="cpu", calibration=CalibrationOptions(rule="f1"))
    evaluation, _ = evaluate_checkpoint(two_logit_checkpoint, data_config, fit_f1)
    assert evaluation.threshold_source == "f1 on val"
    loaded = load_detector(two_logit_checkpoint)
    assert loaded.threshold == pytest.approx(evaluation.threshold)
    assert loaded.extra["threshold_method"] == "f1"
    assert "val_f1" in loaded.metrics
    # The threshold is one of the validation scores, not a test score.
    prepared = prepare_evaluation_data(loaded, data_config, seed=0)
    val = score_split(loaded, prepared, "val", CPU)
    assert np.isclose(val.probs, evaluation.threshold).any()


def test_no_store_leaves_the_checkpoint_alone(
    two_logit_checkpoint: Path, data_config: DataConfig
) -> None:
    before = two_logit_checkpoint.read_bytes()
    no_store = CalibrationOptions(rule="eer", store=False)
    evaluate_checkpoint(two_logit_checkpoint, data_config, EvalOptions(calibration=no_store))
    assert two_logit_checkpoint.read_bytes() == before


def test_scores_do_not_depend_on_batch_size(
    one_logit_checkpoint: Path, data_config: DataConfig
) -> None:
    loaded = load_detector(one_logit_checkpoint)
    prepared = prepare_evaluation_data(loaded, data_config, seed=0)
    big = score_split(loaded, prepared, "all", CPU, batch_size=64)
    small = score_split(loaded, prepared, "all", CPU, batch_size=3)
    assert big.paths == small.paths
    np.testing.assert_allclose(big.probs, small.probs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("which", ["one_logit_checkpoint", "two_logit_checkpoint"])
def test_predict_and_eval_agree(
    which: str, data_config: DataConfig, request: pytest.FixtureRequest
) -> None:
    checkpoint = request.getfixturevalue(which)
    _, scores = evaluate_checkpoint(checkpoint, data_config, ALL_ON_CPU)
    predictor = Predictor(load_detector(checkpoint), batch_size=7)
    results = predictor.predict_paths(scores.paths)
    probs = [r.prediction.probability_fake for r in results if r.prediction]
    np.testing.assert_allclose(probs, scores.probs, rtol=1e-5, atol=1e-6)


def test_outputs_parse_and_match(
    one_logit_checkpoint: Path, data_config: DataConfig, tmp_path: Path
) -> None:
    evaluation, scores = evaluate_checkpoint(one_logit_checkpoint, data_config, CPU_OPTIONS)
    written = write_evaluation(evaluation, scores, tmp_path)
    assert [p.name for p in written] == ["evaluation.json", "metrics.csv", "predictions.csv"]
    assert read_evaluation(tmp_path / "evaluation.json") == evaluation
    json.loads((tmp_path / "evaluation.json").read_text())
    with (tmp_path / "metrics.csv").open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert float(row["accuracy"]) == pytest.approx(evaluation.metrics["accuracy"], abs=1e-5)
    with (tmp_path / "predictions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == scores.paths
    predicted_fake = sum(r["predicted"] == "fake" for r in rows)
    assert predicted_fake == evaluation.metrics["tp"] + evaluation.metrics["fp"]


def test_default_output_folder(tmp_path: Path) -> None:
    in_run = tmp_path / "runs" / "a" / "checkpoints" / "best.pt"
    assert (
        default_evaluation_dir(in_run, "test")
        == tmp_path / "runs" / "a" / "evaluation" / "best-test"
    )
    loose = tmp_path / "model.pt"
    assert default_evaluation_dir(loose, "all") == tmp_path / "evaluation" / "model-all"


def test_training_data_settings_are_reused(two_logit_checkpoint: Path, tmp_path: Path) -> None:
    payload = load_checkpoint(two_logit_checkpoint)
    payload.pop("format_version")
    payload["config"] = {
        "run": {"seed": 7},
        "data": {
            "path": "/elsewhere",
            "split_fractions": [0.5, 0.25, 0.25],
            "face_crop": True,
            "limit_fraction": 0.1,
            "augment": {"hflip": True},
        },
    }
    save_checkpoint(two_logit_checkpoint, payload)
    loaded = load_detector(two_logit_checkpoint)
    assert training_seed(loaded) == 7
    data = evaluation_data_config(loaded, str(tmp_path), face_crop=False, layout=None)
    assert data.path == str(tmp_path) and data.split_fractions == (0.5, 0.25, 0.25)
    assert data.limit_fraction is None and data.face_crop is False and data.layout == "auto"
    assert dataclasses.asdict(data)["augment"]["hflip"] is False
