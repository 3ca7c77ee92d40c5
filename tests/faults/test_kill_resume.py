"""kill -9 at random points of training, including before the first checkpoint and inside
checkpoint writes; each time the run is resumed, and it must end with the weights and logs of
a run that was never interrupted.

Both trainers run with their default behaviour (the GAN with its collapse watch and quality
metrics on real EfficientNet-Lite0 features, the detector with dropout and augmentation), at
tiny sizes; only the speed settings are pinned, because their timing probe may choose
differently in any two runs. Each run is a child process (tests/faults/child.py) that kills
itself with SIGKILL, so nothing in the process gets to clean up.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from imagefiles import make_image

from fakescope.checkpoints import load_checkpoint
from fakescope.data.synth import synthesize_dataset
from fakescope.runs import MetricsLog

TESTS = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).with_name("child.py")
TIMING = {"seconds", "images_per_second", "images_per_s", "cpu_s"}
PINNED_SPEED = {"train.amp": False, "train.channels_last": False, "train.threads": 1}
SEED = 16  # the kill points are drawn from it, so a failure can be replayed


def train(trainer: str, overrides: dict[str, Any], resume: bool = False, kill: str = "",
          allowed: tuple[int, ...] = (0, -9)) -> int:
    """Exit status of one child run: -9 when it killed itself, 0 when it finished (or one of
    `allowed`)."""
    source = Path(__import__("fakescope").__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source), str(TESTS)])}
    command = [sys.executable, str(CHILD), trainer, json.dumps(overrides), str(int(resume)), kill]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode not in allowed:
        pytest.fail(f"{trainer} {kill or 'run'} failed:\n{done.stderr[-3000:]}")
    return done.returncode


def logged(path: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in MetricsLog(path).read()]


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], what: str) -> None:
    assert a.keys() == b.keys(), what
    for key, value in a.items():
        assert torch.equal(value, b[key]), f"{what}: {key}"


def kill_and_resume(trainer: str, overrides: dict[str, Any], kills: list[str]) -> None:
    """Start, and resume after every kill in `kills`; then resume to the end."""
    for number, kill in enumerate(kills):
        assert train(trainer, overrides, resume=number > 0, kill=kill) == -9, kill
    assert train(trainer, overrides, resume=True) == 0


def gan_overrides(tmp_path: Path, name: str) -> dict[str, Any]:
    """A tiny GAN run: 3 epochs of 4 iterations, a checkpoint after each (steps 4, 8, 12)."""
    faces = tmp_path / "faces"
    if not faces.is_dir():
        faces.mkdir()
        for i in range(16):
            make_image(faces / f"face_{i:03d}.jpg", (40, 36), seed=i)
    return {
            "data.path": str(faces), "data.cache_dir": str(tmp_path / "cache"),
            "run.root": str(tmp_path / "runs"), "run.name": name, "model.resolution": 32,
            "model.base_width": 8, "train.batch_size": 4, "train.epochs": 3,
            "train.sample_count": 4, "train.instance_noise": 0.1,
            "metrics.feature_extractor": "efflite0", "metrics.num_samples": 8,
            "metrics.kid_subsets": 5, "metrics.batch_size": 4, "collapse.num_samples": 8,
            **PINNED_SPEED,
        }


def assert_same_gan_runs(straight: Path, killed: Path, what: str) -> None:
    a, b = (load_checkpoint(run / "checkpoints" / "ckpt-00000012.pt") for run in (straight, killed))
    for part in ("generator", "discriminator"):
        assert_same_tensors(a[part], b[part], f"{part} after {what}")
    assert logged(straight / "metrics.csv") == logged(killed / "metrics.csv")
    assert logged(straight / "epochs.csv") == logged(killed / "epochs.csv")
    assert [r["epoch"] for r in logged(killed / "epochs.csv")] == ["1", "2", "3"]
    assert not list(killed.rglob("*.tmp"))  # the killed writes' temp files were swept


@pytest.mark.slow
def test_gan_training_killed_at_random_points_resumes_exactly(tmp_path: Path) -> None:
    def overrides(name: str) -> dict[str, Any]:
        return gan_overrides(tmp_path, name)

    draw = random.Random(SEED)
    kills = [
        f"step:{draw.randint(2, 4)}",  # before the first checkpoint
        "save:1",  # inside the first checkpoint write, after epoch 1 was logged: start over
        f"step:{draw.randint(6, 8)}",  # in epoch 2, after the first checkpoint
        "save:1",  # inside epoch 2's checkpoint write, after resuming from epoch 1's
    ]  # the last resume, from epoch 1's checkpoint, builds the feature networks at epoch 2's end
    assert train("gan", overrides("straight")) == 0
    kill_and_resume("gan", overrides("killed"), kills)
    runs = tmp_path / "runs"
    assert_same_gan_runs(runs / "straight", runs / "killed", f"kills {kills}")


@pytest.mark.slow
def test_gan_train_stopped_by_sigint_and_sigterm_resumes_exactly(tmp_path: Path) -> None:
    """`fakescope gan train` stopped by Ctrl-C, by SIGTERM, and by kill -9 inside the
    checkpoint a SIGTERM writes: each exits with a signal status (kill -9: -9), and resuming
    ends where a run never stopped would."""
    signal_exits = (130, 143)  # SIGINT's and SIGTERM's conventional statuses
    assert train("gan-cli", gan_overrides(tmp_path, "straight")) == 0
    killed = gan_overrides(tmp_path, "killed")
    # mid-epoch each time; the last dies inside the checkpoint its SIGTERM writes (the second
    # write of that process, after epoch 2's)
    stops = ["int:3", "term:7", "term:10+save:2"]
    assert train("gan-cli", killed, kill=stops[0], allowed=signal_exits) in signal_exits
    assert train("gan-cli", killed, True, stops[1], allowed=signal_exits) in signal_exits
    assert train("gan-cli", killed, True, stops[2]) == -9
    assert train("gan-cli", killed, resume=True) == 0
    runs = tmp_path / "runs"
    assert_same_gan_runs(runs / "straight", runs / "killed", f"stops {stops}")


@pytest.mark.slow
def test_detector_training_killed_at_random_points_resumes_exactly(tmp_path: Path) -> None:
    faces = tmp_path / "faces"
    synthesize_dataset(faces, n=48, size=32, seed=0, fakes=True)

    def overrides(name: str) -> dict[str, Any]:
        # 3 epochs of 4 steps; best.pt and last.pt written at each epoch's end.
        return {
            "data.path": str(faces), "data.cache_dir": str(tmp_path / "cache"),
            "data.augment.hflip": True, "run.root": str(tmp_path / "runs"), "run.name": name,
            "model.kwargs": {"dropout": 0.5}, "train.epochs": 3, "train.batch_size": 16,
            "train.lr": 0.01, **PINNED_SPEED,
        }

    draw = random.Random(SEED)
    kills = [
        f"step:{draw.randint(2, 4)}",  # before the first checkpoint
        "save:2",  # inside epoch 1's last.pt write (after best.pt): the run starts over
        f"step:{draw.randint(6, 12)}",  # after a checkpoint
        "save:1",  # inside the next checkpoint write
    ]
    assert train("detect", overrides("straight")) == 0
    kill_and_resume("detect", overrides("killed"), kills)

    straight, killed = tmp_path / "runs" / "straight", tmp_path / "runs" / "killed"
    for name in ("last.pt", "best.pt"):
        a, b = (load_checkpoint(run / "checkpoints" / name) for run in (straight, killed))
        assert_same_tensors(a["state_dict"], b["state_dict"], f"{name} after kills {kills}")
    assert logged(straight / "metrics.csv") == logged(killed / "metrics.csv")
    assert [r["epoch"] for r in logged(killed / "metrics.csv")] == ["1", "2", "3"]
    assert not list(killed.rglob("*.tmp"))
