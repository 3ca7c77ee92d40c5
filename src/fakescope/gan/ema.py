"""An exponential moving average of the generator's weights, used for every sample it shows.

The raw generator's weights swing from step to step as it chases the discriminator; their
average over the last few thousand images gives steadier, better samples for free (Karras et al.
2018; Yazıcı et al., ICLR 2019). The half-life is counted in images, as in StyleGAN2-ADA, and
ramps up with the run's length, so a short run's average is not dominated by its random start.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from fakescope.models.gan_registry import ImageGenerator


def ema_beta(half_life_images: float, images_seen: int, batch: int, rampup: float | None) -> float:
    """The weight the average keeps per step of `batch` images: 0.5 ** (batch / half-life), the
    half-life capped at `rampup` x images seen so far (None: no ramp)."""
    half_life = half_life_images
    if rampup is not None:
        half_life = min(half_life, images_seen * rampup)
    return 0.5 ** (batch / max(half_life, 1e-8))


class GeneratorAverage:
    """A frozen copy of the generator whose weights follow the training ones' moving average;
    buffers (BatchNorm statistics) are copied as they are."""

    def __init__(
        self, generator: ImageGenerator, half_life_images: float, rampup: float | None
    ) -> None:
        self.model: ImageGenerator = copy.deepcopy(generator).eval().requires_grad_(False)
        self.half_life_images, self.rampup = half_life_images, rampup

    @torch.no_grad()
    def update(self, generator: nn.Module, images_seen: int, batch: int) -> None:
        beta = ema_beta(self.half_life_images, images_seen, batch, self.rampup)
        for averaged, current in zip(self.model.parameters(), generator.parameters(), strict=True):
            averaged.lerp_(current.detach(), 1.0 - beta)
        for buffer, source in zip(self.model.buffers(), generator.buffers(), strict=True):
            buffer.copy_(source)
