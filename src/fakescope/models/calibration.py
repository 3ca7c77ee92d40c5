"""A detector's calibration as stored in its checkpoint, and how it turns logits into P(fake).

Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017): the
detector's log-odds of fake `z` (the logit of a 1-logit head, the difference fake minus real of
a 2-logit head) is divided by one scalar T fitted on validation data, P(fake) = sigmoid((z - b) /
T). T > 1 softens an over-confident detector; the offset b puts P(fake) = 0.5 at the decision
threshold (0 in checkpoints from before it existed); the ranking of images, and so ROC-AUC, is
unchanged.

The uncertain band is two thresholds on the calibrated P(fake): below `low` the verdict is real,
at or above `high` fake, in between uncertain. A checkpoint without a band has low = high = its
threshold, so the verdict is the plain thresholded label; `band_basis` then says why (older
checkpoints say nothing, and `band_description` says that). Fitting lives in
`fakescope.evaluate.calibrate`; this module depends on torch, NumPy and the checkpoint format
alone, so loading a checkpoint stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np
import torch

from fakescope.checkpoints import CalibrationPayload

VERDICTS = ("real", "uncertain", "fake")
METHODS = ("none", "temperature")


@dataclass(frozen=True)
class Calibration:
    """Temperature, uncertain band and how they were chosen; the identity when never fitted."""

    method: str = "none"  # none | temperature
    temperature: float = 1.0
    # the raw log-odds that calibrate to P(fake) = 0.5: the decision threshold's, so that a
    # picture the threshold calls fake has P(fake) >= 0.5 (0: the detector's own boundary)
    offset: float = 0.0
    band_low: float | None = None  # calibrated P(fake) below which the verdict is real
    band_high: float | None = None  # calibrated P(fake) at or above which it is fake
    # The error rates the band was chosen for: at most this share of fakes falls below `low`,
    # at most this share of reals at or above `high` (on the split it was fitted on).
    target_fake_called_real: float | None = None
    target_real_called_fake: float | None = None
    fitted_on: str = ""  # the split, e.g. "val"
    n: int = 0  # images it was fitted on
    ece_before: float | None = None  # on the fitting split, before and after the temperature
    ece_after: float | None = None
    nll_before: float | None = None
    nll_after: float | None = None
    # How the temperature and band were fitted ("val + blurred, JPEG and resized copies;
    # widened to +-1 log-odds around the threshold"), or why there is no band.
    band_basis: str = ""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown calibration method '{self.method}' (use {METHODS})")
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {self.temperature}")
        if not np.isfinite(self.offset):
            raise ValueError(f"log-odds offset must be a finite number, got {self.offset}")
        if (self.band_low is None) != (self.band_high is None):
            raise ValueError("an uncertain band needs both its low and its high threshold")
        low, high = self.band_low, self.band_high
        if low is not None and high is not None and not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"uncertain band [{low}, {high}] is not within [0, 1]")

    @property
    def has_band(self) -> bool:
        return self.band_low is not None

    def band(self, threshold: float) -> tuple[float, float]:
        """(low, high): the stored band, or (threshold, threshold) without one."""
        if self.band_low is None or self.band_high is None:
            return threshold, threshold
        return self.band_low, self.band_high

    def band_description(self, threshold: float) -> str:
        """One line for a reader: the band and how it was fitted, or why there is none."""
        low, high = self.band(threshold)
        if low < high:
            text = f"uncertain from {low:.1%} to below {high:.1%}"
            return f"{text} ({self.band_basis})" if self.band_basis else text
        why = self.band_basis or "this checkpoint was calibrated without one"
        return f"no uncertain band: {why}"

    def probability(self, log_odds: Any) -> np.ndarray:
        """Calibrated P(fake) from log-odds, in float64 so that it saturates as late as possible
        (float32 rounds every log-odds above ~17 to exactly 1)."""
        z = (np.asarray(log_odds, dtype=np.float64) - self.offset) / self.temperature
        # sigmoid without overflow on either side
        return np.exp(-np.logaddexp(0.0, -z))

    def verdict(self, probability: float, threshold: float) -> str:
        low, high = self.band(threshold)
        if probability >= high:
            return "fake"
        return "real" if probability < low else "uncertain"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_payload(self) -> CalibrationPayload:
        """As stored in a detector checkpoint."""
        return cast(CalibrationPayload, self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Calibration:
        """A stored calibration; None (checkpoints from before calibration) is the identity."""
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def log_odds(logits: torch.Tensor) -> torch.Tensor:
    """The log-odds of fake of a detector's logits, whichever head it has."""
    if logits.shape[-1] == 1:
        return logits[..., 0]
    return logits[..., 1] - logits[..., 0]
