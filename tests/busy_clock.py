"""A virtual clock for the speed probe and ThreadWatch, with a core that other work keeps busy.

Timing real steps on a shared 2-core machine cannot show on cue which thread count is faster,
so tests replace `fakescope.speed.clock` with this one: every reading advances it by the seconds
a step takes at the current torch thread count, so a step timed between two readings takes
exactly that. While `busy`, a second thread waits on a descheduled core and two threads are
much slower than one; otherwise two threads are faster.
"""

from __future__ import annotations

import torch

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
