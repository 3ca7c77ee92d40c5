"""One registry of GAN architectures: each name builds a generator and its own discriminator.

Every generator honours one contract (`ImageGenerator`): `resolution`, `z_dim`, `z_dist`,
`sample_latent(n)`, `sample(n)` and forward z -> images in [-1, 1]; every discriminator honours
`ImageDiscriminator`: forward image -> one logit per image (high for real), `features(x)` and
`gradcam_layer()`. Training, sampling, metrics, `generate` and `export-detector` only use these,
so any registered architecture goes through all of them.

An architecture also names the GAN model-config fields it reads (`generator_keys`,
`discriminator_keys`: config field -> constructor argument), so a config can be turned into
constructor arguments without the models knowing about configs, and a field an architecture
ignores can be refused instead of silently dropped.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from fakescope.config import ConfigError
from fakescope.errors import UnknownNameError
from fakescope.models.batchnorm import average_batchnorm_statistics

ZDist = Literal["normal", "uniform"]

# Modules whose import registers GAN architectures; imported on first use of the registry.
_GAN_MODULES = ("fakescope.models.dcgan", "fakescope.models.fastgan_lite")


class ImageGenerator(nn.Module):
    """z (N, z_dim) -> images (N, 3, resolution, resolution) in [-1, 1]."""

    resolution: int
    z_dim: int
    z_dist: ZDist

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

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images in [-1, 1] (n, 3, R, R).

        Runs in eval mode (BatchNorm's running statistics), so an image depends only on its
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


class ImageDiscriminator(nn.Module):
    """images in [-1, 1] -> one logit per image (N, 1), high for real.

    Subclasses build `blocks` (image -> a 4x4 feature map) and `head` (that map -> one logit)."""

    resolution: int
    blocks: nn.Sequential
    head: nn.Module

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The head's input, flattened (N, F)."""
        return self.blocks(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x)).view(-1, 1)

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.head.parameters()

    def gradcam_layer(self) -> nn.Module:
        """The last convolutional block, whose activations Grad-CAM explains."""
        return self.blocks[-1]


def check_latent(z_dim: int, z_dist: str) -> None:
    if z_dist not in ("normal", "uniform"):
        raise ConfigError(f"unknown z distribution '{z_dist}' (use normal or uniform)")
    if z_dim < 1:
        raise ConfigError(f"z_dim must be positive, got {z_dim}")


@dataclass(frozen=True)
class GanArchitecture:
    name: str
    description: str
    generator: Callable[..., ImageGenerator]
    discriminator: Callable[..., ImageDiscriminator]
    generator_keys: Mapping[str, str]  # model-config field -> generator argument
    discriminator_keys: Mapping[str, str]  # model-config field -> discriminator argument

    def config_keys(self) -> set[str]:
        return set(self.generator_keys) | set(self.discriminator_keys)


_ARCHITECTURES: dict[str, GanArchitecture] = {}


def register_gan(architecture: GanArchitecture) -> GanArchitecture:
    if architecture.name in _ARCHITECTURES:
        raise ValueError(f"GAN architecture '{architecture.name}' is registered twice")
    _ARCHITECTURES[architecture.name] = architecture
    return architecture


def gan_architecture(name: str) -> GanArchitecture:
    for module in _GAN_MODULES:
        importlib.import_module(module)
    if name not in _ARCHITECTURES:
        known = ", ".join(sorted(_ARCHITECTURES))
        raise UnknownNameError(f"unknown GAN architecture '{name}' (registered: {known})")
    return _ARCHITECTURES[name]


def list_gan_architectures() -> dict[str, str]:
    """Registered architecture names and one-line descriptions."""
    for module in _GAN_MODULES:
        importlib.import_module(module)
    return {name: arch.description for name, arch in sorted(_ARCHITECTURES.items())}


def build_generator(name: str, **kwargs: Any) -> ImageGenerator:
    return gan_architecture(name).generator(**kwargs)


def build_discriminator(name: str, **kwargs: Any) -> ImageDiscriminator:
    return gan_architecture(name).discriminator(**kwargs)


def apply_spectral_norm(module: nn.Module) -> None:
    """Spectral normalisation (Miyato et al. 2018) on every convolution and linear layer: each
    weight is divided by its largest singular value (one power iteration per forward pass), which
    bounds D's Lipschitz constant and keeps its gradients informative for G."""
    from torch.nn.utils.parametrizations import spectral_norm

    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Conv2d, nn.Linear)):
            setattr(module, name, spectral_norm(child))
        else:
            apply_spectral_norm(child)
