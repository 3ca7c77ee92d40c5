"""The GAN's work besides training under `--max-minutes` (issue 27: a 2-minute run spent a
quarter of it on BatchNorm calibrations, checkpoints and collapse checks after every epoch, and
kept a quarter of it for end-of-run metrics)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from fakescope.distributed import DistContext
from fakescope.gan import train as train_module
from fakescope.gan.config import GanJobConfig
from fakescope.gan.metrics import FeatureExtractor
from fakescope.runs import MetricsLog
from fakescope.training.budget import END_WORK_SHARE, TimeBudget

LOAD_CPU_S = 1.0


def test_end_metrics_over_their_share_of_the_budget_are_skipped(
    tiny_config: Callable[..., GanJobConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tiny_config(**{"train.max_minutes": 10.0, "metrics.num_samples": 1000})
    trainer = train_module.GanTrainer.__new__(train_module.GanTrainer)
    trainer.config, trainer.dist, trainer.run = config, DistContext(), SimpleNamespace(
        path=tmp_path)
    trainer.warnings, trainer._skip_quality, trainer._outputs_seconds = [], False, 0.0
    trainer.state = train_module.TrainState()
    budget_s = 600.0
    # FD/KID on 2 x 1000 images would take 1.5x the end-of-run share (15 % of the budget)
    per_image = 1.5 * END_WORK_SHARE * budget_s / (train_module.END_MARGIN * 2 * 1000)
    monkeypatch.setattr(trainer, "_feature_seconds_per_image", lambda: per_image)
    reserve = trainer.end_reserve_seconds(step_seconds=1.0)
    assert trainer._skip_quality
    assert reserve < END_WORK_SHARE * budget_s
    assert "quality metrics skipped" in trainer.warnings[0]
    assert "fakescope gan metrics --checkpoint" in trainer.warnings[0]


def test_calibrations_and_checkpoints_wait_for_training_to_pay_for_them(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    calibrated: list[int] = []
    calibrate = train_module.GanTrainer.calibrate_generator

    def counted(self: train_module.GanTrainer) -> None:
        if self._calibrated_step != self.state.step:
            calibrated.append(self.state.step)
        calibrate(self)

    monkeypatch.setattr(train_module.GanTrainer, "calibrate_generator", counted)
    config = tiny_config(**{"train.epochs": 100_000, "train.max_minutes": 0.2,
                            "train.checkpoint_every": 1, "train.metrics_every": 0})
    result = train_module.train_gan(config, extractor_factory=pixel_features)
    epochs = len(MetricsLog(result.run.path / "epochs.csv").read())
    assert result.checkpoint is not None and result.checkpoint.is_file()
    assert calibrated[-1] == result.step  # the end is calibrated and checkpointed
    # every epoch's end did them before: here the epochs are far cheaper than their outputs
    assert epochs >= 8 and len(calibrated) <= epochs // 4, (epochs, calibrated)


def test_without_a_budget_every_epoch_is_calibrated_and_checkpointed(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    saved: list[int] = []
    save = train_module.GanTrainer.save

    def counted(self: train_module.GanTrainer) -> Path:
        saved.append(self.state.step)
        return save(self)

    monkeypatch.setattr(train_module.GanTrainer, "save", counted)
    config = tiny_config(**{"train.epochs": 3, "train.checkpoint_every": 1,
                            "train.metrics_every": 0})
    result = train_module.train_gan(config, extractor_factory=pixel_features)
    assert saved == [4, 8, 12] and result.step == 12


def test_loading_the_feature_network_is_not_counted_as_training(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    def slow_to_load(kind: str) -> FeatureExtractor:
        started = time.process_time()
        while time.process_time() - started < LOAD_CPU_S:  # a network's weights, read and built
            pass
        return pixel_features(kind)

    config = tiny_config(**{"train.epochs": 2, "train.max_minutes": 1.0,
                            "train.metrics_every": 1})
    result = train_module.train_gan(config, extractor_factory=slow_to_load)
    first = MetricsLog(result.run.path / "epochs.csv").read()[0]
    # the budget's plan loaded the network during the first epoch; its clock skipped that
    assert float(first["cpu_s"]) < LOAD_CPU_S / 2, first


def test_no_outputs_between_epochs_when_the_run_ends_before_the_next_would_be_due() -> None:
    trainer = train_module.GanTrainer.__new__(train_module.GanTrainer)
    trainer.budget = TimeBudget(2.0, "wall")
    trainer.budget.start(at=trainer.budget.now() - 90.0)  # 90 s into a 120 s budget
    trainer._started_at, trainer._outputs_ended = trainer.budget.now() - 50.0, None
    trainer._outputs_seconds = 5.0  # paid for after 45 s of training at a 10 % share
    assert trainer.outputs_due(last=True)
    assert not trainer.outputs_due(last=False)  # 30 s left: the end comes before the next
    trainer.budget.start(at=trainer.budget.now() - 10.0)  # 110 s left: the next would be due
    assert trainer.outputs_due(last=False)
