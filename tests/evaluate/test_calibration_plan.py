"""How much threshold calibration a training run's time budget holds (issue 27: `train`'s
calibration ran after the budget, outside it)."""

from __future__ import annotations

import math

from fakescope.evaluate.calibration_plan import (
    MARGIN,
    calibration_images,
    plan_calibration,
)
from fakescope.evaluate.evaluate import SHIFTS, CalibrationSteps
from fakescope.evaluate.feature_density import MAX_TRAIN_IMAGES
from fakescope.evaluate.threshold import ThresholdRule

STEPS = CalibrationSteps(ThresholdRule.parse("fpr:0.05"))
VAL, TRAIN = 160, 1280


def test_the_full_calibration_scores_shifted_copies_and_training_features() -> None:
    full = calibration_images(VAL, TRAIN, STEPS)
    assert full == VAL * (1 + len(SHIFTS)) + MAX_TRAIN_IMAGES + VAL
    clean = CalibrationSteps(STEPS.rule, shift=False, density=False)
    assert calibration_images(VAL, TRAIN, clean) == VAL


def test_without_a_budget_the_calibration_is_whole() -> None:
    plan = plan_calibration(STEPS, VAL, TRAIN, image_seconds=0.1)
    assert plan.steps == STEPS and plan.cut == ""


def test_a_tight_budget_keeps_the_clean_validation_images() -> None:
    clean_s = MARGIN * 0.1 * VAL
    plan = plan_calibration(STEPS, VAL, TRAIN, image_seconds=0.1, seconds=clean_s * 1.1)
    assert plan.steps is not None and not plan.steps.shift and not plan.steps.density
    assert plan.seconds == clean_s and "no shifted copies" in plan.cut


def test_a_budget_too_short_for_any_calibration_skips_it_and_reserves_nothing() -> None:
    plan = plan_calibration(STEPS, VAL, TRAIN, image_seconds=0.1, seconds=1.0)
    assert plan.steps is None and plan.seconds == 0.0
    assert math.isclose(plan.cheapest_s, MARGIN * 0.1 * VAL)
