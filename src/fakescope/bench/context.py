"""What every suite is handed: the settings, the faces, a scratch folder, devices, a log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from fakescope.bench.dataset import BenchData
from fakescope.bench.settings import BenchSettings
from fakescope.config import ConfigError
from fakescope.errors import SetupError


@dataclass(frozen=True)
class BenchContext:
    settings: BenchSettings
    data: BenchData
    work: Path  # scratch space (caches, run folders, checkpoints), removed after the run
    devices: tuple[torch.device, ...]  # where the training areas run, CPU first
    log: Callable[[str], None]  # progress lines for the person waiting


def training_devices(device: str) -> tuple[torch.device, ...]:
    """`auto`: the CPU, and the GPU too when CUDA is present; `cpu` or `cuda`: that one."""
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, got '{device}'")
    if device == "cuda" and not torch.cuda.is_available():
        raise SetupError("--device cuda: CUDA is not available on this machine")
    if device == "auto":
        return (torch.device("cpu"),) + ((torch.device("cuda"),) if torch.cuda.is_available()
                                         else ())
    return (torch.device(device),)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a turn's wall time includes it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
