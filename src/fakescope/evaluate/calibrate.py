"""Fitting a detector's calibration on validation scores, and storing it in its checkpoint.

    calibration = fit_calibration(labels, log_odds, "val", BandTargets(0.05, 0.05))
    probs = calibration.probability(log_odds)          # calibrated P(fake)

The temperature minimises the negative log-likelihood of the validation labels (one bounded
scalar search over log T with scipy), with Platt's smoothed targets ((N+ + 1) / (N+ + 2) for fakes,
1 / (N- + 2) for reals): on a split the detector separates perfectly, plain likelihood keeps
rising as T shrinks and would sharpen every probability to 0 or 1; the smoothed targets stop it
where a split of that size can vouch for. The uncertain band is then chosen on the calibrated
probabilities of the same split for target error rates: `high` is the loosest threshold at
which at most `real_called_fake` of the reals score at or above it, `low` the strictest at
which at most `fake_called_real` of the fakes score below it. The band always contains the
decision threshold, so the thresholded label and the verdict never contradict each other.

Anchor: the temperature is fitted to log-odds measured from an offset, the raw log-odds at which
the threshold rule (`fpr:0.05`, `eer`, `f1`) puts its threshold, so the threshold calibrates to
P(fake) = 0.5 and a picture called fake reads as more likely fake than not. Without it, a split the
detector separates perfectly lets the rule put the threshold far below the detector's own
boundary: fakes of a generator it never saw then land between the two, called fake at P(fake) =
0.1, and the probabilities contradict the verdicts they come with.

Shift: a detector meets pictures unlike its validation split (other generators, re-encoded,
blurred or resized copies), where the probabilities fitted on clean validation images are
over-confident. Given `shifted` scores (the same validation images blurred, JPEG-compressed and
resized, `fakescope.evaluate.evaluate.SHIFTS`), the temperature and the band are fitted on the
clean and shifted scores together; the threshold is still chosen on the clean ones, so a rule
such as `fpr:0.05` keeps its meaning. Finally the band is widened to at least
`MIN_BAND_LOG_ODDS` on either side of the threshold (in calibrated log-odds): a split the
detector separates perfectly would otherwise give a band of width zero, and "uncertain" would
never show however close a picture falls to the threshold.

Held-out-family folds: with two or more fake families, a detector trained on all of them has no
validation fakes of a generator it never saw. `fakescope.workflows.family_folds` trains one fold
model per family on the others and scores, with it, the validation reals and the held-out
family's validation fakes (`FoldLogits`; each fold's log-odds are measured from that fold
model's own anchor, the raw log-odds where `rule` puts its threshold on its own validation
split, so every fold's threshold sits at 0 as the final model's does after its offset). Given
`folds`, the final model keeps its offset and its threshold from its own clean validation split,
and the temperature and the band are fitted on the pooled fold scores (plus the shifted copies
when given) instead of on its clean validation split: they then describe pictures of a
generator the model did not train on, the case a user meets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from fakescope.config import ConfigError
from fakescope.errors import DataError
from fakescope.evaluate.threshold import ThresholdRule, choose_threshold
from fakescope.metrics import both_classes, expected_calibration_error
from fakescope.models.calibration import Calibration

# log T is searched within these bounds: T from 1/150 to 150 covers any detector that is
# better than chance (an unbounded search runs off to infinity on a useless one).
_LOG_T_BOUNDS = (-5.0, 5.0)
RELIABILITY_BINS = 15
# The narrowest band: P(fake) within 1 nat of log-odds of the threshold is uncertain (a
# threshold of 0.5 gives 26.9 % to 73.1 %).
MIN_BAND_LOG_ODDS = 1.0


@dataclass(frozen=True)
class BandTargets:
    """Error rates the uncertain band is chosen for (shares of a class, in [0, 1))."""

    fake_called_real: float = 0.05  # at most this share of fakes below `low`
    real_called_fake: float = 0.05  # at most this share of reals at or above `high`

    def __post_init__(self) -> None:
        for name in ("fake_called_real", "real_called_fake"):
            rate = getattr(self, name)
            if not 0.0 <= rate < 1.0:
                raise ConfigError(f"uncertain band target {name}={rate} must be in [0, 1)")


def negative_log_likelihood(targets: np.ndarray, log_odds: np.ndarray, temperature: float) -> float:
    """Mean binary cross-entropy of sigmoid(log_odds / T) against targets in [0, 1] (labels, or
    smoothed labels), computed stably from the log-odds."""
    z = log_odds / temperature
    return float(np.mean(targets * np.logaddexp(0.0, -z) + (1.0 - targets) * np.logaddexp(0.0, z)))


def platt_targets(labels: np.ndarray) -> np.ndarray:
    """Platt's targets: a fake counts (N+ + 1) / (N+ + 2), a real 1 / (N- + 2)."""
    fakes = float(np.sum(labels == 1))
    reals = float(labels.size - fakes)
    return np.where(labels == 1, (fakes + 1.0) / (fakes + 2.0), 1.0 / (reals + 2.0))


def anchor_offset(labels: Any, log_odds: Any, rule: ThresholdRule) -> float:
    """The raw log-odds where `rule` puts the threshold (0 for a fixed threshold, which is a
    probability, not a place among the scores). Chosen on squashed scores that cannot round to
    0 or 1, and mapped back, since the rules only compare scores with each other."""
    if rule.method == "fixed":
        return 0.0
    z = np.asarray(log_odds, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(z))) / 30.0)
    squashed = 1.0 / (1.0 + np.exp(-z / scale))
    p = min(max(choose_threshold(labels, squashed, rule), 1e-15), 1 - 1e-15)
    return float(scale * (np.log(p) - np.log1p(-p)))


def fit_temperature(labels: Any, log_odds: Any) -> float:
    """The temperature T > 0 that minimises the NLL of sigmoid(log_odds / T) on these labels'
    Platt targets."""
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    z = np.asarray(log_odds, dtype=np.float64).reshape(-1)
    if y.size != z.size or y.size == 0:
        raise ValueError(f"{y.size} labels but {z.size} log-odds")
    if not both_classes(y):
        raise DataError("temperature scaling needs both real and fake images")
    if not np.isfinite(z).all():
        raise ValueError("log-odds must be finite")
    if not np.any(z):
        return 1.0  # a constant-zero detector: every temperature gives the same probabilities
    targets = platt_targets(y)
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(targets, z, float(np.exp(log_t))),
        bounds=_LOG_T_BOUNDS,
        method="bounded",
    )
    return float(np.exp(result.x))


def uncertain_band(
    labels: Any, probs: Any, threshold: float, targets: BandTargets
) -> tuple[float, float]:
    """(low, high) on these P(fake) for the target error rates, widened to hold `threshold`."""
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    high = choose_threshold(y, p, ThresholdRule("fpr", targets.real_called_fake))
    fakes = np.sort(p[y == 1])
    # The k-th smallest fake score (0-based) has at most k fakes strictly below it.
    k = int(np.floor(targets.fake_called_real * fakes.size))
    low = float(fakes[min(k, fakes.size - 1)])
    return min(low, threshold), max(high, threshold)


def widen_band(
    low: float, high: float, threshold: float, margin: float = MIN_BAND_LOG_ODDS
) -> tuple[float, float]:
    """(low, high) widened, where narrower, to `margin` log-odds either side of `threshold`."""
    centre = float(np.log(threshold) - np.log1p(-threshold))
    floor = float(1.0 / (1.0 + np.exp(-(centre - margin))))
    ceiling = float(1.0 / (1.0 + np.exp(-(centre + margin))))
    return min(low, floor), max(high, ceiling)


@dataclass(frozen=True)
class FoldLogits:
    """Pooled scores of held-out-family fold models: labels, and log-odds each measured from
    its fold model's anchor (`fold_scores`), with the families held out, one per fold."""

    labels: np.ndarray
    log_odds: np.ndarray
    families: tuple[str, ...]

    def describe(self) -> str:
        return (f"held-out-family folds ({len(self.families)} folds: "
                f"{', '.join(self.families)})")


def fold_scores(
    labels: Any, log_odds: Any, held_out: Any, rule: ThresholdRule
) -> tuple[np.ndarray, np.ndarray]:
    """One fold model's scores of a validation split, reduced to what fold calibration uses:
    (labels, log-odds) of its reals and of the fakes of the family it never saw (`held_out`
    marks them), measured from its anchor on the reals and the fakes it did see."""
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    z = np.asarray(log_odds, dtype=np.float64).reshape(-1)
    unseen = np.asarray(held_out, dtype=bool).reshape(-1) & (y == 1)
    seen = ~unseen
    if not both_classes(y[seen]) or not unseen.any():
        raise DataError("a fold needs reals, fakes it trained on and fakes of its held-out family")
    offset = anchor_offset(y[seen], z[seen], rule)
    kept = (y == 0) | unseen
    return y[kept], z[kept] - offset


def pool_folds(parts: dict[str, tuple[np.ndarray, np.ndarray]]) -> FoldLogits:
    """The `fold_scores` of every fold (family held out -> scores) as one `FoldLogits`."""
    if len(parts) < 2:
        raise DataError(f"held-out-family folds need at least two families, got {len(parts)}")
    return FoldLogits(np.concatenate([y for y, _ in parts.values()]),
                      np.concatenate([z for _, z in parts.values()]), tuple(parts))


def fit_calibration(
    labels: Any,
    log_odds: Any,
    split: str,
    targets: BandTargets | None,
    rule: ThresholdRule,
    temperature_scaling: bool = True,
    shifted: tuple[Any, Any, str] | None = None,
    min_band: float = MIN_BAND_LOG_ODDS,
    anchor: bool = True,
    folds: FoldLogits | None = None,
) -> tuple[Calibration, float]:
    """(calibration, threshold) fitted on one split: the temperature (or 1 without
    `temperature_scaling`), the decision threshold `rule` picks on the calibrated probabilities,
    and the uncertain band for `targets` (none when `targets` is None), at least `min_band`
    log-odds either side of the threshold. `shifted` is (labels, log-odds, description) of
    perturbed copies of the split, fitted together with it. With `anchor` (and temperature
    scaling), the threshold's raw log-odds become P(fake) = 0.5 (`Calibration.offset`). With
    `folds`, the temperature and band are fitted on them (and `shifted`) in place of the split
    itself, which still sets the offset and the threshold."""
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    z = np.asarray(log_odds, dtype=np.float64).reshape(-1)
    if not both_classes(y):
        raise DataError(f"calibrating on '{split}' needs both real and fake images there")
    offset = anchor_offset(y, z, rule) if anchor and temperature_scaling else 0.0
    fit_y, fit_z, basis = y, z, split
    if folds is not None:  # measured from the fold models' thresholds: moved to this one's
        fit_y, fit_z = folds.labels, folds.log_odds + anchor_offset(y, z, rule)
        basis = folds.describe()
    if shifted is not None:
        fit_y = np.concatenate([fit_y, np.asarray(shifted[0], dtype=np.int64).reshape(-1)])
        fit_z = np.concatenate([fit_z, np.asarray(shifted[1], dtype=np.float64).reshape(-1)])
        basis = f"{basis} + {shifted[2]}"
    temperature = fit_temperature(fit_y, fit_z - offset) if temperature_scaling else 1.0
    method = "temperature" if temperature_scaling else "none"
    before = Calibration()
    after = Calibration(method=method, temperature=temperature, offset=offset)
    probs = after.probability(z)
    threshold = choose_threshold(y, probs, rule)
    low = high = None
    if targets is not None:
        low, high = widen_band(
            *uncertain_band(fit_y, after.probability(fit_z), threshold, targets), threshold,
            min_band,
        )  # fmt: skip
        basis = f"fitted on {basis}"
        if min_band > 0:
            basis += f", at least {min_band:g} log-odds either side of the threshold"
    else:
        basis = "calibrated without a band (--no-uncertain-band)" + (
            f"; temperature fitted on {folds.describe()}" if folds is not None else "")
    calibration = Calibration(
        method=method,
        temperature=temperature,
        offset=offset,
        band_low=low,
        band_high=high,
        target_fake_called_real=targets.fake_called_real if targets else None,
        target_real_called_fake=targets.real_called_fake if targets else None,
        fitted_on=split,
        n=int(y.size),
        ece_before=expected_calibration_error(y, before.probability(z), RELIABILITY_BINS),
        ece_after=expected_calibration_error(y, probs, RELIABILITY_BINS),
        nll_before=negative_log_likelihood(y, z, 1.0),
        nll_after=negative_log_likelihood(y, z - offset, temperature),
        band_basis=basis,
    )
    return calibration, threshold
