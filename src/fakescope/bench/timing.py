"""Two pipelines timed in alternating turns, so that a shared machine's load hits both alike.

A turn is one side's unit of work: an epoch, a few training steps, some forward passes, a window
of HTTP load. Rounds alternate which side goes first (baseline first in even rounds, fakescope
first in odd ones), so that drifting load falls on both sides alike, and a side's figure is the
median over its rounds, which a load spike in one round does not move.

CPU time is recorded beside wall time: other jobs on the machine stretch wall time, while the
CPU time a pipeline spends is its own. By default it is this process's plus that of its children
that have exited (DataLoader workers are joined at the end of their epoch); a side served by
another process (an HTTP server) passes a clock reading that process.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fakescope.config import ConfigError

SIDES = ("baseline", "fakescope")


def process_cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that have exited."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass(frozen=True)
class Side:
    """One pipeline. `turn()` does one turn's work and returns how many items (images,
    requests) it handled; `warmup()`, called once before the rounds, pays first-call costs
    (allocations, kernel choices) outside the timing."""

    turn: Callable[[], int]
    warmup: Callable[[], object] | None = None
    cpu_clock: Callable[[], float] = process_cpu_seconds


@dataclass(frozen=True)
class Turn:
    items: int
    wall_s: float
    cpu_s: float

    @property
    def rate(self) -> float:
        """Items per second of wall time."""
        return self.items / max(self.wall_s, 1e-9)

    @property
    def cpu_per_item(self) -> float:
        return self.cpu_s / self.items


@dataclass(frozen=True)
class Comparison:
    """Both sides' turns, round by round."""

    baseline: list[Turn]
    fakescope: list[Turn]

    def turns(self, side: str) -> list[Turn]:
        return self.baseline if side == "baseline" else self.fakescope

    def rate(self, side: str) -> float:
        """Median items per second over the rounds."""
        return statistics.median(t.rate for t in self.turns(side))

    def ms_per_item(self, side: str) -> float:
        """Median milliseconds per item over the rounds (a latency, for batches of one)."""
        return statistics.median(1000.0 * t.wall_s / t.items for t in self.turns(side))

    def cpu_per_item(self, side: str) -> float | None:
        """Median CPU seconds per item over the rounds; None when a clock did not advance in
        some turn (too short to resolve, or no /proc to read a server's time from)."""
        turns = self.turns(side)
        if any(t.cpu_s <= 0 for t in turns):
            return None
        return statistics.median(t.cpu_per_item for t in turns)

    def to_dict(self) -> dict[str, Any]:
        return {
            side: [
                {"items": t.items, "wall_s": round(t.wall_s, 4), "cpu_s": round(t.cpu_s, 4)}
                for t in self.turns(side)
            ]
            for side in SIDES
        }


def _timed(side: Side) -> Turn:
    cpu_before = side.cpu_clock()
    started = time.perf_counter()
    items = side.turn()
    wall = time.perf_counter() - started
    cpu = side.cpu_clock() - cpu_before
    if items < 1:
        raise RuntimeError("a benchmark turn handled no items (is the dataset empty?)")
    return Turn(items, wall, cpu)


def alternate(baseline: Side, fakescope: Side, rounds: int) -> Comparison:
    """Warm both sides up, then time `rounds` turns of each, alternating which goes first."""
    if rounds < 1:
        raise ConfigError(f"rounds must be at least 1, got {rounds}")
    for side in (baseline, fakescope):
        if side.warmup is not None:
            side.warmup()
    turns: dict[str, list[Turn]] = {name: [] for name in SIDES}
    order = [("baseline", baseline), ("fakescope", fakescope)]
    for number in range(rounds):
        for name, side in order if number % 2 == 0 else order[::-1]:
            turns[name].append(_timed(side))
    return Comparison(turns["baseline"], turns["fakescope"])
