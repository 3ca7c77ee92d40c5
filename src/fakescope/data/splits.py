"""Deterministic stratified splits and the papers' subset limits."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import replace

import numpy as np

from fakescope.config import ConfigError
from fakescope.data.layouts import SPLITS, Sample


def _rng(seed: int, *keys: object) -> np.random.Generator:
    """A generator seeded from `seed` and `keys`, independent of Python's hash randomisation."""
    digest = hashlib.sha256(repr((seed, *keys)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _shuffled(samples: list[Sample], seed: int, *keys: object) -> list[Sample]:
    """Sort by path first, so the result depends on the files, not on listing order."""
    ordered = sorted(samples, key=lambda s: str(s.path))
    order = _rng(seed, *keys).permutation(len(ordered))
    return [ordered[i] for i in order]


def assign_splits(
    samples: list[Sample], fractions: tuple[float, float, float], seed: int
) -> list[Sample]:
    """Give every split-less sample a split, stratified by label; same files + seed, same split.

    Samples that already have a split (from the layout) keep it.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ConfigError(f"split_fractions must be three non-negative numbers, got {fractions}")
    total = sum(fractions)
    shares = [f / total for f in fractions]
    keep = [s for s in samples if s.split is not None]
    by_label: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        if s.split is None:
            by_label[s.label].append(s)
    for label, group in sorted(by_label.items()):
        group = _shuffled(group, seed, "split", label)
        n = len(group)
        n_train = round(n * shares[0])
        n_val = round(n * shares[1])
        if shares[1] > 0 and n_val == 0 and n - n_train >= 1:
            n_val = 1  # a tiny class still gets one validation image
        bounds = {
            "train": (0, n_train),
            "val": (n_train, n_train + n_val),
            "test": (n_train + n_val, n),
        }
        for split in SPLITS:
            start, stop = bounds[split]
            keep.extend(replace(s, split=split) for s in group[start:stop])
    return keep


def apply_limits(
    samples: list[Sample], per_class: int | None, fraction: float | None, seed: int
) -> list[Sample]:
    """Keep at most `per_class` images, and/or this `fraction`, of each (split, label) group.

    The papers' subsets: 1,000 images (paper 000), 29,500 per class (paper 001), 10% for the
    hyper-parameter search (paper 002). The kept images are a seeded random draw, not the first
    files in the folder, so a limit does not bias towards one identity or generator.
    """
    if per_class is None and fraction is None:
        return samples
    if per_class is not None and per_class < 1:
        raise ConfigError(f"limit_per_class must be at least 1, got {per_class}")
    if fraction is not None and not 0 < fraction <= 1:
        raise ConfigError(f"limit_fraction must be in (0, 1], got {fraction}")
    groups: dict[tuple[str | None, int], list[Sample]] = defaultdict(list)
    for s in samples:
        groups[(s.split, s.label)].append(s)
    kept: list[Sample] = []
    for (split, label), group in sorted(groups.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        n = len(group)
        if fraction is not None:
            n = max(1, round(n * fraction))
        if per_class is not None:
            n = min(n, per_class)
        kept.extend(_shuffled(group, seed, "limit", split, label)[:n])
    return kept
