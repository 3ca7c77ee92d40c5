"""Small detector checkpoints and a tiny labelled face folder for the export tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from export.tiny_models import DISC_KWARGS, save_copy, spread_outputs
from threads import one_torch_thread

from fakescope.data.synth import synthesize_dataset
from fakescope.models.registry import Detector, build_detector


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 real and 20 stand-in fake synthetic faces at 48x48 (split 16/2/2 per class)."""
    out = tmp_path_factory.mktemp("export_faces")
    synthesize_dataset(out, n=20, size=48, seed=5, fakes=True)
    return out


@pytest.fixture(scope="session")
def disc_model() -> Detector:
    """A narrow 64 px DCGAN discriminator: one logit, sigmoid."""
    torch.manual_seed(0)
    return spread_outputs(build_detector("dcgan_disc64", **DISC_KWARGS), 64, seed=1)


@pytest.fixture
def disc_checkpoint(disc_model: Detector, tmp_path: Path) -> Path:
    """A private run-like copy (tests export next to it and rewrite it)."""
    path = tmp_path / "run" / "checkpoints" / "best.pt"
    return save_copy(disc_model, "dcgan_disc64", DISC_KWARGS, disc_model.input_spec, path, 0.45)
