"""Threshold rules: parsing, choices on hand-checked scores, storage in a checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakescope.checkpoints import load_checkpoint
from fakescope.evaluate.threshold import ThresholdRule, choose_threshold, store_threshold
from fakescope.metrics import confusion_counts
from fakescope.models.registry import load_detector

LABELS = [0, 0, 1, 1]
PROBS = [0.1, 0.4, 0.35, 0.8]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("eer", ThresholdRule("eer")),
        ("F1", ThresholdRule("f1")),
        ("fpr:0.05", ThresholdRule("fpr", 0.05)),
        ("0.3", ThresholdRule("fixed", 0.3)),
    ],
)
def test_rules_parse_and_print_back(text: str, rule: ThresholdRule) -> None:
    assert ThresholdRule.parse(text) == rule
    assert ThresholdRule.parse(str(rule)) == rule


@pytest.mark.parametrize(("text", "message"), [
    ("fpr:1.5", "target rate"), ("1.5", "fixed threshold"), ("youden", "unknown threshold rule"),
    ("fpr:x", "unknown threshold rule"),
])  # fmt: skip
def test_bad_rules_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ThresholdRule.parse(text)


def test_chosen_thresholds_by_hand() -> None:
    # EER: FPR = FNR = 1/2 at 0.4.  F1 by threshold: 0.1 -> 2/3, 0.35 -> 4/5, 0.4 -> 1/2,
    # 0.8 -> 2/3.  FPR 0 holds down to 0.8; FPR 1/2 down to 0.35.
    assert choose_threshold(LABELS, PROBS, ThresholdRule("eer")) == pytest.approx(0.4)
    assert choose_threshold(LABELS, PROBS, ThresholdRule("f1")) == pytest.approx(0.35)
    assert choose_threshold(LABELS, PROBS, ThresholdRule("fpr", 0.0)) == pytest.approx(0.8)
    assert choose_threshold(LABELS, PROBS, ThresholdRule("fpr", 0.5)) == pytest.approx(0.35)
    assert choose_threshold(LABELS, PROBS, ThresholdRule("fixed", 0.7)) == 0.7


def test_fpr_target_that_only_flag_nothing_meets() -> None:
    labels, probs = [0, 1], [0.9, 0.1]
    threshold = choose_threshold(labels, probs, ThresholdRule("fpr", 0.0))
    assert 0.9 < threshold <= 1.0
    assert confusion_counts(labels, probs, threshold).fp == 0


def test_rules_need_both_classes() -> None:
    with pytest.raises(ValueError, match="both real and fake"):
        choose_threshold([1, 1], [0.2, 0.9], ThresholdRule("eer"))


def test_store_threshold_rewrites_the_checkpoint(two_logit_checkpoint: Path) -> None:
    before = load_checkpoint(two_logit_checkpoint)
    store_threshold(
        two_logit_checkpoint, 0.37, ThresholdRule("fpr", 0.05), "val",
        {"accuracy": 0.9, "eer": None, "curve": [1, 2]},
    )
    loaded = load_detector(two_logit_checkpoint)
    assert loaded.threshold == pytest.approx(0.37)
    assert loaded.extra["threshold_method"] == "fpr"
    assert loaded.extra["threshold_value"] == pytest.approx(0.05)
    assert loaded.extra["threshold_split"] == "val"
    assert loaded.metrics == {"val_accuracy": 0.9, "val_eer": None}
    after = load_checkpoint(two_logit_checkpoint)
    assert after["format_version"] == before["format_version"]
    assert all((after["state_dict"][k] == v).all() for k, v in before["state_dict"].items())
