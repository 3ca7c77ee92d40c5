"""How much of the threshold calibration a time budget holds (`fakescope train --max-minutes`).

The calibration that ends a training run scores the validation split and its `SHIFTS` copies
and fits the "unlike the training data" model on features of up to `MAX_TRAIN_IMAGES` training
images: several passes over the data. Under a time budget it gets what the budget has left at
the end (planned before training as `END_WORK_SHARE` of it at most), and is cut down, in this
order, to what fits at the measured pace of a forward pass:

- full: clean and shifted validation images, and the training-data check;
- clean: the temperature, band and threshold on the clean validation images only;
- none: skipped; `fakescope eval --calibrate-threshold RULE` does it afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from fakescope.data.pipeline import PreparedData
from fakescope.evaluate.evaluate import SHIFTS, CalibrationSteps
from fakescope.evaluate.feature_density import MAX_TRAIN_IMAGES

# The pace is the training's validation, in its speed settings (bf16 autocast where native);
# calibration scores in fp32, which took 2-2.5x as long on such a CPU, and shifted copies add
# their perturbation.
MARGIN = 2.5


@dataclass(frozen=True)
class CalibrationPlan:
    """The calibration steps that fit (None: none fits) and the seconds they are expected to
    take (0 when none fits); `cut` says what was left out (empty for the full calibration),
    `cheapest_s` what the cheapest calibration would take."""

    steps: CalibrationSteps | None
    seconds: float
    cut: str
    cheapest_s: float


def calibration_images(val_images: int, train_images: int, steps: CalibrationSteps) -> int:
    """Images `steps` scores: validation (and its shifted copies), training features (capped)
    and validation features again for the training-data check."""
    images = val_images * (1 + (len(SHIFTS) if steps.shift else 0))
    if steps.density:
        images += min(train_images, MAX_TRAIN_IMAGES) + val_images
    return images


def plan_calibration(
    steps: CalibrationSteps,
    val_images: int,
    train_images: int,
    image_seconds: float,
    seconds: float = math.inf,
) -> CalibrationPlan:
    """The most of `steps` that fits in `seconds` at `image_seconds` a forward pass (times
    `MARGIN`): all of it, the clean validation images only, or nothing."""
    clean = replace(steps, shift=False, density=False)
    cheapest = MARGIN * image_seconds * calibration_images(val_images, train_images, clean)
    choices = ((steps, ""), (clean, "clean validation images only: no shifted copies, no "
                                    "training-data check"))
    for choice, cut in choices:
        needed = MARGIN * image_seconds * calibration_images(val_images, train_images, choice)
        if needed <= seconds:
            return CalibrationPlan(choice, needed, cut, cheapest)
    return CalibrationPlan(None, 0.0, "skipped", cheapest)


@dataclass
class BudgetedCalibration:
    """The calibration that ends a training run with a time budget: `seconds` (the trainer's
    `EndWork`) plans it, within `allowance_s`, when the run sets its end reserve; `plan` fits
    it into what the budget has left once training is done."""

    steps: CalibrationSteps
    allowance_s: float = math.inf
    val_images: int = 0
    train_images: int = 0
    image_seconds: float = 0.0

    def seconds(self, prepared: PreparedData, image_seconds: float) -> float:
        self.val_images, self.train_images = prepared.size("val"), prepared.size("train")
        self.image_seconds = image_seconds
        return self.plan(self.allowance_s).seconds

    def plan(self, seconds_left: float) -> CalibrationPlan:
        return plan_calibration(self.steps, self.val_images, self.train_images,
                                self.image_seconds, seconds_left)
