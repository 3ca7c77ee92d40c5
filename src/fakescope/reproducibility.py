"""One seed for every random generator, deterministic mode, and RNG state capture for resume."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import numpy as np
import torch

from fakescope.config import ConfigError
from fakescope.errors import SetupError


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA); optionally force deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS needs this workspace setting for deterministic matmuls.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def rng_state() -> dict[str, Any]:
    """Every global RNG state, in a form `torch.load(weights_only=True)` accepts."""
    _, keys, pos, has_gauss, cached_gaussian = cast(tuple, np.random.get_state(legacy=True))
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextmanager
def isolated_rng() -> Iterator[None]:
    """Every global RNG (Python, NumPy, torch CPU and CUDA) as it was before the block.

    Auxiliary work (building or running a feature network, quality metrics, speed probes) goes
    inside, so it never consumes training randomness: a resumed process, which builds such
    networks again, then draws the same numbers as an uninterrupted one.
    """
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def configure_backends(device: torch.device, deterministic: bool = False) -> None:
    """Let cuDNN time its convolution algorithms once per input shape and keep the fastest
    (training shapes repeat every step); deterministic runs keep the fixed algorithms."""
    if device.type == "cuda" and not deterministic:
        torch.backends.cudnn.benchmark = True


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when present, else CPU; an unavailable CUDA request is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:  # torch's message lists its 20-odd device types, most not for us
        raise ConfigError(f"'{name}' is not a device: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SetupError(f"device '{name}' requested but CUDA is not available on this machine")
    return device
