"""A virtual clock for the speed probe and ThreadWatch, with a core that other work keeps busy.

Timing real steps on a shared 2-core machine cannot show on cue which thread count is faster,
so tests replace `fakescope.speed.clock` with this one: every reading advances it by the seconds
a step takes at the current torch thread count, so a step timed between two readings takes
exactly that. While `busy`, a second thread waits on a descheduled core and two threads are
much slower than one; otherwise two threads are faster.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
import torch

from fakescope import speed

IDLE = {1: 1.5, 2: 1.0}  # seconds per step by thread count, on an idle machine
BUSY = {1: 1.5, 2: 5.0}  # ... and while another process holds one core


class BusyCoreClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.busy = False

    def __call__(self) -> float:
        reading = self.now
        self.now += (BUSY if self.busy else IDLE)[torch.get_num_threads()]
        return reading


def busy_core_during_probe(
    monkeypatch: pytest.MonkeyPatch, trainer_module: ModuleType, probe_name: str
) -> BusyCoreClock:
    """Install a BusyCoreClock whose core is busy only while the trainer's speed probe
    (`trainer_module.probe_name`) runs, with re-checks early enough for a short test run."""
    clock = BusyCoreClock()
    monkeypatch.setattr(speed, "clock", clock)
    monkeypatch.setattr(speed, "RECHECK_SHARE", 0.2)  # re-check after ~10 steps, not ~50
    monkeypatch.setattr(speed, "RECHECK_FIRST_SECONDS", 15.0)
    probe = getattr(trainer_module, probe_name)

    def probe_while_busy(*args: Any, **kwargs: Any) -> Any:
        clock.busy = True  # another process holds one core just while the probe runs
        try:
            return probe(*args, **kwargs)
        finally:
            clock.busy = False

    monkeypatch.setattr(trainer_module, probe_name, probe_while_busy)
    return clock
