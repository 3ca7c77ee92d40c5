"""GAN training end to end on a tiny run: logs, samples, plots, checkpoints and exact resume."""

from __future__ import annotations

import csv
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from unittest.mock import patch

import pytest
import torch
from gan.tiny_gan import TinyPixelFeatures, make_tiny_config

from fakescope.checkpoints import load_checkpoint
from fakescope.config import ConfigError
from fakescope.gan.config import GanJobConfig
from fakescope.gan.history import ITERATION_COLUMNS
from fakescope.gan.train import TrainResult, train_gan


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_full_run_writes_every_artifact(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    result = train_gan(tiny_config(), extractor_factory=pixel_features)
    run = result.run.path
    assert result.interrupted is None and result.epochs_done == 2 and result.step == 8

    iterations = rows(run / "metrics.csv")
    assert [int(r["step"]) for r in iterations] == list(range(1, 9))
    assert set(iterations[0]) == set(ITERATION_COLUMNS)
    assert all(0 <= float(r["d_real"]) <= 1 and float(r["loss_d"]) > 0 for r in iterations)

    epochs = rows(run / "epochs.csv")
    assert [r["epoch"] for r in epochs] == ["1", "2"]
    for r in epochs:
        assert float(r["fd_tinypixels"]) >= 0 and float(r["diversity"]) >= 0
        assert float(r["images_per_s"]) > 0
    assert result.summary["epoch"] == 2 and "fd_tinypixels" in result.summary

    for name in ("samples/epoch_0001.png", "samples/epoch_0002.png", "report/losses.png",
                 "report/loss_phase.png", "report/quality.png", "config.yaml",
                 "data_report.json", "train.log"):
        assert (run / name).is_file(), name
    payload = load_checkpoint(result.checkpoint)  # type: ignore[arg-type]
    assert payload["kind"] == "gan" and payload["state"]["epoch"] == 2
    assert payload["generator_kwargs"]["resolution"] == 32


def test_paper_knobs_train_without_nans(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    config = tiny_config(**{
        "train.epochs": 1, "train.g_loss": "saturating", "train.label_smoothing": 0.1,
        "train.instance_noise": 0.2, "model.z_dist": "uniform", "model.z_dim": 20,
        "model.g_activation": "leaky_relu", "train.metrics_every": 0,
        "collapse.enabled": False, "train.drop_last": True,
    })
    result = train_gan(config, extractor_factory=pixel_features)
    iterations = rows(result.run.metrics)
    assert all(float(r["loss_g"]) <= 0 for r in iterations)  # log(1 - D(G(z))) is negative
    noise = [float(r["noise_std"]) for r in iterations]
    assert noise[0] == pytest.approx(0.2) and noise == sorted(noise, reverse=True)
    assert not (result.run.path / "report" / "quality.png").exists()


def _interrupt_at(step: int) -> Callable[[int], None]:
    def on_step(current: int) -> None:
        if current == step:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does

    return on_step


KNOBS = {"train.instance_noise": 0.1, "train.label_smoothing": 0.1}


@pytest.fixture(scope="module")
def straight_run(
    faces: Path, tmp_path_factory: pytest.TempPathFactory, pixel_features: Callable
) -> TrainResult:
    config = make_tiny_config(faces, tmp_path_factory.mktemp("straight"), **KNOBS)
    return train_gan(config, extractor_factory=pixel_features)


@pytest.mark.parametrize("stop_step", [3, 4])  # mid-epoch, and right at an epoch's end
def test_interrupted_and_resumed_run_ends_with_identical_weights(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable, stop_step: int,
    straight_run: TrainResult,
) -> None:
    config = tiny_config(**KNOBS)
    handler = signal.getsignal(signal.SIGINT)  # ignored in a background job, else the default
    stopped = train_gan(config, extractor_factory=pixel_features, on_step=_interrupt_at(stop_step))
    assert stopped.interrupted == "SIGINT" and stopped.step == stop_step
    assert signal.getsignal(signal.SIGINT) == handler  # the handler found is restored
    resumed = train_gan(config, resume=True, extractor_factory=pixel_features)
    assert resumed.interrupted is None and resumed.step == straight_run.step

    a = load_checkpoint(straight_run.checkpoint)  # type: ignore[arg-type]
    b = load_checkpoint(resumed.checkpoint)  # type: ignore[arg-type]
    for net in ("generator", "discriminator"):
        for key, value in a[net].items():
            assert torch.equal(value, b[net][key]), f"{net}.{key}"
    for opt in ("opt_g", "opt_d"):
        for index, state in a[opt]["state"].items():
            for key, value in state.items():
                assert torch.equal(value, b[opt]["state"][index][key]), f"{opt}.{index}.{key}"
    # The logs hold each iteration once, with the same values.
    assert rows(straight_run.run.metrics) == rows(resumed.run.metrics)
    assert [r["loss_d"] for r in rows(straight_run.run.path / "epochs.csv")] == [
        r["loss_d"] for r in rows(resumed.run.path / "epochs.csv")
    ]


def assert_same_run(a: TrainResult, b: TrainResult) -> None:
    """Equal weights, and equal per-iteration and per-epoch losses, each logged once."""
    first = load_checkpoint(a.checkpoint)  # type: ignore[arg-type]
    second = load_checkpoint(b.checkpoint)  # type: ignore[arg-type]
    for net in ("generator", "discriminator"):
        for key, value in first[net].items():
            assert torch.equal(value, second[net][key]), f"{net}.{key}"
    assert rows(a.run.metrics) == rows(b.run.metrics)
    assert [(r["epoch"], r["loss_d"]) for r in rows(a.run.path / "epochs.csv")] == [
        (r["epoch"], r["loss_d"]) for r in rows(b.run.path / "epochs.csv")
    ]


class Crash(Exception):
    """Stands in for a kill: no checkpoint is written on the way out."""


def _crash_at(step: int) -> Callable[[int], None]:
    def on_step(current: int) -> None:
        if current == step:
            raise Crash

    return on_step


def test_a_run_stopped_before_its_first_checkpoint_restarts_with_clean_logs(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable,
    straight_run: TrainResult,
) -> None:
    config = tiny_config(**KNOBS)  # its first checkpoint comes after epoch 2
    with pytest.raises(Crash):
        train_gan(config, extractor_factory=pixel_features, on_step=_crash_at(6))
    crashed = Path(config.run.root) / config.run.name
    assert [r["epoch"] for r in rows(crashed / "epochs.csv")] == ["1"]  # logged, not saved
    resumed = train_gan(config, resume=True, extractor_factory=pixel_features)
    assert_same_run(straight_run, resumed)


class DrawingFeatures(TinyPixelFeatures):
    """Draws from torch's global generator when built, as a real feature network's init does."""

    def __init__(self) -> None:
        torch.nn.Linear(8, 8)


def test_feature_networks_built_at_epoch_end_draw_no_training_randomness(
    tiny_config: Callable[..., GanJobConfig]
) -> None:
    # Stopped in epoch 2: the resumed process builds its feature networks once more (at epoch
    # 2's end) than the uninterrupted one, and epoch 3 must not notice.
    settings = {**KNOBS, "train.epochs": 3, "run.name": "straight"}
    straight = train_gan(tiny_config(**settings), extractor_factory=lambda kind: DrawingFeatures())
    config = tiny_config(**{**settings, "run.name": "stopped"})
    train_gan(config, extractor_factory=lambda kind: DrawingFeatures(), on_step=_interrupt_at(6))
    resumed = train_gan(config, resume=True, extractor_factory=lambda kind: DrawingFeatures())
    assert_same_run(straight, resumed)


def test_resume_extends_a_finished_run_and_refuses_another_architecture(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    train_gan(tiny_config(**{"train.epochs": 1, "train.metrics_every": 0}),
              extractor_factory=pixel_features)
    with pytest.raises(FileExistsError, match="--resume"):
        train_gan(tiny_config(**{"train.epochs": 1}), extractor_factory=pixel_features)
    with pytest.raises(ConfigError, match="model settings differ"):
        train_gan(tiny_config(**{"train.epochs": 2, "model.base_width": 4}), resume=True,
                  extractor_factory=pixel_features)
    longer = train_gan(tiny_config(**{"train.epochs": 2, "train.metrics_every": 0}), resume=True,
                       extractor_factory=pixel_features)
    assert longer.epochs_done == 2 and longer.step == 8


def test_probed_speed_settings_are_recorded_and_kept_on_resume(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    settings = {"train.amp": "auto", "train.threads": "auto", "train.metrics_every": 0,
                "collapse.enabled": False}
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # with one thread there is no thread count to choose
    try:
        first = train_gan(tiny_config(**settings, **{"train.epochs": 1}),
                          extractor_factory=pixel_features)
        chosen = json.loads((first.run.path / "speed.json").read_text())["chosen"]
        assert load_checkpoint(first.checkpoint)["speed"] == chosen  # type: ignore[arg-type]
        # The resumed run must not probe again (it could choose otherwise): any call fails.
        with patch("fakescope.gan.train.choose_gan_speed_settings", side_effect=AssertionError):
            longer = train_gan(tiny_config(**settings, **{"train.epochs": 2}), resume=True,
                               extractor_factory=pixel_features)
    finally:
        torch.set_num_threads(before)
    assert load_checkpoint(longer.checkpoint)["speed"] == chosen  # type: ignore[arg-type]
    assert longer.step == 8


def test_collapse_is_flagged_in_the_log(
    tiny_config: Callable[..., GanJobConfig], pixel_features: Callable
) -> None:
    # Any generator is "collapsed" against a threshold above 1: the warning path must fire.
    config = tiny_config(**{"train.epochs": 2, "collapse.threshold": 1e9,
                            "collapse.warmup_steps": 5, "collapse.warmup_fraction": 1.0,
                            "train.metrics_every": 0})
    result = train_gan(config, extractor_factory=pixel_features)
    assert len(result.warnings) == 1 and "epoch 2: possible mode collapse" in result.warnings[0]
    assert "mode collapse" in (result.run.path / "train.log").read_text()


def test_bad_inputs_are_clear_errors(
    tiny_config: Callable[..., GanJobConfig], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"data\.image_size"):
        train_gan(tiny_config(**{"data.image_size": 64}))
    with pytest.raises(ValueError, match="no training batches"):
        train_gan(tiny_config(**{"train.batch_size": 64, "train.drop_last": True}))
    with pytest.raises(ValueError, match="dataset path"):
        train_gan(tiny_config(**{"data.path": ""}))
