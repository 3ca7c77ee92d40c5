"""A tiny folder of synthetic faces shared by the bench tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from fakescope.bench.dataset import BenchData, synthetic_faces


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a shared 2-core machine a 2-thread OpenMP team waits for a
    descheduled partner, and the quick runs only need to run, not to be fast."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def faces(tmp_path_factory: pytest.TempPathFactory) -> BenchData:
    return synthetic_faces(tmp_path_factory.mktemp("bench") / "faces", images=32, side=64)


@pytest.fixture(scope="session")
def faces_root(faces: BenchData) -> Path:
    return faces.root
