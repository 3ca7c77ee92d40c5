"""Temperature scaling, the uncertain band, their storage in the checkpoint and the display rule."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fakescope.checkpoints import load_checkpoint
from fakescope.cli import main
from fakescope.config import DataConfig
from fakescope.evaluate.calibrate import BandTargets, fit_calibration, fit_temperature
from fakescope.evaluate.evaluate import evaluate_checkpoint
from fakescope.evaluate.options import CalibrationOptions, EvalOptions
from fakescope.evaluate.threshold import ThresholdRule
from fakescope.formatting import format_number, format_probability
from fakescope.metrics import expected_calibration_error
from fakescope.models.calibration import Calibration, log_odds
from fakescope.models.registry import fake_probability, load_detector

EER = ThresholdRule("eer")


def overconfident(n: int, seed: int, sharpness: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and the log-odds of a detector `sharpness` times too sure of itself: scores are
    N(+1, 1) for fakes and N(-1, 1) for reals, whose true log-odds are 2x."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = rng.normal(2.0 * labels - 1.0, 1.0)
    return labels, sharpness * 2.0 * x


def test_calibration_lowers_ece_on_a_held_out_split() -> None:
    val_labels, val_logits = overconfident(3000, seed=0)
    test_labels, test_logits = overconfident(3000, seed=1)
    calibration, _ = fit_calibration(val_labels, val_logits, "val", BandTargets(), EER)
    assert calibration.temperature == pytest.approx(6.0, rel=0.1)  # the true over-confidence
    before = expected_calibration_error(test_labels, Calibration().probability(test_logits))
    after = expected_calibration_error(test_labels, calibration.probability(test_logits))
    assert before > 0.1 and after < 0.03 and after < before / 4
    assert calibration.ece_after < calibration.ece_before  # as recorded on val
    assert calibration.nll_after < calibration.nll_before


def test_an_underconfident_model_gets_a_temperature_below_one() -> None:
    labels, logits = overconfident(3000, seed=2, sharpness=0.25)
    assert fit_temperature(labels, logits) == pytest.approx(0.25, rel=0.1)


def test_band_meets_its_error_targets_and_holds_the_threshold() -> None:
    labels, logits = overconfident(4000, seed=3)
    targets = BandTargets(fake_called_real=0.02, real_called_fake=0.1)
    calibration, threshold = fit_calibration(labels, logits, "val", targets, EER)
    probs = calibration.probability(logits)
    low, high = calibration.band(threshold)
    assert low <= threshold <= high
    assert np.mean(probs[labels == 1] < low) <= 0.02
    assert np.mean(probs[labels == 0] >= high) <= 0.1
    # neither target is met with room to spare: the band is no wider than it must be
    assert np.mean(probs[labels == 1] < low) > 0.015
    verdicts = {calibration.verdict(p, threshold) for p in probs}
    assert verdicts == {"real", "uncertain", "fake"}


def test_without_temperature_scaling_the_probabilities_stay_raw() -> None:
    labels, logits = overconfident(500, seed=4)
    calibration, _ = fit_calibration(labels, logits, "val", None, EER, temperature_scaling=False)
    assert calibration.method == "none" and calibration.temperature == 1.0
    assert not calibration.has_band
    assert calibration.verdict(0.7, 0.6) == "fake" and calibration.verdict(0.5, 0.6) == "real"


def test_calibrated_probability_for_both_heads() -> None:
    calibration = Calibration(method="temperature", temperature=2.5)
    two = torch.tensor([[0.3, 4.0], [2.0, -9.0]])
    expected = torch.softmax(two / 2.5, dim=-1)[:, 1].double().numpy()
    assert calibration.probability(log_odds(two)) == pytest.approx(expected)
    one = torch.tensor([[3.0], [-40.0]])
    assert Calibration().probability(log_odds(one)) == pytest.approx(
        fake_probability(one).double().numpy()
    )
    # float64 keeps a large log-odds below 1, where float32's sigmoid gives exactly 1
    assert float(torch.sigmoid(torch.tensor(20.0))) == 1.0
    assert Calibration().probability([20.0])[0] < 1.0


@pytest.mark.parametrize("bad", [
    {"temperature": 0.0}, {"temperature": float("nan")}, {"band_low": 0.2},
    {"band_low": 0.6, "band_high": 0.4}, {"method": "isotonic"},
])  # fmt: skip
def test_inconsistent_calibrations_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Calibration(**bad)  # type: ignore[arg-type]


def test_old_checkpoints_load_with_the_identity(one_logit_checkpoint: Path) -> None:
    assert "calibration" not in load_checkpoint(one_logit_checkpoint)
    loaded = load_detector(one_logit_checkpoint)
    assert loaded.calibration == Calibration()
    assert loaded.calibration.band(loaded.threshold) == (loaded.threshold, loaded.threshold)


def test_eval_fits_stores_and_applies_the_calibration(
    two_logit_checkpoint: Path, data_config: DataConfig
) -> None:
    fit_eer = EvalOptions(device="cpu", calibration=CalibrationOptions(rule="eer"))
    evaluation, scores = evaluate_checkpoint(two_logit_checkpoint, data_config, fit_eer)
    loaded = load_detector(two_logit_checkpoint)
    stored = loaded.calibration
    assert stored.method == "temperature" and stored.fitted_on == "val" and stored.n == 4
    assert stored.has_band and stored.target_real_called_fake == 0.05
    assert evaluation.calibration == stored.to_dict()
    assert loaded.threshold == pytest.approx(evaluation.threshold)
    assert scores.log_odds is not None
    assert scores.probs == pytest.approx(stored.probability(scores.log_odds))
    m = evaluation.metrics
    assert m["temperature"] == stored.temperature
    assert {"ece_uncalibrated", "log_loss_uncalibrated", "uncertain_share"} <= set(m)
    assert evaluation.reliability_uncalibrated["count"]

    # evaluated again without a rule, the stored calibration is applied
    again, rescored = evaluate_checkpoint(two_logit_checkpoint, data_config,
                                          EvalOptions(device="cpu"))
    assert rescored.probs == pytest.approx(scores.probs)
    assert again.threshold_source == "checkpoint"


def test_eval_cli_writes_verdicts_and_can_skip_calibration(
    two_logit_checkpoint: Path, faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval"
    common = ["eval", "--checkpoint", str(two_logit_checkpoint), "--data", str(faces),
              "--split", "all", "--no-cache", "--device", "cpu", "--quiet", "--no-provenance",
              "--out", str(out), "--calibrate-threshold", "eer"]  # fmt: skip
    assert main([*common, "--max-real-called-fake", "0.25"]) == 0
    printed = capsys.readouterr().out
    assert "temperature" in printed and "uncertain band" in printed and "ECE" in printed
    with (out / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["verdict"] for r in rows} <= {"real", "uncertain", "fake"}
    stored = load_detector(two_logit_checkpoint).calibration
    assert stored.target_real_called_fake == 0.25

    assert main([*common, "--no-calibration", "--no-uncertain-band"]) == 0
    assert "no temperature scaling" in capsys.readouterr().out
    stored = load_detector(two_logit_checkpoint).calibration
    assert stored.method == "none" and stored.temperature == 1.0 and not stored.has_band
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["calibration"]["method"] == "none"


def test_bad_band_targets_are_a_one_line_error(
    two_logit_checkpoint: Path, faces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "--checkpoint", str(two_logit_checkpoint), "--data", str(faces),
              "--max-fake-called-real", "1.5"])  # fmt: skip
    assert "not a share in [0, 1)" in capsys.readouterr().err


@pytest.mark.parametrize(("value", "shown"), [
    (0.0, "0 %"), (1.0, "100 %"), (0.5, "50.0 %"), (0.9997, "99.97 %"), (0.99996, ">99.99 %"),
    (0.00004, "<0.01 %"), (0.0004, "0.04 %"), (0.123456, "12.3 %"), (None, "-"),
])  # fmt: skip
def test_probabilities_are_never_shown_as_certain_unless_they_are(
    value: float | None, shown: str
) -> None:
    assert format_probability(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    (0.99996, "0.99996"), (1.0, "1"), (0.5, "0.5"), (0.123456, "0.1235"), (12345.6, "1.235e+04"),
])  # fmt: skip
def test_metrics_short_of_one_never_read_as_one(value: float, shown: str) -> None:
    assert format_number(value) == shown


def test_calibration_needs_both_classes_even_without_temperature() -> None:
    with pytest.raises(ValueError, match="needs both real and fake images"):
        fit_calibration([1, 1], [0.3, 2.0], "val", BandTargets(), ThresholdRule("fixed", 0.5),
                        temperature_scaling=False)  # fmt: skip


def test_a_perfectly_separated_split_is_not_sharpened_to_certainty() -> None:
    # Plain likelihood keeps rising as T shrinks when every fake outscores every real; Platt's
    # targets stop the search where 100 images per class can vouch for (about 1 in 100 wrong).
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    scores = np.where(labels == 1, rng.uniform(1.0, 4.0, 200), rng.uniform(-4.0, -1.0, 200))
    temperature = fit_temperature(labels, scores)
    assert temperature > 0.2  # the search's lower bound is 1/150
    probs = 1.0 / (1.0 + np.exp(-scores / temperature))
    assert 0.9 < probs[labels == 1].mean() < 0.999
    assert 0.001 < probs[labels == 0].mean() < 0.1
