"""Differentiable augmentation for GAN training (Zhao et al., NeurIPS 2020, "Differentiable
Augmentation for Data-Efficient GAN Training").

With little data, D memorises the real images and its feedback to G turns to noise. Augmenting
every image D sees, real and generated alike, with the same random, differentiable transforms
keeps D from memorising while G still learns the un-augmented distribution: the transforms are
differentiable, so G's gradient flows back through them. The three policies of the paper:

    color        brightness +U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5)
    translation  shift by up to 1/8 of the side, zero padding
    cutout       a square of half the side set to zero

Every draw comes from the `torch.Generator` passed in, so a run's augmentations are seeded and
resume exactly (the trainer checkpoints that generator's state).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def _uniform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One U(0, 1) per image, shaped to broadcast over (C, H, W)."""
    return torch.rand(x.shape[0], 1, 1, 1, generator=generator, device=generator.device).to(
        x.device, x.dtype
    )


def color(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    x = x + (_uniform(x, generator) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(x, generator) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, generator) + 0.5) + mean


def _randint(low: int, high: int, n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(low, high, (n, 1, 1), generator=generator, device=generator.device)


def translation(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    dy = _randint(-sh, sh + 1, n, generator).to(x.device)
    dx = _randint(-sw, sw + 1, n, generator).to(x.device)
    batch, rows, cols = torch.meshgrid(
        torch.arange(n, device=x.device), torch.arange(h, device=x.device),
        torch.arange(w, device=x.device), indexing="ij",
    )
    # Index into a copy padded by one zero pixel; positions that fall outside read the padding.
    rows = torch.clamp(rows + dy + 1, 0, h + 1)
    cols = torch.clamp(cols + dx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # N, H + 2, W + 2, C
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    oy = _randint(0, h + (1 - ch % 2), n, generator).to(x.device)
    ox = _randint(0, w + (1 - cw % 2), n, generator).to(x.device)
    batch, rows, cols = torch.meshgrid(
        torch.arange(n, device=x.device), torch.arange(ch, device=x.device),
        torch.arange(cw, device=x.device), indexing="ij",
    )
    rows = torch.clamp(rows + oy - ch // 2, 0, h - 1)
    cols = torch.clamp(cols + ox - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, device=x.device, dtype=x.dtype)
    mask[batch, rows, cols] = 0
    return x * mask.unsqueeze(1)


_TRANSFORMS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "color": color, "translation": translation, "cutout": cutout,
}


def check_policy(policy: Sequence[str]) -> None:
    unknown = [p for p in policy if p not in _TRANSFORMS]
    if unknown:
        raise ValueError(f"unknown augmentation '{unknown[0]}' (use {', '.join(POLICIES)})")


def diff_augment(
    x: torch.Tensor, policy: Sequence[str], generator: torch.Generator
) -> torch.Tensor:
    """`x` (images in [-1, 1]) through each transform of `policy` in order, fresh draws per image;
    an empty policy returns `x` itself."""
    for name in policy:
        x = _TRANSFORMS[name](x, generator)
    return x
