"""Turns made of training steps, shared by the GAN and detector suites."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import torch

from fakescope.bench.context import synchronize
from fakescope.speed import SpeedSettings

Batch = TypeVar("Batch")
Result = TypeVar("Result")


def endless(epoch_batches: Callable[[int], Iterable[Batch]]) -> Iterator[Batch]:
    """The batches of epoch 0, then of epoch 1, and so on, for as long as they are asked for."""
    epoch = 0
    while True:
        yielded = False
        for batch in epoch_batches(epoch):
            yielded = True
            yield batch
        if not yielded:
            raise RuntimeError("an epoch yielded no batches (fewer images than one batch?)")
        epoch += 1


def with_threads(speed: SpeedSettings, action: Callable[[], Result]) -> Callable[[], Result]:
    """`action` run with the thread count `speed` chose, as the trainers run their whole loop."""

    def run() -> Result:
        with speed.thread_count():
            return action()

    return run


def step_turn(step: Callable[[], object], steps: int, items_per_step: int,
              device: torch.device, max_seconds: float) -> Callable[[], int]:
    """A turn of `steps` calls of `step` (batch fetch included), finished on the device; it
    ends early, after one step at least, once it has run `max_seconds`, so that a side made
    pathologically slow (OpenMP threads waiting on a busy machine) costs fewer steps rather
    than many minutes. Its rate stays items over seconds."""

    def turn() -> int:
        started = time.perf_counter()
        done = 0
        while done < steps:
            step()
            done += 1
            if time.perf_counter() - started > max_seconds:
                break
        synchronize(device)
        return done * items_per_step

    return turn
