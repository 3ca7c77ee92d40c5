"""Deterministic stratified splits and the papers' subset limits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fakescope.data.layouts import FAKE, REAL, Sample
from fakescope.data.splits import apply_limits, assign_splits


def _samples(n_real: int, n_fake: int) -> list[Sample]:
    return [Sample(Path(f"r{i:04d}.jpg"), REAL) for i in range(n_real)] + [
        Sample(Path(f"f{i:04d}.jpg"), FAKE) for i in range(n_fake)
    ]


def test_split_is_stratified_and_complete() -> None:
    samples = assign_splits(_samples(100, 60), (0.8, 0.1, 0.1), seed=0)
    counts = Counter((s.split, s.label) for s in samples)
    assert counts == {
        ("train", REAL): 80,
        ("val", REAL): 10,
        ("test", REAL): 10,
        ("train", FAKE): 48,
        ("val", FAKE): 6,
        ("test", FAKE): 6,
    }
    assert len({s.path for s in samples}) == 160


def test_split_depends_on_seed_and_files_not_listing_order() -> None:
    a = assign_splits(_samples(50, 50), (0.8, 0.1, 0.1), seed=1)
    b = assign_splits(list(reversed(_samples(50, 50))), (0.8, 0.1, 0.1), seed=1)
    c = assign_splits(_samples(50, 50), (0.8, 0.1, 0.1), seed=2)
    split_of = lambda xs: {s.path: s.split for s in xs}  # noqa: E731
    assert split_of(a) == split_of(b)
    assert split_of(a) != split_of(c)


def test_layout_splits_are_kept() -> None:
    given = [Sample(Path("a.jpg"), REAL, "test"), Sample(Path("b.jpg"), FAKE, "train")]
    assert assign_splits(given, (0.8, 0.1, 0.1), seed=0) == given


def test_tiny_class_still_gets_a_validation_image() -> None:
    samples = assign_splits(_samples(3, 3), (0.8, 0.1, 0.1), seed=0)
    assert Counter(s.split for s in samples)["val"] == 2


def test_limits_per_class_per_split_and_fraction() -> None:
    samples = assign_splits(_samples(100, 100), (0.8, 0.1, 0.1), seed=0)
    limited = apply_limits(samples, per_class=30, fraction=None, seed=0)
    counts = Counter((s.split, s.label) for s in limited)
    assert counts[("train", REAL)] == 30 and counts[("val", FAKE)] == 10
    tenth = apply_limits(samples, per_class=None, fraction=0.1, seed=0)
    assert Counter((s.split, s.label) for s in tenth)[("train", FAKE)] == 8
    # A seeded draw, stable, and not simply the first files.
    assert apply_limits(samples, 30, None, 0) == limited
    train_real = sorted(str(s.path) for s in limited if s.split == "train" and s.label == REAL)
    first = sorted(str(s.path) for s in samples if s.split == "train" and s.label == REAL)[:30]
    assert train_real != first


@pytest.mark.parametrize(("per_class", "fraction"), [(0, None), (None, 0.0), (None, 1.5)])
def test_bad_limits(per_class: int | None, fraction: float | None) -> None:
    with pytest.raises(ValueError, match="limit"):
        apply_limits(_samples(2, 2), per_class, fraction, 0)


def test_bad_fractions() -> None:
    with pytest.raises(ValueError, match="split_fractions"):
        assign_splits(_samples(2, 2), (0.5, -0.5, 1.0), 0)
