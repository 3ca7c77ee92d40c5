"""The layout of a multi-generator set (`fakescope data multigen`): what the builder
(`fakescope.workflows.multigen`) writes and the cross-generator matrix
(`fakescope.evaluate.xgen`) reads."""

from __future__ import annotations

from collections.abc import Sequence

MANIFEST_CSV, MANIFEST_JSON, FAMILY_FILE, REALS_FILE = (
    "manifest.csv", "manifest.json", "family.json", "reals.json"
)  # fmt: skip
MANIFEST_COLUMNS = ("path", "label", "split", "family", "checkpoint", "seed")
REAL_FAMILY = "real"
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def split_of(index: int, n: int, fractions: Sequence[float] = SPLIT_FRACTIONS) -> str:
    """train / val / test for the index-th of n items, by cumulative fractions."""
    train_end = round(n * fractions[0])
    val_end = train_end + round(n * fractions[1])
    return "train" if index < train_end else "val" if index < val_end else "test"
