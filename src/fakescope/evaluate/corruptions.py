"""Corruptions of uint8 pictures (N, 3, H, W) that images meet after they leave a generator:
re-compression, blur, down-scaling and noise. `robustness` sweeps them; calibration scores
validation copies under a few of them so its band and temperature allow for such shifts.
Each takes (images, strength, seed) and returns uint8 pictures of the same shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torchvision.transforms.v2 import functional as TF

from fakescope.data.transforms import jpeg_roundtrip

Corruption = Callable[[torch.Tensor, float, int], torch.Tensor]
# What scoring applies to each batch: (pictures, batch number) -> corrupted pictures
BatchPerturbation = Callable[[torch.Tensor, int], torch.Tensor]


def jpeg(images: torch.Tensor, quality: float, seed: int) -> torch.Tensor:
    return torch.stack([jpeg_roundtrip(image, int(quality)) for image in images])


def blur(images: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    if sigma <= 0:
        return images
    kernel = 2 * math.ceil(3 * sigma) + 1  # covers +-3 sigma
    return TF.gaussian_blur(images, [kernel, kernel], [sigma, sigma])


def downscale(images: torch.Tensor, factor: float, seed: int) -> torch.Tensor:
    if factor >= 1:
        return images
    # pictures scored at native resolution need not be square
    height, width = images.shape[-2:]
    small = [max(1, round(height * factor)), max(1, round(width * factor))]
    shrunk = TF.resize(images, small, antialias=True)
    return TF.resize(shrunk, [height, width], antialias=True)


def noise(images: torch.Tensor, std: float, seed: int) -> torch.Tensor:
    if std <= 0:
        return images
    gen = torch.Generator().manual_seed(seed)
    jitter = torch.randn(images.shape, generator=gen) * (std * 255.0)
    return (images.float() + jitter).round().clamp(0, 255).to(torch.uint8)


CORRUPTIONS: dict[str, Corruption] = {
    "jpeg": jpeg,
    "blur": blur,
    "downscale": downscale,
    "noise": noise,
}


def perturbation(kind: str, strength: float, seed: int = 0) -> BatchPerturbation:
    """Corruption `kind` at `strength` for scoring: batch `number` is drawn with seed
    `seed + number`, so every model sees the same corrupted pictures."""
    corruption = CORRUPTIONS[kind]
    return lambda images, number: corruption(images, strength, seed + number)
