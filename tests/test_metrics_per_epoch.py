"""Per-epoch metrics: fake is the positive class; undefined values are None, as in evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from fakescope.metrics import binary_metrics, classification_metrics


def test_counts_fake_as_positive() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    probs = np.array([0.1, 0.6, 0.2, 0.9, 0.4, 0.7, 0.8, 0.3])
    # Predicted fake: indices 1, 3, 5, 6 -> TP 3 (3, 5, 6), FP 1 (1), FN 1 (4), TN 3.
    scores = classification_metrics(labels, probs, threshold=0.5)
    assert scores["accuracy"] == pytest.approx(6 / 8)
    assert scores["precision"] == pytest.approx(3 / 4)
    assert scores["recall"] == pytest.approx(3 / 4)
    assert scores["f1"] == pytest.approx(3 / 4)
    # 16 real/fake pairs; fakes outscore reals in all but (0.6 vs 0.4): AUC = 15/16.
    assert scores["roc_auc"] == pytest.approx(15 / 16)


def test_threshold_moves_the_decision() -> None:
    labels = np.array([0, 1])
    probs = np.array([0.3, 0.4])
    assert classification_metrics(labels, probs, 0.5)["accuracy"] == 0.5
    assert classification_metrics(labels, probs, 0.35)["accuracy"] == 1.0


def test_single_class_gives_none_auc_and_no_crash() -> None:
    scores = classification_metrics(np.array([1, 1]), np.array([0.2, 0.9]))
    assert scores["roc_auc"] is None
    assert scores["recall"] == 0.5


def test_no_predicted_fake_leaves_precision_undefined() -> None:
    scores = classification_metrics(np.array([0, 1]), np.array([0.2, 0.3]))
    assert scores["precision"] is None and scores["recall"] == 0.0 and scores["f1"] == 0.0


def test_the_row_agrees_with_the_evaluation_metrics() -> None:
    labels = np.array([0, 0, 1, 1, 1, 0])
    probs = np.array([0.1, 0.7, 0.8, 0.4, 0.9, 0.2])
    row = classification_metrics(labels, probs, 0.5)
    full = binary_metrics(labels, probs, 0.5)
    assert {k: full[k] for k in row} == row


def test_empty_input_is_an_error() -> None:
    with pytest.raises(ValueError, match="no images"):
        classification_metrics(np.array([]), np.array([]))
