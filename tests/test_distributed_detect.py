"""Two gloo processes under torchrun train a detector as one process does."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from fakescope.checkpoints import load_checkpoint
from fakescope.config import load_config
from fakescope.data.synth import synthesize_dataset
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.train import train_detector

# The DCGAN discriminator at 32x32 as a detector: BatchNorm, no dropout, so one process and two
# draw no different random numbers. Global batch 16: each process takes 8 images of each.
SETTINGS: dict[str, Any] = {
    "model.name": "dcgan_disc",
    "model.kwargs": {"resolution": 32, "base_width": 8},
    "train.batch_size": 16,
    "train.epochs": 2,
    "train.lr": 0.002,
    "train.amp": False,
    "train.channels_last": False,
    "train.threads": 1,
    "train.augment": False,
    "run.device": "cpu",
    "run.name": "tiny",
}


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("faces")
    synthesize_dataset(out, n=40, size=32, seed=0, fakes=True)
    return out


def torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", "-m", "fakescope", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def val_losses(run: Path) -> list[float]:
    with (run / "metrics.csv").open() as handle:
        return [float(row["val_loss"]) for row in csv.DictReader(handle)]


def test_two_processes_train_like_one(faces: Path, tmp_path: Path) -> None:
    settings = {**SETTINGS, "data.path": str(faces)}
    single = load_config(DetectJobConfig, overrides={
        **settings, "run.root": str(tmp_path / "one"), "data.cache_dir": str(tmp_path / "c1"),
    })
    before = torch.get_num_threads()
    try:
        train_detector(single, progress=False)
    finally:
        torch.set_num_threads(before)

    sets = [f"--set={k}={v}" for k, v in {
        **settings, "run.root": tmp_path / "two", "data.cache_dir": tmp_path / "c2",
    }.items()]
    done = torchrun(["train", "--quiet", *sets], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("stopped: epochs after 2 epochs") == 1  # rank 0 speaks alone

    one, two = tmp_path / "one" / "tiny", tmp_path / "two" / "tiny"
    torch.testing.assert_close(val_losses(two), val_losses(one), rtol=1e-3, atol=1e-4)
    weights_one = load_checkpoint(one / "checkpoints" / "last.pt")["state_dict"]
    weights_two = load_checkpoint(two / "checkpoints" / "last.pt")["state_dict"]
    for key, value in weights_one.items():
        if value.is_floating_point():
            torch.testing.assert_close(weights_two[key], value, rtol=1e-3, atol=1e-4, msg=key)


def test_search_refuses_torchrun(faces: Path, tmp_path: Path) -> None:
    done = torchrun(["search", f"--data={faces}", f"--root={tmp_path}"], cwd=tmp_path)
    assert done.returncode != 0  # torchrun's own code when its workers fail
    assert "a search is not a torchrun job" in done.stderr
