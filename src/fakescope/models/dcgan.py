"""DCGAN generator and discriminator for any power-of-two resolution from 32 to 256.

Both networks are stacks of 4x4 (transposed) convolutions that double or halve the side, as in
Radford et al.; they are built from (resolution, z_dim, base width, BatchNorm layers, activation):

    G: z (z_dim x 1 x 1) -> 4x4 -> 8x8 -> ... -> resolution, Tanh          (paper 000 Tables II, V)
    D: image -> resolution/2 -> ... -> 4x4 -> one logit (Sigmoid left out)  (paper 000 Tables I, IV)

Hidden widths double from `base_width` (the block next to the image) toward the 4x4 block; the
default base width puts 512 channels next to 4x4, which is every paper's choice: 64 at 64x64,
32 at 128x128. No convolution has a bias, as in the papers (BatchNorm's shift replaces it), so
parameter counts equal the papers' figures.

The discriminator also serves as a detector (paper 000): `DiscriminatorDetector` wraps it in the
`Detector` contract, registered as `dcgan_disc64`, `dcgan_disc128` and `dcgan_disc` (any size).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from fakescope.data.transforms import MINUS_ONE_ONE_MEAN, MINUS_ONE_ONE_STD, InputSpec
from fakescope.models.batchnorm import average_batchnorm_statistics
from fakescope.models.registry import Detector, register_detector
from fakescope.runs import CheckpointError, load_checkpoint

RESOLUTIONS = (32, 64, 128, 256)
TOP_WIDTH = 512  # channels of the 4x4 block when no base width is given
LEAK = 0.2
ZDist = Literal["normal", "uniform"]
Activation = Literal["relu", "leaky_relu"]


def num_hidden_blocks(resolution: int) -> int:
    """Stride-2 steps between 4x4 and the image, which is also the hidden block count."""
    if resolution not in RESOLUTIONS:
        choices = ", ".join(str(r) for r in RESOLUTIONS)
        raise ValueError(f"DCGAN resolution must be one of {choices}, got {resolution}")
    return resolution.bit_length() - 1 - 2  # log2(resolution) - log2(4)


def hidden_widths(resolution: int, base_width: int | None = None) -> list[int]:
    """Channels of each hidden block, from the image side (base) to the 4x4 side."""
    n = num_hidden_blocks(resolution)
    base = base_width if base_width is not None else max(1, TOP_WIDTH >> (n - 1))
    if base < 1:
        raise ValueError(f"DCGAN base width must be positive, got {base}")
    return [base << i for i in range(n)]


def _bn_set(layers: Sequence[int] | None, default: Sequence[int], n: int, net: str) -> set[int]:
    chosen = set(default if layers is None else layers)
    bad = sorted(i for i in chosen if not 0 <= i < n)
    if bad:
        raise ValueError(f"{net} BatchNorm layer {bad[0]} out of range: blocks are 0..{n - 1}")
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
    raise ValueError(f"unknown activation '{name}' (use relu or leaky_relu)")


class Generator(nn.Module):
    """z -> image in [-1, 1]. Honours the generator contract: `z_dim`, `z_dist`, `sample(n)`."""

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
        if z_dist not in ("normal", "uniform"):
            raise ValueError(f"unknown z distribution '{z_dist}' (use normal or uniform)")
        if z_dim < 1:
            raise ValueError(f"z_dim must be positive, got {z_dim}")
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

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None, device: torch.device | None = None
    ) -> torch.Tensor:
        """n latent vectors (n, z_dim) from the noise distribution, on `device` (default: the
        module's). They are drawn on `generator`'s device, so a CPU generator gives the same
        latents whatever device the network runs on."""
        target = device if device is not None else next(self.parameters()).device
        source = generator.device if generator is not None else target
        if self.z_dist == "uniform":
            z = torch.rand(n, self.z_dim, generator=generator, device=source) * 2 - 1
        else:
            z = torch.randn(n, self.z_dim, generator=generator, device=source)
        return z.to(target)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.blocks(z.view(z.shape[0], self.z_dim, 1, 1))
        return self.to_image(x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images in [-1, 1] (n, 3, R, R).

        Runs with BatchNorm's running statistics (eval mode), so an image depends only on its
        latent, not on the rest of its batch; the module's mode is restored afterwards.
        """
        was_training = self.training
        self.eval()
        try:
            return self(self.sample_latent(n, generator))
        finally:
            self.train(was_training)


    def calibrate_batchnorm(
        self, batches: int, batch_size: int, generator: torch.Generator | None = None
    ) -> None:
        """Set BatchNorm's running statistics to their exact mean over fresh latent batches.

        During training they follow the weights with momentum 0.1, so they lag behind (early on
        they still hold the initial 0 and 1) and eval-mode samples come out flat and alike.
        Recomputing them for the current weights ("precise BatchNorm") makes eval-mode samples
        match training-mode ones; training itself never reads these statistics.
        """
        latents = (self.sample_latent(batch_size, generator) for _ in range(batches))
        average_batchnorm_statistics(self, latents)


class Discriminator(nn.Module):
    """image in [-1, 1] -> one logit per image, high for real (apply a Sigmoid for D(x))."""

    def __init__(
        self,
        resolution: int = 64,
        base_width: int | None = None,
        bn_layers: Sequence[int] | None = None,
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

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The head's input, flattened: (N, top width x 4 x 4)."""
        return self.blocks(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x)).view(-1, 1)


class DiscriminatorDetector(Detector):
    """A DCGAN discriminator used as a real-vs-fake detector (paper 000, Fig. 4).

    The discriminator's logit says "real"; the detector contract's logit says "fake", so the
    detector returns its negation: sigmoid(-logit) = 1 - D(x) = P(fake). Same parameters.
    """

    num_logits = 1

    def __init__(
        self,
        resolution: int = 64,
        base_width: int | None = None,
        bn_layers: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.discriminator = Discriminator(resolution, base_width, bn_layers)
        self.architecture = {
            "resolution": resolution, "base_width": base_width,
            "bn_layers": list(bn_layers) if bn_layers is not None else None,
        }
        self.input_spec = InputSpec(
            size=resolution, mean=MINUS_ONE_ONE_MEAN, std=MINUS_ONE_ONE_STD,
            resize="short_side_crop",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -self.discriminator(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator.features(x)

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.discriminator.head.parameters()

    def gradcam_layer(self) -> nn.Module:
        return self.discriminator.blocks[-1]

    def rebuild_kwargs(self) -> dict[str, Any]:
        # The architecture may have come from a GAN checkpoint rather than from kwargs.
        return {**self.architecture, **super().rebuild_kwargs()}


def discriminator_weights(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(architecture kwargs, Discriminator state dict) from a GAN or a detector checkpoint."""
    payload = load_checkpoint(path)
    kind = payload.get("kind")
    if kind == "gan":
        return dict(payload["discriminator_kwargs"]), payload["discriminator"]
    if kind == "detector" and payload["detector"]["name"].startswith("dcgan_disc"):
        prefix = "discriminator."
        state = {k[len(prefix):]: v for k, v in payload["state_dict"].items()}
        return dict(payload["detector"]["kwargs"]), state
    raise CheckpointError(
        f"{path} holds no DCGAN discriminator (a '{kind}' checkpoint); pass a GAN checkpoint "
        "or a detector exported with `fakescope gan export-detector`"
    )


def build_discriminator_detector(
    fixed_resolution: int | None, pretrained: str = "none", **kwargs: Any
) -> DiscriminatorDetector:
    """A discriminator detector, fresh (`none`) or with weights from a GAN/detector checkpoint.

    A checkpoint also supplies the architecture; explicit kwargs take precedence. Registered
    names with a resolution in them (`fixed_resolution`) accept only that resolution.
    """
    if pretrained == "imagenet":
        raise ValueError("DCGAN discriminators have no ImageNet weights: use none or a checkpoint")
    state = None
    if pretrained != "none":
        arch, state = discriminator_weights(pretrained)
        kwargs = {**arch, **kwargs}
    if fixed_resolution is not None:
        resolution = kwargs.setdefault("resolution", fixed_resolution)
        if resolution != fixed_resolution:
            raise ValueError(
                f"this detector is {fixed_resolution}x{fixed_resolution}, the discriminator "
                f"asked for is {resolution}x{resolution}: use dcgan_disc"
            )
    model = DiscriminatorDetector(**kwargs)
    if state is not None:
        try:
            model.discriminator.load_state_dict(state)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[-1].strip()
            raise CheckpointError(
                f"{pretrained}: weights do not fit the architecture ({first})"
            ) from err
    return model


@register_detector("dcgan_disc64", "DCGAN discriminator, 64x64 (paper 000 Table IV), as a detector")
def dcgan_disc64(pretrained: str = "none", **kwargs: Any) -> Detector:
    return build_discriminator_detector(64, pretrained, **kwargs)


@register_detector(
    "dcgan_disc128", "DCGAN discriminator, 128x128 (paper 000 Table I), as a detector"
)
def dcgan_disc128(pretrained: str = "none", **kwargs: Any) -> Detector:
    return build_discriminator_detector(128, pretrained, **kwargs)


@register_detector("dcgan_disc", "DCGAN discriminator of any resolution (32-256), as a detector")
def dcgan_disc(pretrained: str = "none", **kwargs: Any) -> Detector:
    return build_discriminator_detector(None, pretrained, **kwargs)
