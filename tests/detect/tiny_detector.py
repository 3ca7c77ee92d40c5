"""A tiny registered detector for the training tests (registered once, on first import)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from fakescope.data.transforms import InputSpec
from fakescope.models.pretrained import NO_WEIGHTS, Pretrained
from fakescope.models.registry import Detector, register_detector
from fakescope.models.weights import apply_pretrained

TINY = "detect_test_tiny"


class TinyDetector(Detector):
    """Two strided convs with BatchNorm, pooling, dropout and a linear head."""

    input_spec = InputSpec(size=32)

    def __init__(self, num_logits: int = 1, dropout: float = 0.2) -> None:
        super().__init__()
        self.num_logits = num_logits
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),  # 8 x 16 x 16
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),  # 16 x 8 x 8
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(16, num_logits)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.head.parameters()

    def gradcam_layer(self) -> nn.Module:
        return self.body[3]


@register_detector(TINY, "test-only two-conv detector")
def tiny_detector(pretrained: Pretrained = NO_WEIGHTS, **kwargs: Any) -> Detector:
    return apply_pretrained(TinyDetector(**kwargs), pretrained)
