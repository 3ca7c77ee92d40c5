"""A tiny single-class face folder and tiny GAN configs, so a full training run takes seconds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gan.tiny_gan import TinyPixelFeatures, make_tiny_config
from imagefiles import make_image
from threads import one_torch_thread

from fakescope.gan.config import GanJobConfig
from fakescope.gan.metrics import FeatureExtractor


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Module scope, so runs compared for bit-equality (module fixtures included) share it."""
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 random 40x36 JPEGs in a flat folder (the single-class layout GANs train on)."""
    root = tmp_path_factory.mktemp("faces")
    for i in range(16):
        make_image(root / f"face_{i:03d}.jpg", (40, 36), seed=i)
    return root


@pytest.fixture
def tiny_config(faces: Path, tmp_path: Path) -> Callable[..., GanJobConfig]:
    return lambda **overrides: make_tiny_config(faces, tmp_path, **overrides)


@pytest.fixture(scope="session")
def pixel_features() -> Callable[[str], FeatureExtractor]:
    """Stands in for the Inception/EfficientNet feature networks in training tests."""
    return lambda kind: TinyPixelFeatures()
