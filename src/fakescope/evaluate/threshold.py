"""Choosing a decision threshold on validation scores, and storing it in a detector checkpoint.

Rules, as written on the command line:

    eer        where false-positive and false-negative rates meet
    f1         the threshold with the best F1 for the fake class
    fpr:0.05   the loosest threshold whose false-positive rate is at most 5%
    0.5        a fixed threshold

`predict`, `eval` and the server read the stored threshold back through `load_detector`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics as skm

from fakescope.checkpoints import DetectorPayload, update_detector
from fakescope.config import ConfigError
from fakescope.errors import DataError
from fakescope.metrics import (
    both_classes,
    check_scores,
    equal_error_rate,
    finite_threshold,
)
from fakescope.models.calibration import Calibration
from fakescope.models.feature_density import FeatureDensity

RULE_HELP = "eer, f1, fpr:RATE (e.g. fpr:0.05) or a fixed number in [0, 1]"


@dataclass(frozen=True)
class ThresholdRule:
    method: str  # eer | f1 | fpr | fixed
    value: float | None = None  # the target rate for fpr, the threshold for fixed

    @classmethod
    def parse(cls, text: str) -> ThresholdRule:
        word = text.strip().lower()
        if word in ("eer", "f1"):
            return cls(word)
        if word.startswith("fpr:"):
            rate = _number(word[4:], text)
            if not 0 <= rate < 1:
                raise ConfigError(f"threshold rule '{text}': the target rate must be in [0, 1)")
            return cls("fpr", rate)
        fixed = _number(word, text)
        if not 0 <= fixed <= 1:
            raise ConfigError(f"threshold rule '{text}': a fixed threshold must be in [0, 1]")
        return cls("fixed", fixed)

    def __str__(self) -> str:
        if self.method == "fpr":
            return f"fpr:{self.value:g}"
        if self.method == "fixed":
            return f"{self.value:g}"
        return self.method


def _number(text: str, rule: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"unknown threshold rule '{rule}' (use {RULE_HELP})") from None


def choose_threshold(labels: Any, probs: Any, rule: ThresholdRule) -> float:
    """The threshold `rule` picks on these scores (fake when P(fake) >= threshold)."""
    if rule.method == "fixed":
        return float(rule.value if rule.value is not None else 0.5)
    y, p = check_scores(labels, probs)
    if not both_classes(y):
        raise DataError(f"threshold rule '{rule}' needs both real and fake images")
    if rule.method == "eer":
        return equal_error_rate(y, p)[1]
    if rule.method == "f1":
        precision, recall, thresholds = skm.precision_recall_curve(y, p)
        # The last precision/recall pair has no threshold (it is the "flag nothing" end).
        denominator = precision[:-1] + recall[:-1]
        f1 = np.divide(
            2 * precision[:-1] * recall[:-1],
            denominator,
            out=np.zeros_like(denominator),
            where=denominator > 0,
        )
        return float(thresholds[int(np.argmax(f1))])
    if rule.method == "fpr":
        fpr, _, thresholds = skm.roc_curve(y, p, drop_intermediate=False)
        # fpr grows as the threshold falls: the last point within the target is the loosest.
        within = np.flatnonzero(fpr <= (rule.value or 0.0))
        return finite_threshold(thresholds[within[-1]], p)
    raise ConfigError(f"unknown threshold rule '{rule}' (use {RULE_HELP})")


def store_threshold(
    checkpoint: str | Path,
    threshold: float,
    rule: ThresholdRule,
    split: str,
    metrics: dict[str, Any],
    calibration: Calibration | None = None,
    feature_density: FeatureDensity | None = None,
) -> None:
    """Rewrite a detector checkpoint (atomically) with a new decision threshold, the rule and
    split that chose it, and the metrics measured there (prefixed with the split's name); with
    `calibration`, the temperature and uncertain band the threshold was chosen with, in the
    same write, so the threshold never meets probabilities of another calibration; with
    `feature_density`, the "unlike the training data" model fitted with them."""
    changes: DetectorPayload = {
        "threshold": float(threshold), "threshold_method": rule.method,
        "threshold_value": rule.value, "threshold_split": split,
    }
    if calibration is not None:
        changes["calibration"] = calibration.to_payload()
    if feature_density is not None:
        changes["feature_density"] = feature_density.to_payload()
    measured = {f"{split}_{k}": v for k, v in metrics.items() if _storable(v)}
    update_detector(checkpoint, changes, measured)


def _storable(value: Any) -> bool:
    return value is None or isinstance(value, (int, float, str, bool))
