"""Binary detection metrics from true labels (0 real, 1 fake) and scores P(fake): the one
metrics module, for the trainers' per-epoch rows and for evaluation alike.

An image is called fake when P(fake) >= threshold, the same convention scikit-learn's
`roc_curve` uses, so a threshold read off a curve reproduces that curve's operating point.
Metrics that a data set cannot define (ROC-AUC with one class present, the recall of a class
with no images) are None rather than a misleading number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm

from fakescope.errors import DataError

# Probabilities are clipped this far from 0 and 1 before the log loss, so one saturated
# sigmoid cannot make it infinite.
_LOG_LOSS_EPS = 1e-7


@dataclass(frozen=True)
class Confusion:
    """Counts with fake as the positive class."""

    tn: int
    fp: int
    fn: int
    tp: int

    def matrix(self) -> list[list[int]]:
        """Rows: true real, true fake; columns: predicted real, predicted fake."""
        return [[self.tn, self.fp], [self.fn, self.tp]]


@dataclass(frozen=True)
class ReliabilityBins:
    """Equal-width bins over P(fake): mean predicted P(fake), observed share of fakes, count."""

    mean_probability: list[float]
    fake_fraction: list[float]
    count: list[int]

    def to_dict(self) -> dict[str, list[Any]]:
        return {
            "mean_probability": self.mean_probability,
            "fake_fraction": self.fake_fraction,
            "count": self.count,
        }


def check_scores(labels: Any, probs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Labels and P(fake) as flat int64 / float64 arrays, or ValueError saying what is wrong."""
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"{y.size} labels but {p.size} probabilities")
    if y.size == 0:
        raise DataError("no images to evaluate")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        raise ValueError("probabilities must be finite and within [0, 1]")
    return y, p


def both_classes(labels: Any) -> bool:
    return len(np.unique(np.asarray(labels))) == 2


def confusion_counts(labels: Any, probs: Any, threshold: float) -> Confusion:
    y, p = check_scores(labels, probs)
    predicted = (p >= threshold).astype(np.int64)
    (tn, fp), (fn, tp) = skm.confusion_matrix(y, predicted, labels=[0, 1])
    return Confusion(tn=int(tn), fp=int(fp), fn=int(fn), tp=int(tp))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def threshold_metrics(labels: Any, probs: Any, threshold: float) -> dict[str, float | None]:
    """Metrics of the hard decisions at `threshold`, fake being the positive class.

    `sensitivity`/`specificity` follow the usual convention (fake recall / real recall).
    Paper 002 uses the opposite one: its sensitivity is the share of REAL images classified
    real and its specificity the share of FAKE images classified fake; both are reported under
    `paper002_*` names so its tables can be compared directly.
    """
    y, p = check_scores(labels, probs)
    c = confusion_counts(y, p, threshold)
    predicted = (p >= threshold).astype(np.int64)
    fake_recall = _ratio(c.tp, c.tp + c.fn)
    real_recall = _ratio(c.tn, c.tn + c.fp)
    return {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "balanced_accuracy": (
            float(skm.balanced_accuracy_score(y, predicted)) if both_classes(y) else None
        ),
        "precision": _ratio(c.tp, c.tp + c.fp),
        "recall": fake_recall,
        "f1": float(skm.f1_score(y, predicted, zero_division=0.0)) if c.tp + c.fn else None,
        "sensitivity": fake_recall,
        "specificity": real_recall,
        "false_positive_rate": _ratio(c.fp, c.tn + c.fp),
        "paper002_sensitivity": real_recall,
        "paper002_specificity": fake_recall,
    }


def equal_error_rate(labels: Any, probs: Any) -> tuple[float, float]:
    """(EER, threshold): where the false-positive and false-negative rates meet on the ROC.

    The rate is interpolated linearly between the two ROC points that straddle the crossing;
    the threshold is the one of the first point at or past it.
    """
    y, p = check_scores(labels, probs)
    if not both_classes(y):
        raise DataError("the equal error rate needs both real and fake images")
    fpr, tpr, thresholds = skm.roc_curve(y, p, drop_intermediate=False)
    gap = (1.0 - tpr) - fpr  # falls from 1 at the strictest threshold to -1 at the loosest
    i = int(np.argmax(gap <= 0))
    if gap[i] == 0 or i == 0:
        eer = float(fpr[i])
    else:
        t = gap[i - 1] / (gap[i - 1] - gap[i])
        eer = float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))
    return eer, finite_threshold(thresholds[i], p)


def finite_threshold(threshold: float, probs: np.ndarray) -> float:
    """scikit-learn's first ROC threshold is +inf ("flag nothing"); use a value just above every
    score instead, so the threshold can be stored and compared like any other."""
    if np.isfinite(threshold):
        return float(threshold)
    return float(np.nextafter(probs.max(), np.inf))


def ranking_metrics(labels: Any, probs: Any) -> dict[str, float | None]:
    """Threshold-free metrics: ROC-AUC, average precision and EER (None with one class)."""
    y, p = check_scores(labels, probs)
    if not both_classes(y):
        return {"roc_auc": None, "average_precision": None, "eer": None, "eer_threshold": None}
    eer, eer_threshold = equal_error_rate(y, p)
    return {
        "roc_auc": float(skm.roc_auc_score(y, p)),
        "average_precision": float(skm.average_precision_score(y, p)),
        "eer": eer,
        "eer_threshold": eer_threshold,
    }


def classification_metrics(labels: Any, probs: Any, threshold: float = 0.5
                           ) -> dict[str, float | None]:
    """A training run's per-epoch row: accuracy, precision, recall and F1 at `threshold` (fake
    is the positive class) and ROC-AUC; None where undefined, as everywhere in this module."""
    y, p = check_scores(labels, probs)
    hard = threshold_metrics(y, p, threshold)
    row = {name: hard[name] for name in ("accuracy", "precision", "recall", "f1")}
    return {**row, "roc_auc": ranking_metrics(y, p)["roc_auc"]}


def reliability_bins(labels: Any, probs: Any, n_bins: int = 15) -> ReliabilityBins:
    """Bin P(fake) into `n_bins` equal-width bins [k/n, (k+1)/n) (the last one closed) and
    compare each non-empty bin's mean P(fake) with the share of fakes in it."""
    y, p = check_scores(labels, probs)
    index = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    prob_sum = np.bincount(index, weights=p, minlength=n_bins)
    fake_sum = np.bincount(index, weights=y, minlength=n_bins)
    full = count > 0
    return ReliabilityBins(
        mean_probability=(prob_sum[full] / count[full]).tolist(),
        fake_fraction=(fake_sum[full] / count[full]).tolist(),
        count=count[full].astype(int).tolist(),
    )


def expected_calibration_error(labels: Any, probs: Any, n_bins: int = 15) -> float:
    """Share-weighted mean gap between predicted P(fake) and the observed share of fakes, over
    the reliability bins (the calibration-curve form of ECE, as torchmetrics' binary ECE)."""
    bins = reliability_bins(labels, probs, n_bins)
    share = np.asarray(bins.count) / sum(bins.count)
    gap = np.abs(np.asarray(bins.mean_probability) - np.asarray(bins.fake_fraction))
    return float((share * gap).sum())


def probability_metrics(labels: Any, probs: Any, n_bins: int = 15) -> dict[str, float]:
    """Metrics of the probabilities themselves: log loss, Brier score, ECE."""
    y, p = check_scores(labels, probs)
    clipped = np.clip(p, _LOG_LOSS_EPS, 1 - _LOG_LOSS_EPS)
    return {
        "log_loss": float(skm.log_loss(y, clipped, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y, p, pos_label=1)),
        "ece": expected_calibration_error(y, p, n_bins),
    }


def binary_metrics(
    labels: Any, probs: Any, threshold: float, n_bins: int = 15
) -> dict[str, float | int | None]:
    """Every metric fakescope reports for one set of scores, plus the confusion counts."""
    y, p = check_scores(labels, probs)
    c = confusion_counts(y, p, threshold)
    return {
        "n": int(y.size),
        "n_real": int((y == 0).sum()),
        "n_fake": int((y == 1).sum()),
        "threshold": float(threshold),
        **threshold_metrics(y, p, threshold),
        **ranking_metrics(y, p),
        **probability_metrics(y, p, n_bins),
        "tn": c.tn,
        "fp": c.fp,
        "fn": c.fn,
        "tp": c.tp,
    }


def _thin(arrays: list[np.ndarray], max_points: int) -> list[list[float]]:
    """Keep at most `max_points` evenly spaced points (first and last kept) for storage."""
    n = arrays[0].size
    keep = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
    return [a[keep].astype(float).tolist() for a in arrays]


def roc_points(labels: Any, probs: Any, max_points: int = 500) -> dict[str, list[float]]:
    """The ROC curve (false-positive rate, true-positive rate), empty with one class."""
    y, p = check_scores(labels, probs)
    if not both_classes(y):
        return {"fpr": [], "tpr": []}
    fpr, tpr, _ = skm.roc_curve(y, p)
    fpr_kept, tpr_kept = _thin([fpr, tpr], max_points)
    return {"fpr": fpr_kept, "tpr": tpr_kept}


def pr_points(labels: Any, probs: Any, max_points: int = 500) -> dict[str, list[float]]:
    """The precision-recall curve for the fake class, empty when there is no fake image."""
    y, p = check_scores(labels, probs)
    if not (y == 1).any():
        return {"precision": [], "recall": []}
    precision, recall, _ = skm.precision_recall_curve(y, p)
    precision_kept, recall_kept = _thin([precision, recall], max_points)
    return {"precision": precision_kept, "recall": recall_kept}
