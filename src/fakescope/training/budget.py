"""A time budget for training (`train.max_minutes`), on wall time or this process's CPU time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from fakescope.distributed import DistContext

BudgetClock = Literal["wall", "cpu"]


def clock_seconds(kind: BudgetClock) -> float:
    """Seconds on the clock a budget is counted on: wall time, or this process's CPU time (all
    its threads), which other jobs on a shared machine do not eat into."""
    return time.process_time() if kind == "cpu" else time.perf_counter()


@dataclass
class TimeBudget:
    """`minutes` (None: no budget) counted on `clock` from `start`."""

    minutes: float | None
    clock: BudgetClock = "wall"
    deadline: float | None = None

    def now(self) -> float:
        return clock_seconds(self.clock)

    def start(self, at: float | None = None) -> None:
        """Count from `at`, a time of this clock (by default now)."""
        if self.minutes is not None:
            self.deadline = (self.now() if at is None else at) + self.minutes * 60

    def left(self) -> float:
        return float("inf") if self.deadline is None else max(0.0, self.deadline - self.now())

    def spent(self, dist: DistContext) -> bool:
        """Whether the budget has run out, agreed by every rank. Without a budget no rank asks
        the others (every rank has the same config): no collective per iteration."""
        if self.deadline is None:
            return False
        return dist.any(self.now() >= self.deadline)
