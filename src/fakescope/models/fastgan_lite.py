"""A light GAN for small data on a CPU: up-sample + convolution with skip-layer excitation.

The generator follows FastGAN (Liu et al., ICLR 2021, "Towards Faster and Stabilized GAN Training
for High-fidelity Few-shot Image Synthesis") in a form small enough for a laptop CPU:

    z (z_dim) -> 4x4 (transposed conv, BatchNorm, LeakyReLU)
    each doubling up to half the resolution: nearest-neighbour up-sample -> 3x3 conv ->
        BatchNorm -> LeakyReLU (FastGAN's GLU would double every conv's cost)
    skip-layer excitation (SLE): the 4x4 features gate the channels of the 16x16 ones, the 8x8
        features those of the 32x32 ones (always 4x smaller), so coarse layout reaches fine
        layers in one hop, a cheap global path instead of residual blocks
    last doubling: up-sample -> 3x3 conv -> 3 channels -> Tanh

Up-sampling by nearest neighbour then convolving avoids the uneven kernel overlap of strided
transposed convolutions (Odena et al., Distill 2016), though early in training its samples still
show 2x2 blocks from the last up-sampling step. Widths halve toward the image from
`max_width`, with `base_width` channels next to it; the last step goes straight from half
resolution to RGB, so no hidden feature map is ever stored at full resolution. At 64x64 with
widths (16, 128) the generator has 385,683 parameters and the discriminator 186,129. At the
demo's budget (two CPU minutes) a slim DCGAN of the same size learned faster
(benchmarks/results/gan_ablation.md), so the small_data preset uses that; this pair is here for
longer runs and as a second generator family for detectors to be tested against.

The discriminator is a residual stack of stride-2 4x4 convolutions with an average-pool shortcut
(FastGAN's DownBlockComp without the extra conv), LeakyReLU, no BatchNorm (so an R1 penalty and
spectral normalisation apply cleanly), and a 4x4 conv to one logit.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from fakescope.config import ConfigError
from fakescope.models.dcgan import LEAK, init_dcgan_weights, num_hidden_blocks
from fakescope.models.gan_registry import (
    GanArchitecture,
    ImageDiscriminator,
    ImageGenerator,
    ZDist,
    apply_spectral_norm,
    check_latent,
    register_gan,
)

SLE_RATIO = 4  # a target layer is excited by the features this many times smaller
SLE_MIN_SIDE = 16  # layers from this side on are excited


def generator_widths(resolution: int, base_width: int, max_width: int) -> list[int]:
    """Channels at 4x4, 8x8, ..., resolution / 2: base_width next to the image, doubling toward
    4x4, capped at max_width."""
    n = num_hidden_blocks(resolution)  # sides 4 .. resolution / 2
    if base_width < 1 or max_width < base_width:
        raise ConfigError(f"widths must satisfy 1 <= base_width <= max_width, got {base_width}, "
                         f"{max_width}")
    return [min(max_width, base_width << (n - 1 - i)) for i in range(n)]


class UpBlock(nn.Sequential):
    """in x S x S -> out x 2S x 2S: nearest up-sample, 3x3 conv, BatchNorm, LeakyReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(LEAK, inplace=True),
        )


class SkipLayerExcitation(nn.Module):
    """Channel gates for a large feature map computed from a small one (FastGAN's SLE)."""

    def __init__(self, source_channels: int, target_channels: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),  # source x 4 x 4
            nn.Conv2d(source_channels, target_channels, 4, 1, 0, bias=False),  # target x 1 x 1
            nn.SiLU(),
            nn.Conv2d(target_channels, target_channels, 1, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return target * self.gate(source)


class FastGanLiteGenerator(ImageGenerator):
    def __init__(
        self,
        resolution: int = 64,
        z_dim: int = 100,
        z_dist: ZDist = "normal",
        base_width: int = 16,
        max_width: int = 256,
    ) -> None:
        super().__init__()
        check_latent(z_dim, z_dist)
        self.resolution, self.z_dim, self.z_dist = resolution, z_dim, z_dist
        widths = generator_widths(resolution, base_width, max_width)  # 4x4 side first
        # z_dim x 1 x 1 -> widths[0] x 4 x 4
        self.initial = nn.Sequential(
            nn.ConvTranspose2d(z_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.LeakyReLU(LEAK, inplace=True),
        )
        # block i: widths[i] x S x S -> widths[i + 1] x 2S x 2S (S = 4 * 2^i)
        self.ups = nn.ModuleList(UpBlock(a, b) for a, b in itertools.pairwise(widths))
        # excitation of level j (side 4 * 2^j >= 16) by level j - 2 (4x smaller)
        shift = SLE_RATIO.bit_length() - 1
        self.sle_levels = [j for j in range(len(widths)) if 4 << j >= SLE_MIN_SIDE]
        self.sles = nn.ModuleList(
            SkipLayerExcitation(widths[j - shift], widths[j]) for j in self.sle_levels
        )
        self.shift = shift
        # widths[-1] x R/2 x R/2 -> 3 x R x R: no hidden features at full resolution, where a
        # 3x3 conv would cost the most
        self.to_image = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(widths[-1], 3, 3, 1, 1),
            nn.Tanh(),
        )
        init_dcgan_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.initial(z.view(z.shape[0], self.z_dim, 1, 1))
        levels = [x]
        sles = dict(zip(self.sle_levels, self.sles, strict=True))
        for j, up in enumerate(self.ups, start=1):
            x = up(x)
            if j in sles:
                x = sles[j](levels[j - self.shift], x)
            levels.append(x)
        return self.to_image(x)


class DownBlock(nn.Module):
    """in x S x S -> out x S/2 x S/2: (4x4 stride-2 conv, LeakyReLU) + (avg-pool, 1x1 conv)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 4, 2, 1), nn.LeakyReLU(LEAK)
        )
        self.skip = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.skip(x)) * 0.5


class FastGanLiteDiscriminator(ImageDiscriminator):
    def __init__(
        self, resolution: int = 64, base_width: int = 32, max_width: int = 256,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        n = num_hidden_blocks(resolution)
        widths = [min(max_width, base_width << i) for i in range(n)]  # image side first
        blocks: list[nn.Module] = []
        in_channels = 3
        for width in widths:  # each block: side / 2 (resolution -> ... -> 4)
            blocks.append(DownBlock(in_channels, width))
            in_channels = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(in_channels, 1, 4, 1, 0)  # top x 4 x 4 -> 1 x 1 x 1
        init_dcgan_weights(self)
        if spectral_norm:
            apply_spectral_norm(self)



FASTGAN_LITE = register_gan(GanArchitecture(
    name="fastgan_lite",
    description="up-sample + conv generator with skip-layer excitation (FastGAN, light), "
                "residual discriminator; for small data on a CPU",
    generator=FastGanLiteGenerator,
    discriminator=FastGanLiteDiscriminator,
    generator_keys={"resolution": "resolution", "z_dim": "z_dim", "z_dist": "z_dist",
                    "base_width": "base_width", "max_width": "max_width"},
    discriminator_keys={"resolution": "resolution", "d_base_width": "base_width",
                        "max_width": "max_width", "d_spectral_norm": "spectral_norm"},
))
