"""The training skeleton's loop rules, on a trainer that only counts (no network)."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Generator
from pathlib import Path

import pytest

from fakescope.config import JobConfig, RunConfig
from fakescope.distributed import DistContext
from fakescope.runs import LOG_FILE
from fakescope.speed import SpeedSettings
from fakescope.training.budget import (
    MIN_USEFUL_STEPS,
    PROBE_SHARE,
    TimeBudget,
    clock_seconds,
    process_start,
)
from fakescope.training.loop import Counters, run_epochs
from fakescope.training.session import resolve_speed, training_session


class Counting:
    """Records what the loop asks of it; sends itself SIGTERM at `stop_at` (a step number)."""

    def __init__(self, epochs: int, batches: int, stop_at: int | None = None) -> None:
        self.state = Counters()
        self.epochs, self.batches, self.stop_at = epochs, batches, stop_at
        self.calls: list[str] = []
        self.warnings: list[str] = []
        self.reserve = 0.0  # what end_reserve_seconds answers
        self.step_sleep = 0.0  # wall seconds each step takes

    def more_epochs(self) -> bool:
        return self.state.epoch < self.epochs

    def mid_epoch(self) -> bool:
        return self.state.batch < self.batches

    def epoch_batches(self) -> Generator[int, None, None]:
        yield from range(self.state.batch, self.batches)

    def step(self, batch: int) -> None:
        if self.step_sleep:
            time.sleep(self.step_sleep)
        self.state.step += 1
        self.state.batch += 1
        if self.state.step == self.stop_at:
            os.kill(os.getpid(), signal.SIGTERM)

    def end_epoch(self, last: bool) -> None:
        self.calls.append(f"end {self.state.step}{' last' if last else ''}")
        if self.state.batch == self.batches:
            self.state.epoch, self.state.batch = self.state.epoch + 1, 0

    def interrupt(self, signal: str) -> None:
        self.calls.append(f"{signal} {self.state.step}")

    def steps_left(self) -> int:
        return self.epochs * self.batches - self.state.step

    def end_reserve_seconds(self, step_seconds: float) -> float:
        self.calls.append("plan")
        return self.reserve

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def run(trainer: Counting, minutes: float | None = None) -> tuple[str | None, bool]:
    budget = TimeBudget(minutes)
    budget.start()
    end = run_epochs(trainer, DistContext(), budget, SpeedSettings())
    return end.interrupted, end.budget_spent


def test_every_epoch_ends_once_without_a_stop() -> None:
    trainer = Counting(epochs=2, batches=3)
    assert run(trainer) == (None, False)
    assert trainer.calls == ["end 3", "end 6"]


def test_a_signal_mid_epoch_interrupts_after_that_step_and_the_handler_comes_back() -> None:
    handler = signal.getsignal(signal.SIGTERM)
    trainer = Counting(epochs=2, batches=3, stop_at=5)
    assert run(trainer) == ("SIGTERM", False)
    assert trainer.calls == ["end 3", "SIGTERM 5"]  # no epoch end for a half epoch
    assert signal.getsignal(signal.SIGTERM) == handler


def test_a_signal_on_an_epochs_last_batch_ends_the_epoch_first() -> None:
    trainer = Counting(epochs=2, batches=3, stop_at=3)
    assert run(trainer) == ("SIGTERM", False)
    assert trainer.calls == ["end 3", "SIGTERM 3"]


def test_a_spent_budget_cuts_the_epoch_and_ends_it_as_the_last() -> None:
    trainer = Counting(epochs=5, batches=3)
    assert run(trainer, minutes=1e-9) == (None, True)
    # after the first step, mid-epoch; the end is planned on that step's pace
    assert trainer.calls == ["plan", "end 1 last"]


def test_training_stops_early_enough_to_leave_the_end_its_reserve() -> None:
    trainer = Counting(epochs=1000, batches=10)
    trainer.step_sleep = 0.01
    trainer.reserve = 0.5  # of a 1.2 s budget: training must stop by about 0.7 s
    started = time.perf_counter()
    assert run(trainer, minutes=0.02) == (None, True)
    assert time.perf_counter() - started < 0.95
    assert trainer.calls.count("plan") == 1 and trainer.calls[-1].endswith("last")
    # at 10 ms a step, the budget holds about 70 steps: fewer than a model needs
    assert trainer.state.step < MIN_USEFUL_STEPS
    up_front, at_the_end = trainer.warnings
    assert "leaves time for about" in up_front and "raise --max-minutes" in up_front
    assert f"after {trainer.state.step} steps" in at_the_end


def test_a_budget_longer_than_the_epochs_need_warns_of_nothing() -> None:
    trainer = Counting(epochs=2, batches=10)
    trainer.step_sleep = 0.001
    assert run(trainer, minutes=1.0) == (None, False)
    assert trainer.calls.count("plan") == 1 and trainer.warnings == []


def test_an_unbudgeted_run_plans_nothing() -> None:
    trainer = Counting(epochs=1, batches=6)
    run(trainer)
    assert "plan" not in trainer.calls and trainer.warnings == []


def test_the_probe_gets_a_tenth_of_a_long_budget_and_none_of_a_short_one() -> None:
    long, short = TimeBudget(10.0), TimeBudget(2.0)
    long.start()
    short.start()
    assert long.probe_seconds() == pytest.approx(PROBE_SHARE * 600, rel=0.01)
    assert short.probe_seconds() == 0.0 and TimeBudget(None).probe_seconds() is None


def test_a_budget_counted_from_the_process_start_has_spent_its_imports() -> None:
    budget = TimeBudget(1.0)
    budget.start(process_start("wall"))
    assert process_start("wall") < clock_seconds("wall") and budget.left() < 60.0
    assert process_start("cpu") == 0.0


def test_a_resumed_trainer_finishes_its_epoch_from_where_it_stopped() -> None:
    trainer = Counting(epochs=2, batches=3)
    trainer.state = Counters(step=4, epoch=1, batch=1)
    assert run(trainer) == (None, False)
    assert trainer.calls == ["end 6"]


def test_the_cpu_clock_budget_is_not_spent_by_waiting() -> None:
    import time

    budget = TimeBudget(0.001, "cpu")  # 60 ms of CPU time
    budget.start()
    time.sleep(0.1)  # wall time passes, CPU time hardly
    assert not budget.spent(DistContext()) and budget.left() > 0
    assert not TimeBudget(None).spent(DistContext()) and TimeBudget(None).left() == float("inf")


def test_a_session_logs_to_the_runs_train_log_and_probes_speed_once(tmp_path: Path) -> None:
    config = JobConfig(run=RunConfig(name="r", root=str(tmp_path), device="cpu"))
    logger = logging.getLogger("fakescope.test_training")
    probes: list[int] = []

    def probe() -> tuple[SpeedSettings, dict[str, float]]:
        probes.append(1)
        return SpeedSettings(threads=1), {"fp32": 0.1}

    with training_session(config, 4, False, logger) as session:
        chosen = resolve_speed(None, probe, session.dist, session.run, logger)
        kept = resolve_speed(SpeedSettings(threads=2), probe, session.dist, session.run, logger)
    assert chosen == SpeedSettings(threads=1) and kept == SpeedSettings(threads=2)
    assert len(probes) == 1 and (tmp_path / "r" / "speed.json").is_file()
    assert "speed settings" in (tmp_path / "r" / LOG_FILE).read_text()
    assert not logger.handlers  # the file handler is gone after the block


def test_a_session_that_fails_before_saving_anything_leaves_no_folder(tmp_path: Path) -> None:
    config = JobConfig(run=RunConfig(name="r", root=str(tmp_path), device="cpu"))
    logger = logging.getLogger("fakescope.test_training")
    with pytest.raises(ValueError, match="bad data"), training_session(config, 4, False, logger):
        raise ValueError("bad data")
    assert not (tmp_path / "r").exists()
