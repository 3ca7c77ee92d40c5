"""Held-out-family fold calibration from pooled scores (`fit_calibration(folds=...)`): a
detector that separates the family it saw but is unsure of one it never saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fakescope.data.layouts import fake_family
from fakescope.errors import DataError
from fakescope.evaluate.calibrate import BandTargets, fit_calibration, fold_scores, pool_folds
from fakescope.evaluate.threshold import ThresholdRule
from fakescope.metrics import expected_calibration_error

RULE = ThresholdRule("fpr", 0.05)


def _scores(rng: np.random.Generator, n: int, real: float, fake: float,
            spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    labels = np.r_[np.zeros(n), np.ones(n)].astype(np.int64)
    return labels, np.r_[rng.normal(real, 1.0, n), rng.normal(fake, spread, n)]


def _fold(rng: np.random.Generator, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """A fold model's validation scores: reals and seen fakes separated, held-out family's
    fakes near its threshold; all moved by `shift` (another model, another scale)."""
    y, z = _scores(rng, 200, -4.0, 4.0)
    unseen = rng.normal(-1.5, 2.0, 200)
    held_out = np.r_[np.zeros(400, bool), np.ones(200, bool)]
    return fold_scores(np.r_[y, np.ones(200, np.int64)], np.r_[z, unseen] + shift, held_out, RULE)


def test_fold_fit_is_better_calibrated_on_an_unseen_family() -> None:
    rng = np.random.default_rng(0)
    labels, log_odds = _scores(rng, 200, -4.0, 4.0)  # the final model's own validation split
    plain, plain_threshold = fit_calibration(labels, log_odds, "val", BandTargets(), RULE)
    folds = pool_folds({"a": _fold(rng, 0.0), "b": _fold(rng, 3.0)})
    folded, threshold = fit_calibration(labels, log_odds, "val", BandTargets(), RULE,
                                        folds=folds)
    # the offset and threshold still come from the model's own split...
    assert folded.offset == plain.offset and threshold == plain_threshold
    # ...the temperature from the unseen families: softer
    assert folded.temperature > 1.5 * plain.temperature
    # the final model on a family it never saw (its scores like the folds' held-out ones)
    y, z = _scores(rng, 1000, -4.0, -1.5, 2.0)
    before = expected_calibration_error(y, plain.probability(z), 15)
    after = expected_calibration_error(y, folded.probability(z), 15)
    assert after < 0.8 * before
    # the band reaches down to where unseen fakes fall
    assert folded.band(threshold)[0] < plain.band(threshold)[0]
    assert "held-out-family folds (2 folds: a, b)" in folded.band_basis


def test_fold_scores_are_measured_from_the_fold_models_threshold() -> None:
    rng = np.random.default_rng(1)
    labels, anchored = _fold(rng, 0.0)
    rng = np.random.default_rng(1)
    moved = _fold(rng, 5.0)[1]
    assert labels.tolist().count(1) == 200 and labels.tolist().count(0) == 200
    assert np.allclose(anchored, moved)  # a shifted model gives the same anchored scores


def test_folds_need_two_families_and_unseen_fakes() -> None:
    rng = np.random.default_rng(2)
    with pytest.raises(DataError, match="at least two families"):
        pool_folds({"a": _fold(rng, 0.0)})
    y, z = _scores(rng, 10, -1.0, 1.0)
    with pytest.raises(DataError, match="held-out family"):
        fold_scores(y, z, np.zeros(20, bool), RULE)


@pytest.mark.parametrize(("path", "family"), [
    ("set/fake/dcgan/0001.png", "dcgan"),
    ("/abs/Train/1_fake/small_data/x/0001.png", "small_data"),
    ("data/fake/0001.png", None),
    ("data/real/dcgan/0001.png", None),
    ("fake/fake/gan/a.png", "gan"),
])
def test_fake_family_is_the_folder_inside_the_class_folder(path: str, family: str | None) -> None:
    assert fake_family(Path(path)) == family
