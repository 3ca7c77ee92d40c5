"""Metric values against cases worked out by hand, and against torchmetrics' ECE."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import binary_calibration_error

from fakescope.metrics import (
    binary_metrics,
    confusion_counts,
    equal_error_rate,
    expected_calibration_error,
    pr_points,
    probability_metrics,
    ranking_metrics,
    reliability_bins,
    roc_points,
    threshold_metrics,
)

# scikit-learn's documented ROC example: AUC 0.75, average precision 0.8333.
ROC_LABELS = [0, 0, 1, 1]
ROC_PROBS = [0.1, 0.4, 0.35, 0.8]


def test_known_confusion_matrix_and_rates() -> None:
    # 6 real, 4 fake; at 0.5: reals 0.6, 0.7 are false positives, fake 0.2 a false negative.
    labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    probs = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.2, 0.55, 0.8, 0.9]
    c = confusion_counts(labels, probs, 0.5)
    assert (c.tn, c.fp, c.fn, c.tp) == (4, 2, 1, 3)
    assert c.matrix() == [[4, 2], [1, 3]]
    m = threshold_metrics(labels, probs, 0.5)
    assert m["accuracy"] == pytest.approx(7 / 10)
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(2 * (3 / 5) * (3 / 4) / (3 / 5 + 3 / 4))
    assert m["sensitivity"] == pytest.approx(3 / 4)  # fake recall
    assert m["specificity"] == pytest.approx(4 / 6)  # real recall
    assert m["false_positive_rate"] == pytest.approx(2 / 6)
    # Paper 002's terms are the other way round.
    assert m["paper002_sensitivity"] == pytest.approx(4 / 6)
    assert m["paper002_specificity"] == pytest.approx(3 / 4)
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 4 / 6) / 2)


def test_threshold_is_inclusive() -> None:
    c = confusion_counts([0, 1], [0.5, 0.5], 0.5)
    assert (c.fp, c.tp) == (1, 1)


def test_known_roc_auc_average_precision_and_eer() -> None:
    m = ranking_metrics(ROC_LABELS, ROC_PROBS)
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["average_precision"] == pytest.approx(5 / 6)
    # At 0.4: one real of two flagged (FPR 1/2), one fake of two missed (FNR 1/2).
    assert m["eer"] == pytest.approx(0.5)
    assert m["eer_threshold"] == pytest.approx(0.4)


def test_eer_interpolates_between_roc_points() -> None:
    # A tie: the ROC jumps from (0, 0) to (1, 1) in one step; FPR = FNR halfway, at 0.5.
    assert equal_error_rate([0, 1], [0.5, 0.5]) == (pytest.approx(0.5), pytest.approx(0.5))
    assert equal_error_rate([0, 1], [0.3, 0.7]) == (pytest.approx(0.0), pytest.approx(0.7))


def test_roc_and_pr_points() -> None:
    roc = roc_points(ROC_LABELS, ROC_PROBS)
    assert roc["fpr"][0] == 0 and roc["tpr"][-1] == 1
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(0.75)
    pr = pr_points(ROC_LABELS, ROC_PROBS)
    assert len(pr["precision"]) == len(pr["recall"]) > 0
    thinned = roc_points(np.arange(200) % 2, np.linspace(0, 1, 200), max_points=10)
    assert len(thinned["fpr"]) <= 10 and thinned["fpr"][-1] == 1.0


def test_reliability_bins_and_ece_by_hand() -> None:
    labels, probs = [0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9]
    bins = reliability_bins(labels, probs, n_bins=2)
    assert bins.mean_probability == pytest.approx([0.2, 0.75])
    assert bins.fake_fraction == pytest.approx([0.0, 1.0])
    assert bins.count == [2, 2]
    # Half the images 0.2 off, half 0.25 off.
    assert expected_calibration_error(labels, probs, n_bins=2) == pytest.approx(0.225)
    assert expected_calibration_error([1], [1.0], n_bins=10) == pytest.approx(0.0)


def test_ece_agrees_with_torchmetrics() -> None:
    rng = np.random.default_rng(0)
    probs = rng.uniform(0.001, 0.999, 500)
    labels = (rng.uniform(size=500) < probs**2).astype(int)
    reference = binary_calibration_error(
        torch.tensor(probs), torch.tensor(labels), n_bins=10, norm="l1"
    )
    assert expected_calibration_error(labels, probs, n_bins=10) == pytest.approx(
        float(reference), abs=1e-9
    )


def test_log_loss_and_brier_by_hand() -> None:
    m = probability_metrics([0, 1], [0.2, 0.9])
    assert m["brier"] == pytest.approx((0.2**2 + 0.1**2) / 2)
    assert m["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.9)) / 2)
    assert math.isfinite(probability_metrics([0, 1], [1.0, 0.0])["log_loss"])


def test_one_class_leaves_undefined_metrics_empty() -> None:
    m = binary_metrics([1, 1, 1], [0.2, 0.7, 0.9], 0.5)
    assert m["roc_auc"] is None and m["eer"] is None and m["average_precision"] is None
    assert m["specificity"] is None and m["paper002_sensitivity"] is None
    assert m["recall"] == pytest.approx(2 / 3)
    assert (m["n"], m["n_real"], m["n_fake"], m["tp"], m["fn"]) == (3, 0, 3, 2, 1)
    assert roc_points([1, 1], [0.1, 0.2]) == {"fpr": [], "tpr": []}


@pytest.mark.parametrize(
    ("labels", "probs", "message"),
    [
        ([0, 1], [0.5], "2 labels but 1"),
        ([0, 2], [0.5, 0.5], "0 \\(real\\) or 1"),
        ([0, 1], [0.5, 1.5], "within \\[0, 1\\]"),
        ([], [], "no images"),
    ],
)
def test_bad_scores_are_refused(labels: list[int], probs: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        binary_metrics(labels, probs, 0.5)
