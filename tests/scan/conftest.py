"""A small 64 px detector checkpoint and folders of synthetic faces for the scan tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from export.tiny_models import DISC_KWARGS, save_copy, spread_outputs

from fakescope.data.synth import synthesize_dataset
from fakescope.models.registry import build_detector


@pytest.fixture(scope="session")
def scan_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A narrow DCGAN discriminator (64 px), with output spread like a trained one."""
    torch.manual_seed(0)
    model = spread_outputs(build_detector("dcgan_disc64", **DISC_KWARGS), 64, seed=1)
    path = tmp_path_factory.mktemp("scan_run") / "best.pt"
    return save_copy(model, "dcgan_disc64", DISC_KWARGS, model.input_spec, path, 0.5)


@pytest.fixture(scope="session")
def scan_faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 real and 12 stand-in fake synthetic faces at 64 px."""
    out = tmp_path_factory.mktemp("scan_faces")
    synthesize_dataset(out, n=12, size=64, seed=3, fakes=True)
    return out
