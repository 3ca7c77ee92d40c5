"""The run's two logs: one row per iteration (`metrics.csv`) and one per epoch (`epochs.csv`).

Iteration rows are kept in memory and appended in one write per epoch or checkpoint, so the
training loop does no disk I/O per step. Both logs are cut back to the checkpoint's step on
resume, so a resumed run does not log the same iterations twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fakescope.formatting import csv_bytes
from fakescope.runs import MetricsLog

ITERATION_COLUMNS = (
    "step", "epoch", "loss_d", "loss_g", "d_real", "d_fake", "d_fake_after", "noise_std", "r1",
)


class IterationLog:
    """Buffered CSV of per-iteration values with a fixed header."""

    def __init__(self, path: Path, columns: Sequence[str] = ITERATION_COLUMNS) -> None:
        self.path, self.columns = path, tuple(columns)
        self.pending: list[Mapping[str, Any]] = []

    def add(self, row: Mapping[str, Any]) -> None:
        self.pending.append(row)

    def flush(self) -> None:
        if not self.pending:
            return
        new_file = not self.path.is_file() or self.path.stat().st_size == 0
        with self.path.open("ab") as handle:
            handle.write(csv_bytes(self.columns, self.pending, header=new_file))
        self.pending.clear()

    def truncate_after(self, step: int) -> None:
        self.pending.clear()
        if self.path.is_file():
            MetricsLog(self.path).truncate_after("step", step)


def read_series(path: Path, x: str, y: str) -> tuple[list[float], list[float]]:
    """Numeric (x, y) pairs of a CSV log, for the rows where both cells are filled."""
    xs: list[float] = []
    ys: list[float] = []
    if not path.is_file():
        return xs, ys
    for row in MetricsLog(path).read():
        if row.get(x) not in ("", None) and row.get(y) not in ("", None):
            xs.append(float(row[x]))
            ys.append(float(row[y]))
    return xs, ys
