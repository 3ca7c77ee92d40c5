"""A tiny detector and a tiny synthetic dataset, so every training test runs in seconds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from detect.tiny_detector import TINY
from threads import one_torch_thread

from fakescope.config import load_config
from fakescope.data.synth import synthesize_dataset
from fakescope.detect.config import DetectJobConfig


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 real and 48 stand-in fake synthetic faces at 32x32."""
    out = tmp_path_factory.mktemp("faces")
    synthesize_dataset(out, n=48, size=32, seed=0, fakes=True)
    return out


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def make_config(
    faces: Path, cache_dir: Path, tmp_path: Path
) -> Callable[..., DetectJobConfig]:
    """A fast config for the tiny detector; keyword overrides use dotted keys with __ for dots."""

    def make(**overrides: Any) -> DetectJobConfig:
        values: dict[str, Any] = {
            "data.path": str(faces),
            "data.cache_dir": str(cache_dir),
            "data.augment.hflip": True,
            "run.root": str(tmp_path / "runs"),
            "run.name": "tiny",
            "model.name": TINY,
            "train.epochs": 2,
            "train.batch_size": 16,
            "train.lr": 0.01,
            "train.amp": False,
            "train.channels_last": False,
        }
        values.update({k.replace("__", "."): v for k, v in overrides.items()})
        return load_config(DetectJobConfig, None, values)

    return make
