"""A time budget for training (`train.max_minutes`), on wall time or this process's CPU time.

One rule for every trainer: the budget covers the whole invocation, counted from its start
(the CLI counts from its process's start: imports, data preparation, the speed probe,
training, validation and the end-of-run work). The speed probe gets at most `PROBE_SHARE` of
it, and none under `MIN_PROBE_SECONDS` (its first step alone may cost that on a busy machine:
short runs train with the default settings); training stops early enough to leave `reserve_s`, the
end-of-run work's expected cost; and a budget that leaves fewer than `MIN_USEFUL_STEPS`
training steps (where the epochs alone would allow more) gets a warning that says how many.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fakescope.distributed import DistContext

BudgetClock = Literal["wall", "cpu"]
PROBE_SHARE = 0.10  # of the budget, at most, for timing speed settings
MIN_PROBE_SECONDS = 30.0  # a smaller share is skipped: budgets under 5 minutes do not probe
MIN_USEFUL_STEPS = 100  # fewer training steps than this learn next to nothing
# Work between training steps (validation, sample grids, collapse checks, plots) may take this
# share of a budget: past it, validation scores a spread subset of its batches and periodic
# outputs wait until training has run long enough to pay for them.
SIDE_WORK_SHARE = 0.10
# The end of a run beyond its checkpoint (the detector's final validation and threshold
# calibration, the GAN's quality metrics) may take this share of a budget: past it, that work is
# cut down or skipped, and the run says which command does it afterwards.
END_WORK_SHARE = 0.10


def clock_seconds(kind: BudgetClock) -> float:
    """Seconds on the clock a budget is counted on: wall time, or this process's CPU time (all
    its threads), which other jobs on a shared machine do not eat into."""
    return time.process_time() if kind == "cpu" else time.perf_counter()


def process_start(kind: BudgetClock) -> float:
    """The time of clock `kind` when this process started: CPU time counts from 0 there; wall
    time from the process's age in Linux's /proc (elsewhere, from now)."""
    if kind == "cpu":
        return 0.0
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        age = uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        age = 0.0
    return clock_seconds(kind) - max(0.0, age)


@dataclass
class TimeBudget:
    """`minutes` (None: no budget) counted on `clock` from `start`; training stops `reserve_s`
    before the deadline, the time its end-of-run work is expected to take."""

    minutes: float | None
    clock: BudgetClock = "wall"
    deadline: float | None = None
    reserve_s: float = 0.0

    def now(self) -> float:
        return clock_seconds(self.clock)

    def start(self, at: float | None = None) -> None:
        """Count from `at`, a time of this clock (by default now)."""
        if self.minutes is not None:
            self.deadline = (self.now() if at is None else at) + self.minutes * 60

    def left(self) -> float:
        return float("inf") if self.deadline is None else max(0.0, self.deadline - self.now())

    def probe_seconds(self) -> float | None:
        """How long the speed probe may take: `PROBE_SHARE` of the budget, 0 when that is under
        `MIN_PROBE_SECONDS` (None: no budget, no limit)."""
        if self.minutes is None:
            return None
        share = min(PROBE_SHARE * self.minutes * 60, self.left())
        return share if share >= MIN_PROBE_SECONDS else 0.0

    def training_left(self) -> float:
        """Seconds training may still take before the end-of-run reserve."""
        return max(0.0, self.left() - self.reserve_s)

    def spent(self, dist: DistContext) -> bool:
        """Whether training must stop (only the reserve is left), agreed by every rank. Without a
        budget no rank asks the others (every rank has the same config): no collective per
        iteration."""
        if self.deadline is None:
            return False
        return dist.any(self.now() >= self.deadline - self.reserve_s)

    def few_steps_warning(self, step_seconds: float, steps_planned: int) -> str | None:
        """A warning when, at `step_seconds` a step, the budget leaves fewer than
        `MIN_USEFUL_STEPS` training steps while the epochs would allow more; None otherwise."""
        if self.deadline is None or step_seconds <= 0:
            return None
        fit = int(self.training_left() / step_seconds)
        if fit >= min(MIN_USEFUL_STEPS, steps_planned):
            return None
        return (f"the {self.minutes:g}-minute budget leaves time for about {fit} training steps "
                f"({step_seconds:.2g} s each, {self.reserve_s:.0f} s kept for the end of the "
                f"run); under {MIN_USEFUL_STEPS} steps a model learns next to nothing: raise "
                "--max-minutes or continue later with --resume")
