"""`predict` reports the calibrated P(fake) and the verdict (real, uncertain, fake) of the band."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from fakescope.cli import main
from fakescope.data.images import load_image
from fakescope.evaluate.threshold import ThresholdRule, store_threshold
from fakescope.inference.predict import Predictor, expand_inputs
from fakescope.models.calibration import Calibration
from fakescope.models.registry import load_detector


def calibrate_around_the_median(checkpoint: Path, faces: Path) -> tuple[Calibration, float]:
    """Store a temperature and a band that holds the middle third of these faces' scores."""
    predictor = Predictor(load_detector(checkpoint))
    paths = expand_inputs([str(faces)])
    raw = predictor.log_odds([predictor.model_input(load_image(p))[0] for p in paths])
    temperature = 3.0
    probs = np.sort(Calibration(method="temperature", temperature=temperature).probability(raw))
    low, high = float(probs[len(probs) // 3]), float(probs[2 * len(probs) // 3])
    threshold = (low + high) / 2
    calibration = Calibration(
        method="temperature", temperature=temperature, band_low=low, band_high=high,
        fitted_on="val",
    )  # fmt: skip
    store_threshold(checkpoint, threshold, ThresholdRule("eer"), "val", {}, calibration)
    return calibration, threshold


def test_predict_json_and_csv_carry_the_verdict(
    two_logit_checkpoint: Path, faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calibration, threshold = calibrate_around_the_median(two_logit_checkpoint, faces)
    out_json, out_csv = tmp_path / "rows.json", tmp_path / "rows.csv"
    assert main(["predict", str(faces), "--checkpoint", str(two_logit_checkpoint), "--quiet",
                 "--device", "cpu", "--no-provenance", "--out", str(out_json),
                 "--out", str(out_csv)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "verdict" in printed and "uncertain from" in printed and "temperature 3" in printed
    rows = json.loads(out_json.read_text())
    assert {r["verdict"] for r in rows} == {"real", "uncertain", "fake"}
    for row in rows:
        assert row["band_low"] == pytest.approx(calibration.band_low)
        assert row["band_high"] == pytest.approx(calibration.band_high)
        assert row["threshold"] == pytest.approx(threshold)
        assert row["verdict"] == calibration.verdict(row["probability_fake"], threshold)
        assert row["label"] == ("fake" if row["probability_fake"] >= threshold else "real")
    table = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert [r["verdict"] for r in table] == [r["verdict"] for r in rows]
    assert {"band_low", "band_high", "probability_fake"} <= set(table[0])


def test_predictor_applies_the_stored_temperature(two_logit_checkpoint: Path, faces: Path) -> None:
    before = Predictor(load_detector(two_logit_checkpoint))
    fakes = expand_inputs([str(faces / "fake")])[:5]
    pictures = [before.model_input(load_image(p))[0] for p in fakes]
    raw = before.log_odds(pictures)
    calibrate_around_the_median(two_logit_checkpoint, faces)
    after = Predictor(load_detector(two_logit_checkpoint))
    expected = 1.0 / (1.0 + np.exp(-raw / 3.0))
    assert after.probabilities(pictures) == pytest.approx(expected)
    assert after.log_odds(pictures) == pytest.approx(raw)
