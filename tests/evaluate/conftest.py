"""Tiny detectors (1 and 2 logits) saved as checkpoints, and a tiny labelled face folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from fakescope.config import DataConfig
from fakescope.data.synth import synthesize_dataset
from fakescope.data.transforms import IMAGENET_MEAN, IMAGENET_STD, InputSpec
from fakescope.models.pretrained import NO_WEIGHTS, Pretrained
from fakescope.models.registry import Detector, build_detector, register_detector, save_detector

TWO_LOGIT = "eval_test_two_logit"
SPEC = InputSpec(size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD, resize="resize")


class TwoLogitDetector(Detector):
    """Conv + BatchNorm + pooling + a 2-way head: the softmax path of the detector contract."""

    num_logits = 2
    input_spec = SPEC

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU())
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(6, 2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.head.parameters()

    def gradcam_layer(self) -> nn.Module:
        return self.conv


@register_detector(TWO_LOGIT, "test-only 2-logit detector")
def two_logit_detector(pretrained: Pretrained = NO_WEIGHTS, **kwargs: Any) -> Detector:
    return TwoLogitDetector(**kwargs)


def _randomise_batchnorm(model: nn.Module, seed: int) -> None:
    """Non-trivial running statistics, so eval-mode BatchNorm is really exercised."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)


@pytest.fixture(scope="session")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 real and 20 stand-in fake synthetic faces at 40x40 (split 16/2/2 per class)."""
    out = tmp_path_factory.mktemp("eval_faces")
    synthesize_dataset(out, n=20, size=40, seed=3, fakes=True)
    return out


@pytest.fixture(scope="session")
def data_config(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> DataConfig:
    return DataConfig(path=str(faces), cache_dir=str(tmp_path_factory.mktemp("eval_cache")))


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """run-two/checkpoints/best.pt (2 logits, threshold 0.5) and run-one/checkpoints/best.pt
    (a narrow 64 px DCGAN discriminator, 1 logit, threshold 0.45)."""
    root = tmp_path_factory.mktemp("eval_runs")
    torch.manual_seed(0)
    two = build_detector(TWO_LOGIT)
    _randomise_batchnorm(two, 1)
    save_detector(root / "run-two" / "checkpoints" / "best.pt", two, TWO_LOGIT, {}, SPEC)
    kwargs = {"base_width": 4}
    one = build_detector("dcgan_disc64", **kwargs)
    _randomise_batchnorm(one, 2)
    save_detector(
        root / "run-one" / "checkpoints" / "best.pt", one, "dcgan_disc64", kwargs,
        one.input_spec, threshold=0.45,
    )
    return root


@pytest.fixture
def two_logit_checkpoint(checkpoint_dir: Path, tmp_path: Path) -> Path:
    """A private copy (tests may rewrite its threshold) inside a run-like folder."""
    path = tmp_path / "run" / "checkpoints" / "best.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes((checkpoint_dir / "run-two" / "checkpoints" / "best.pt").read_bytes())
    return path


@pytest.fixture
def one_logit_checkpoint(checkpoint_dir: Path) -> Path:
    return checkpoint_dir / "run-one" / "checkpoints" / "best.pt"
