"""Picking the scoring batch size: a short timed probe on the scan's first real pictures.

The fastest batch size depends on the detector, the device and the cores a scoring actor has,
so each actor times its scoring function on its first pictures at a few sizes and keeps the
fastest (`--batch-size N` skips the probe). The probe's own scores are kept: its cost is the
repeats only, a fraction of a second for a small detector.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

PROBE_SIZES = (16, 32, 64, 128)
REPEATS = 3  # the fastest of three timings: other work on the machine only ever slows a try


@dataclass(frozen=True)
class Probe:
    """The batch size chosen and the seconds per picture measured at each size tried."""

    batch_size: int
    seconds_per_picture: dict[int, float]


def probe_batch_size(
    score: Callable[[Sequence[np.ndarray], int], list[float]],
    pictures: Sequence[np.ndarray],
    sizes: Sequence[int] = PROBE_SIZES,
) -> tuple[Probe, list[float]]:
    """Time `score(pictures, batch_size)` at each size of `sizes` no larger than the pictures
    (the smallest size always), keep the fastest; returns the probe and the pictures' scores."""
    tried = [s for s in sizes if s <= len(pictures)] or [min(sizes)]
    timings = dict.fromkeys(tried, float("inf"))
    scores: list[float] = []
    for _ in range(REPEATS):  # sizes in turn, so a burst of other work slows one try of each
        for size in tried:
            started = time.perf_counter()
            scores = score(pictures, size)
            seconds = (time.perf_counter() - started) / max(1, len(pictures))
            timings[size] = min(timings[size], seconds)
    chosen = min(timings, key=lambda size: timings[size])
    return Probe(chosen, timings), scores
