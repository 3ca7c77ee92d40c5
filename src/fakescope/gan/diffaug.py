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


def _randint(low: int, high: int, n: int, like: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """n integers in [low, high), one per image, on `like`'s device."""
    return torch.randint(low, high, (n,), generator=gen, device=gen.device).to(like.device)


def translation(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """out[i, j] = x[i + dy, j + dx], zero where that falls outside; two gathers on a padded
    copy (rows, then columns), which costs far less than indexing every pixel."""
    n, c, h, w = x.shape
    sh, sw = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    dy = _randint(-sh, sh + 1, n, x, generator)
    dx = _randint(-sw, sw + 1, n, x, generator)
    padded = F.pad(x, [sw, sw, sh, sh])  # N, C, H + 2sh, W + 2sw
    rows = torch.arange(h, device=x.device) + sh + dy[:, None]  # N, H
    x = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * sw))
    cols = torch.arange(w, device=x.device) + sw + dx[:, None]  # N, W
    return x.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def cutout(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Zero a square of half the side, centred anywhere in the image (clipped at its edges)."""
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    top = _randint(0, h + (1 - ch % 2), n, x, generator) - ch // 2
    left = _randint(0, w + (1 - cw % 2), n, x, generator) - cw // 2
    rows = torch.arange(h, device=x.device)[None, :] - top[:, None]  # N, H
    cols = torch.arange(w, device=x.device)[None, :] - left[:, None]  # N, W
    inside = ((rows >= 0) & (rows < ch))[:, :, None] & ((cols >= 0) & (cols < cw))[:, None, :]
    return x * (~inside).to(x.dtype).unsqueeze(1)


_TRANSFORMS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "color": color, "translation": translation, "cutout": cutout,
}


def diff_augment(
    x: torch.Tensor, policy: Sequence[str], generator: torch.Generator
) -> torch.Tensor:
    """`x` (images in [-1, 1]) through each transform of `policy` in order, fresh draws per image;
    an empty policy returns `x` itself."""
    for name in policy:
        x = _TRANSFORMS[name](x, generator)
    return x
