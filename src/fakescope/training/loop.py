"""The epoch loop every trainer runs: when it steps, ends an epoch, stops for a signal or for its
time budget. The trainer supplies what each of those means for it (`EpochTrainer`).

Rules, the same for every trainer and every torchrun rank (they decide together):
- a stop request (Ctrl-C, SIGTERM) mid-epoch ends the run after the current step with a
  checkpoint (`interrupt`); on an epoch's last batch the epoch is ended first, then the run;
- a spent time budget mid-epoch cuts the epoch: it is ended with `last=True` and the run stops;
- otherwise each epoch is ended (`end_epoch`) and the next begins while `more_epochs()`;
- with a time budget, the first steps' pace sets what the end of the run keeps
  (`end_reserve_seconds`) and whether the budget leaves enough steps to learn (`warn`), and a
  budget that stops training after too few steps says so.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Protocol

from tqdm import tqdm

from fakescope.distributed import DistContext
from fakescope.speed import SpeedSettings
from fakescope.training.budget import MIN_USEFUL_STEPS, TimeBudget
from fakescope.training.signals import StopRequest, stop_on_signals


@dataclass
class Counters:
    """Where training stands; every trainer's `TrainState` extends it and checkpoints it."""

    step: int = 0  # optimizer steps in total
    epoch: int = 0  # epochs finished
    batch: int = 0  # batches finished in the current epoch


class EpochTrainer(Protocol):
    @property
    def state(self) -> Counters: ...

    def more_epochs(self) -> bool:
        """Whether another epoch is due (the last one not done, no stopping rule met)."""

    def epoch_batches(self) -> Generator[Any, None, None]:
        """The current epoch's batches from `state.batch` on."""

    def step(self, batch: Any) -> None:
        """One training step on `batch`, counted in `state`."""

    def mid_epoch(self) -> bool:
        """Whether batches of the current epoch are left."""

    def end_epoch(self, last: bool) -> None:
        """The epoch's end: its row, outputs and checkpoints. `last`: the time budget ends the
        run here (mid-epoch when it cut the epoch short)."""

    def interrupt(self, signal: str) -> None:
        """Write what resuming needs: a stop request ends the run now."""

    def steps_left(self) -> int:
        """Training steps to the last epoch's end."""

    def end_reserve_seconds(self, step_seconds: float) -> float:
        """What the run's end (final validation or metrics, checkpoints) is expected to take,
        given the pace of training steps."""

    def warn(self, message: str) -> None:
        """Log `message` as a warning and keep it for the run's summary."""


PACE_STEPS = 3  # steps timed, after the first (which pays one-off costs), to plan the budget
PACE_SHARE = 0.05  # or fewer, once they took this share of the budget (slow steps)


@dataclass
class _Pace:
    """Times the first steps of a budgeted run, then plans its end once."""

    budget: TimeBudget
    steps: int = 0
    seconds: list[float] | None = None  # of every step so far, until the plan is made

    def __post_init__(self) -> None:
        self.seconds = [] if self.budget.deadline is not None else None

    def step(self, trainer: EpochTrainer, seconds: float) -> None:
        self.steps += 1
        if self.seconds is None:
            return
        self.seconds.append(seconds)
        timed = self.seconds[1:]
        share = PACE_SHARE * (self.budget.minutes or 0.0) * 60
        if len(timed) == PACE_STEPS or (timed and sum(timed) >= share):
            self.plan(trainer)

    def plan(self, trainer: EpochTrainer) -> None:
        """Set the end-of-run reserve and warn when few steps fit (once, on the pace so far:
        the steps after the first, or the first alone when it is all there is)."""
        if not self.seconds:
            return
        timed = self.seconds[1:] or self.seconds
        pace = sorted(timed)[len(timed) // 2]
        self.seconds = None
        self.budget.reserve_s = trainer.end_reserve_seconds(pace)
        warning = self.budget.few_steps_warning(pace, trainer.steps_left())
        if warning:
            trainer.warn(warning)

    def ended(self, trainer: EpochTrainer) -> None:
        if self.steps < MIN_USEFUL_STEPS and trainer.steps_left() > 0:
            trainer.warn(f"the time budget ended training after {self.steps} steps; under "
                         f"{MIN_USEFUL_STEPS} a model learns next to nothing (--resume goes on)")


@dataclass(frozen=True)
class LoopEnd:
    interrupted: str | None = None  # the signal that stopped the run
    budget_spent: bool = False


def run_epochs(
    trainer: EpochTrainer, dist: DistContext, budget: TimeBudget, speed: SpeedSettings
) -> LoopEnd:
    """Train until `trainer` has no epoch left, a signal stops it or `budget` is spent."""
    stop = StopRequest()
    pace = _Pace(budget)
    with stop_on_signals(stop), speed.thread_count():
        while trainer.more_epochs():
            cut = False
            with closing(trainer.epoch_batches()) as batches:
                for batch in batches:
                    started = budget.now()
                    trainer.step(batch)
                    pace.step(trainer, budget.now() - started)
                    if not trainer.mid_epoch():
                        continue
                    if dist.any(stop.signal is not None):
                        return _interrupt(trainer, stop)
                    if budget.spent(dist):
                        cut = True
                        break
            pace.plan(trainer)  # an epoch shorter than the paced steps, or a spent budget
            spent = cut or budget.spent(dist)
            if spent:
                pace.ended(trainer)
            trainer.end_epoch(last=spent)
            if dist.any(stop.signal is not None):
                return _interrupt(trainer, stop)
            if spent:
                return LoopEnd(budget_spent=True)
    return LoopEnd()


def _interrupt(trainer: EpochTrainer, stop: StopRequest) -> LoopEnd:
    signal = stop.signal or "SIGTERM"  # another rank received it
    trainer.interrupt(signal)
    return LoopEnd(interrupted=signal)


def epoch_bar(total: int, initial: int, epoch: int, epochs: int, enabled: bool) -> tqdm:
    """The progress bar of one epoch (batches), counted on by its trainer."""
    return tqdm(total=total, initial=initial, leave=False, desc=f"epoch {epoch + 1}/{epochs}",
                unit="batch", disable=not enabled)
