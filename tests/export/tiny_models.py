"""Detectors for the export tests: untrained models with trained-like output spread, and one
whose forward pass cannot be traced faithfully."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fakescope.data.transforms import IMAGENET_MEAN, IMAGENET_STD, InputSpec
from fakescope.models.batchnorm import average_batchnorm_statistics
from fakescope.models.pretrained import NO_WEIGHTS, Pretrained
from fakescope.models.registry import Detector, register_detector, save_detector

DISC_KWARGS = {"base_width": 8}
SMALL_SPEC = InputSpec(size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD, resize="resize")
FROZEN = "export_test_frozen_scale"


def varied_images(n: int, size: int, seed: int) -> torch.Tensor:
    """Noise pictures whose brightness and contrast differ from picture to picture, so pooled
    features (and P(fake)) differ too, as they do between real photos."""
    gen = torch.Generator().manual_seed(seed)
    contrast = torch.rand(n, 1, 1, 1, generator=gen) * 1.5 + 0.5
    brightness = torch.rand(n, 3, 1, 1, generator=gen) * 2 - 1
    return torch.randn(n, 3, size, size, generator=gen) * contrast + brightness


def spread_outputs(model: Detector, size: int, seed: int) -> Detector:
    """BatchNorm statistics averaged over varied pictures in train mode, as training would leave
    them: with the default ones (mean 0, variance 1) an untrained network's eval-mode activations
    vanish and every picture gets the same P(fake), which would make comparisons meaningless."""
    average_batchnorm_statistics(model, (varied_images(16, size, seed + b) for b in range(2)))
    return model.eval()


def save_copy(
    model: Detector, name: str, kwargs: dict[str, Any], spec: InputSpec, path: Path,
    threshold: float = 0.5,
) -> Path:  # fmt: skip
    save_detector(path, model, name, kwargs, spec, threshold=threshold)
    return path


class FrozenScaleDetector(Detector):
    """Scales its logits by a Python float read from the first pixel: tracing freezes it to the
    sample batch's value, so the export is wrong for every other batch."""

    num_logits = 1
    input_spec = SMALL_SPEC

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)) * float(x[0, 0, 0, 0].abs() + 1.0)

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.head.parameters()

    def gradcam_layer(self) -> nn.Module:
        return self.conv


@register_detector(FROZEN, "test-only detector whose trace is wrong")
def frozen_scale_detector(pretrained: Pretrained = NO_WEIGHTS, **kwargs: Any) -> Detector:
    return FrozenScaleDetector(**kwargs)
