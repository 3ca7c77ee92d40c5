"""Two gloo processes under torchrun train the DCGAN as one process does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from gan.tiny_gan import make_tiny_config
from imagefiles import make_image

from fakescope.checkpoints import load_checkpoint
from fakescope.gan.train import train_gan

# Global batch 8 over 16 images: 2 iterations an epoch, each process taking 4 images of each.
SETTINGS = {
    "train.batch_size": 8,
    "train.epochs": 2,
    "train.metrics_every": 0,
    "train.sample_every": 0,
    "collapse.enabled": False,
}


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faces")
    for i in range(16):
        make_image(root / f"face_{i:03d}.jpg", (40, 36), seed=i)
    return root


def torchrun(args: list[str], cwd: Path, nproc: int = 2) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "fakescope", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    checkpoint = load_checkpoint(max((run / "checkpoints").glob("*.pt")))
    return {**{f"G.{k}": v for k, v in checkpoint["generator"].items()},
            **{f"D.{k}": v for k, v in checkpoint["discriminator"].items()}}


def test_two_processes_train_and_resume_like_one(faces: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    single = make_tiny_config(faces, tmp_path / "single", **SETTINGS)
    train_gan(single)

    # train.epochs goes by flag: 1, then 2 on resume (a flag and a --set of one key must agree)
    settings = {k: v for k, v in SETTINGS.items() if k != "train.epochs"}
    sets = [f"--set={k}={v}" for k, v in {
        **settings, "data.path": faces, "data.cache_dir": tmp_path / "ddp" / "cache",
        "run.root": tmp_path / "ddp" / "runs", "run.name": "tiny", "model.resolution": 32,
        "model.base_width": 8, "train.checkpoint_every": 2, "train.plot_every": 0,
        "train.amp": False,
        "run.device": "cpu",
    }.items()]
    # One epoch, then a resumed second one: the resume path under torchrun as well.
    first = torchrun(["gan", "train", *sets, "--epochs=1"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    done = torchrun(["gan", "train", *sets, "--epochs=2", "--resume"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained 2 epochs (4 iterations)") == 1  # rank 0 speaks alone

    one = final_weights(Path(single.run.root) / "tiny")
    two = final_weights(tmp_path / "ddp" / "runs" / "tiny")
    assert one.keys() == two.keys()
    for key, value in one.items():
        if value.is_floating_point():
            torch.testing.assert_close(two[key], value, rtol=1e-3, atol=1e-4, msg=key)
        else:
            assert torch.equal(two[key], value), key
    losses_one = (Path(single.run.root) / "tiny" / "metrics.csv").read_text().splitlines()
    losses_two = (tmp_path / "ddp" / "runs" / "tiny" / "metrics.csv").read_text().splitlines()
    assert len(losses_one) == len(losses_two) == 5  # header + one row per iteration


def test_global_batch_must_split_evenly(faces: Path, tmp_path: Path) -> None:
    sets = [f"--data={faces}", f"--root={tmp_path / 'runs'}", "--batch-size=7",
            "--set=model.resolution=32", "--set=run.device=cpu"]
    done = torchrun(["gan", "train", *sets], cwd=tmp_path)
    assert done.returncode != 0
    assert "train.batch_size (7) must be divisible by the number of processes (2)" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_two_processes_agree_on_outputs_under_a_time_budget(faces: Path, tmp_path: Path) -> None:
    """Under a budget rank 0 decides which epoch ends calibrate and checkpoint; every rank
    follows (a rank calibrating alone would hang or split their BatchNorm statistics)."""
    sets = [f"--set={k}={v}" for k, v in {
        **SETTINGS, "train.epochs": 100_000, "data.path": faces,
        "data.cache_dir": tmp_path / "cache", "run.root": tmp_path / "runs", "run.name": "b",
        "model.resolution": 32, "model.base_width": 8, "train.checkpoint_every": 1,
        "train.amp": False, "run.device": "cpu",
    }.items()]
    done = torchrun(["gan", "train", *sets, "--max-minutes=0.25"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoints = list((tmp_path / "runs" / "b" / "checkpoints").glob("*.pt"))
    assert checkpoints and "time budget of 0.25 min spent" in done.stderr
