"""DCGAN generator and discriminator for any power-of-two resolution from 32 to 256.

Both networks are stacks of 4x4 (transposed) convolutions that double or halve the side, as in
Radford et al.; they are built from (resolution, z_dim, base width, BatchNorm layers, activation):

    G: z (z_dim x 1 x 1) -> 4x4 -> 8x8 -> ... -> resolution, Tanh          (paper 000 Tables II, V)
    D: image -> resolution/2 -> ... -> 4x4 -> one logit (Sigmoid left out)  (paper 000 Tables I, IV)

Hidden widths double from `base_width` (the block next to the image) toward the 4x4 block; the
default base width puts 512 channels next to 4x4, which is every paper's choice: 64 at 64x64,
32 at 128x128. No convolution has a bias, as in the papers (BatchNorm's shift replaces it), so
parameter counts equal the papers' figures.

The pair is registered as the GAN architecture `dcgan`; its discriminator also serves as a
detector (paper 000, see fakescope.models.discriminator_detector).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from fakescope.config import ConfigError
from fakescope.models.gan_registry import (
    GanArchitecture,
    ImageDiscriminator,
    ImageGenerator,
    ZDist,
    apply_spectral_norm,
    check_latent,
    register_gan,
)

RESOLUTIONS = (32, 64, 128, 256)
TOP_WIDTH = 512  # channels of the 4x4 block when no base width is given
LEAK = 0.2
Activation = Literal["relu", "leaky_relu"]


def num_hidden_blocks(resolution: int) -> int:
    """Stride-2 steps between 4x4 and the image, which is also the hidden block count."""
    if resolution not in RESOLUTIONS:
        choices = ", ".join(str(r) for r in RESOLUTIONS)
        raise ConfigError(f"DCGAN resolution must be one of {choices}, got {resolution}")
    return resolution.bit_length() - 1 - 2  # log2(resolution) - log2(4)


def hidden_widths(resolution: int, base_width: int | None = None) -> list[int]:
    """Channels of each hidden block, from the image side (base) to the 4x4 side."""
    n = num_hidden_blocks(resolution)
    base = base_width if base_width is not None else max(1, TOP_WIDTH >> (n - 1))
    if base < 1:
        raise ConfigError(f"DCGAN base width must be positive, got {base}")
    return [base << i for i in range(n)]


def _bn_set(layers: Sequence[int] | None, default: Sequence[int], n: int, net: str) -> set[int]:
    chosen = set(default if layers is None else layers)
    bad = sorted(i for i in chosen if not 0 <= i < n)
    if bad:
        raise ConfigError(f"{net} BatchNorm layer {bad[0]} out of range: blocks are 0..{n - 1}")
    return chosen


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN init: conv weights N(0, 0.02), BatchNorm weight N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "leaky_relu":
        return nn.LeakyReLU(LEAK, inplace=True)
    raise ConfigError(f"unknown activation '{name}' (use relu or leaky_relu)")


class Generator(ImageGenerator):
    """z -> image in [-1, 1], the papers' DCGAN generator (the `ImageGenerator` contract)."""

    def __init__(
        self,
        resolution: int = 64,
        z_dim: int = 100,
        z_dist: ZDist = "normal",
        base_width: int | None = None,
        bn_layers: Sequence[int] | None = None,
        activation: Activation = "relu",
    ) -> None:
        super().__init__()
        check_latent(z_dim, z_dist)
        self.resolution, self.z_dim, self.z_dist = resolution, z_dim, z_dist
        widths = hidden_widths(resolution, base_width)[::-1]  # 4x4 side first
        # Block i of G counts from the 4x4 block; default: BatchNorm on every hidden block.
        with_bn = _bn_set(bn_layers, range(len(widths)), len(widths), "generator")
        blocks: list[nn.Module] = []
        in_channels = z_dim
        for i, width in enumerate(widths):
            stride, padding = (1, 0) if i == 0 else (2, 1)
            # i == 0: z_dim x 1 x 1 -> width x 4 x 4; then each block: side x 2, channels / 2
            layers: list[nn.Module] = [
                nn.ConvTranspose2d(in_channels, width, 4, stride, padding, bias=False)
            ]
            if i in with_bn:
                layers.append(nn.BatchNorm2d(width))
            layers.append(_activation(activation))
            blocks.append(nn.Sequential(*layers))
            in_channels = width
        self.blocks = nn.Sequential(*blocks)
        # base x (resolution/2)^2 -> 3 x resolution x resolution
        self.to_image = nn.Sequential(
            nn.ConvTranspose2d(in_channels, 3, 4, 2, 1, bias=False), nn.Tanh()
        )
        init_dcgan_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.blocks(z.view(z.shape[0], self.z_dim, 1, 1))
        return self.to_image(x)


class Discriminator(ImageDiscriminator):
    """image in [-1, 1] -> one logit per image, high for real (apply a Sigmoid for D(x))."""

    def __init__(
        self,
        resolution: int = 64,
        base_width: int | None = None,
        bn_layers: Sequence[int] | None = None,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        widths = hidden_widths(resolution, base_width)  # image side first
        # Block i of D counts from the image; default: BatchNorm on all but the first block.
        with_bn = _bn_set(bn_layers, range(1, len(widths)), len(widths), "discriminator")
        blocks: list[nn.Module] = []
        in_channels = 3
        for i, width in enumerate(widths):
            # each block: side / 2 (resolution -> ... -> 4), channels -> width
            layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1, bias=False)]
            if i in with_bn:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(LEAK, inplace=True))
            blocks.append(nn.Sequential(*layers))
            in_channels = width
        self.blocks = nn.Sequential(*blocks)
        # top x 4 x 4 -> 1 x 1 x 1
        self.head = nn.Conv2d(in_channels, 1, 4, 1, 0, bias=False)
        init_dcgan_weights(self)
        if spectral_norm:  # off in every paper preset (their exact networks)
            apply_spectral_norm(self)



DCGAN = register_gan(GanArchitecture(
    name="dcgan",
    description="the papers' DCGAN: 4x4 (transposed) convolutions, BatchNorm (Radford et al.)",
    generator=Generator,
    discriminator=Discriminator,
    generator_keys={"resolution": "resolution", "z_dim": "z_dim", "z_dist": "z_dist",
                    "base_width": "base_width", "g_bn_layers": "bn_layers",
                    "g_activation": "activation"},
    discriminator_keys={"resolution": "resolution", "base_width": "base_width",
                        "d_bn_layers": "bn_layers", "d_spectral_norm": "spectral_norm"},
))
