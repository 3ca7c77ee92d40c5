"""ECE and the reliability diagram before and after calibration, in the plots and the report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from fakescope.evaluate.calibrate import BandTargets, fit_calibration
from fakescope.evaluate.evaluate import Evaluation, evaluate_scores
from fakescope.evaluate.scoring import Scores
from fakescope.evaluate.threshold import ThresholdRule
from fakescope.models.calibration import Calibration
from fakescope.report import plots
from fakescope.report.html import calibration_block, evaluation_block


def calibrated_evaluation(seed: int = 0) -> Evaluation:
    """An over-confident detector (log-odds 6 times too large), calibrated on one half of its
    scores and evaluated on the other."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 4000)
    log_odds = 12.0 * rng.normal(2.0 * labels - 1.0, 1.0)
    calibration, threshold = fit_calibration(
        labels[:2000], log_odds[:2000], "val", BandTargets(), ThresholdRule("eer")
    )
    test = Scores(labels[2000:], calibration.probability(log_odds[2000:]),
                  [f"img{i}.png" for i in range(2000)], log_odds[2000:])  # fmt: skip
    return evaluate_scores(test, threshold, "m", "m.pt", "selfcnn", "test", "eer on val",
                           calibration=calibration)  # fmt: skip


def test_evaluation_reports_ece_before_and_after() -> None:
    evaluation = calibrated_evaluation()
    m = evaluation.metrics
    assert m["ece"] < m["ece_uncalibrated"] / 3
    assert m["log_loss"] < m["log_loss_uncalibrated"]
    assert 0 < m["uncertain_share"] < 0.5 and m["decided_accuracy"] > 0.9
    assert evaluation.reliability_uncalibrated["count"] and evaluation.reliability["count"]


def test_reliability_diagram_draws_both_curves() -> None:
    evaluation = calibrated_evaluation()
    top = plots.reliability_figure(evaluation).axes[0]
    labels = [line.get_label() for line in top.get_lines()]
    assert labels[0] == "perfectly calibrated"
    assert labels[1].startswith("before calibration (ECE")
    assert labels[2].startswith("after, T = ")


def test_report_block_states_the_calibration(tmp_path: Path) -> None:
    evaluation = calibrated_evaluation()
    block = calibration_block(evaluation)
    assert "temperature scaling, T = " in block and "fitted on val (2000 images)" in block
    assert "ECE before calibration" in block and "uncertain band [" in block
    page = evaluation_block(evaluation, tmp_path)
    assert block in page


def test_a_near_certain_threshold_is_not_shown_as_100_percent(
    make_evaluation: Callable[..., Evaluation], tmp_path: Path
) -> None:
    evaluation = make_evaluation()
    evaluation.threshold = 0.99996
    evaluation.calibration = Calibration().to_dict()
    page = evaluation_block(evaluation, tmp_path)
    assert "threshold &gt;99.99 %" in page and "100.0" not in page.split("threshold")[1][:20]
