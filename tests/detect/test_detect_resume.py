"""A run interrupted and resumed ends with exactly the weights of an uninterrupted run."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from fakescope.checkpoints import load_checkpoint
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.train import (
    DetectorTrainer,
    TrainingInterrupted,
    newest_resume_payload,
    train_detector,
)
from fakescope.runs import MetricsLog, RunDir

MakeConfig = Callable[..., DetectJobConfig]


class Interrupted(Exception):
    pass


def _settings(**extra: object) -> dict[str, object]:
    # Dropout and flips make the result depend on every RNG the checkpoint must restore.
    return {"train__epochs": 3, "model__kwargs": {"dropout": 0.5}, "train__schedule": "step",
            "train__step_size": 1, "train__gamma": 0.5, "train__checkpoint_every_steps": 2, **extra}


def _checkpoints(config: DetectJobConfig) -> Path:
    return Path(config.run.root) / config.run.name / "checkpoints"


def _final_state(config: DetectJobConfig) -> dict[str, torch.Tensor]:
    last = load_checkpoint(_checkpoints(config) / "last.pt")
    return last["state_dict"]  # type: ignore[no-any-return]


def _logged(path: Path) -> list[dict[str, str]]:
    """Metric rows without the timing columns, which differ from run to run."""
    timing = {"seconds", "images_per_second", "cpu_s"}
    return [{k: v for k, v in row.items() if k not in timing} for row in MetricsLog(path).read()]


@pytest.mark.parametrize("where", ["mid_epoch", "epoch_end"])
def test_resume_matches_an_uninterrupted_run(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    reference = make_config(run__name="straight", **_settings())
    expected = train_detector(reference, progress=False)

    broken = make_config(run__name="broken", **_settings())
    if where == "mid_epoch":
        # 4 full batches per epoch: stop after step 7, so the step-6 checkpoint (epoch 2,
        # batch 2) is the newest and step 7 must be redone.
        real_step = DetectorTrainer.train_step
        calls = {"n": 0}

        def failing_step(
            self: DetectorTrainer, images: torch.Tensor, labels: torch.Tensor
        ) -> object:
            calls["n"] += 1
            if calls["n"] > 7:
                raise Interrupted
            return real_step(self, images, labels)

        monkeypatch.setattr(DetectorTrainer, "train_step", failing_step)
        with pytest.raises(Interrupted):
            train_detector(broken, progress=False)
        monkeypatch.undo()
        assert [p.name for p in _checkpoints(broken).glob("ckpt-*")] == ["ckpt-00000006.pt"]
    else:

        def stop_after_first(epoch: int, row: dict[str, float]) -> None:
            raise Interrupted

        with pytest.raises(Interrupted):
            train_detector(broken, progress=False, epoch_callback=stop_after_first)

    resumed = train_detector(broken, resume=True, progress=False)
    assert not list(_checkpoints(broken).glob("ckpt-*"))  # superseded by last.pt
    got, want = _final_state(broken), _final_state(reference)
    assert got.keys() == want.keys()
    for key in want:
        assert torch.equal(got[key], want[key]), key
    assert resumed.best_epoch == expected.best_epoch
    assert _logged(resumed.run.metrics) == _logged(expected.run.metrics)


def test_resuming_a_finished_run_with_more_epochs_continues_it(make_config: MakeConfig) -> None:
    first = train_detector(make_config(train__epochs=1), progress=False)
    assert first.epochs_run == 1
    more = train_detector(make_config(train__epochs=2), resume=True, progress=False)
    assert more.epochs_run == 2 and len(MetricsLog(more.run.metrics).read()) == 2
    again = train_detector(make_config(train__epochs=2), resume=True, progress=False)
    assert again.epochs_run == 2 and len(MetricsLog(again.run.metrics).read()) == 2


def test_a_run_stopped_before_its_first_checkpoint_restarts_with_clean_logs(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(train__epochs=2, train__checkpoint_every_steps=None)
    expected = train_detector(make_config(run__name="straight", **settings), progress=False)
    broken = make_config(run__name="broken", **settings)
    real_save = DetectorTrainer.save

    def crash_writing_last(self: DetectorTrainer, path: Path, *args: object) -> None:
        if path.name == "last.pt":  # after epoch 1's row is logged, before it is saved
            raise Interrupted
        real_save(self, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(DetectorTrainer, "save", crash_writing_last)
    with pytest.raises(Interrupted):
        train_detector(broken, progress=False)
    monkeypatch.undo()
    assert len(MetricsLog(Path(broken.run.root) / "broken" / "metrics.csv").read()) == 1
    resumed = train_detector(broken, resume=True, progress=False)
    assert _logged(resumed.run.metrics) == _logged(expected.run.metrics)
    got, want = _final_state(broken), _final_state(make_config(run__name="straight", **settings))
    assert all(torch.equal(got[key], want[key]) for key in want)


@pytest.mark.parametrize("at_step", [7, 8])  # mid-epoch, and an epoch's last batch
def test_sigterm_saves_a_checkpoint_and_resume_matches(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch, at_step: int
) -> None:
    reference = make_config(run__name="straight", **_settings())
    expected = train_detector(reference, progress=False)
    stopped = make_config(run__name="stopped", **_settings(train__checkpoint_every_steps=None))
    real_step, calls = DetectorTrainer.train_step, {"n": 0}
    handler = signal.getsignal(signal.SIGTERM)

    def terminated_step(
        self: DetectorTrainer, images: torch.Tensor, labels: torch.Tensor
    ) -> object:
        calls["n"] += 1
        if calls["n"] == at_step:
            os.kill(os.getpid(), signal.SIGTERM)  # what `kill PID` or a scheduler does
        return real_step(self, images, labels)

    monkeypatch.setattr(DetectorTrainer, "train_step", terminated_step)
    with pytest.raises(TrainingInterrupted, match=f"SIGTERM .* \\(step {at_step}\\).*--resume"):
        train_detector(stopped, progress=False)
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGTERM) == handler
    newest = newest_resume_payload(RunDir(Path(stopped.run.root) / "stopped"))
    assert newest is not None and newest["train_state"]["step"] == at_step  # no batch is lost
    resumed = train_detector(stopped, resume=True, progress=False)
    assert _logged(resumed.run.metrics) == _logged(expected.run.metrics)
    got, want = _final_state(stopped), _final_state(reference)
    assert all(torch.equal(got[key], want[key]) for key in want)
    # train.log tells the story of both invocations
    story = (resumed.run.path / "train.log").read_text()
    assert "stopped by SIGTERM" in story and f"(step {at_step})" in story
    assert story.index("stopped by SIGTERM") < story.index("resumed at")
