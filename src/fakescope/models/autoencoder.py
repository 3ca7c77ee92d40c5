"""A small convolutional autoencoder whose reconstructions are a generator family of their own.

DRCT (Chen et al., ICML 2024) trains detectors on reconstructions of real images: the content is
real, only the pixels are generated, so a detector must read how pixels were made rather than
what they show. This encoder halves the resolution three times with strided convolutions down to
a `latent_channels`-deep bottleneck; the decoder grows it back with one of three up-samplers:

    pixel_shuffle  sub-pixel convolution (3x3 conv to 4x the channels, then PixelShuffle); the
                   default, and the held-out `autoencoder` family of `fakescope data multigen`
    transpose      4x4 transposed convolution, stride 2 (DCGAN's up-sampler)
    upsample       nearest-neighbour up-sampling, then a 3x3 conv (fastgan_lite's)

Each leaves its own pixel traces, so detectors trained on reconstructions of one decoder can be
measured on another's. Images are in [-1, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from fakescope.checkpoints import load_kind, save_checkpoint

AUTOENCODER_KIND = "autoencoder"
DOWNSAMPLINGS = 3  # the side must be divisible by 2**3
DECODERS = ("pixel_shuffle", "transpose", "upsample")


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


def _upsampler(decoder: str, channels: int, out: int) -> list[nn.Module]:
    """Layers that double the side and map `channels` to `out` channels."""
    if decoder == "pixel_shuffle":
        return [nn.Conv2d(channels, out * 4, 3, padding=1), nn.PixelShuffle(2)]
    if decoder == "transpose":
        return [nn.ConvTranspose2d(channels, out, 4, stride=2, padding=1)]
    if decoder == "upsample":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(channels, out, 3, padding=1)]
    raise ValueError(f"unknown autoencoder decoder '{decoder}' (choose from {', '.join(DECODERS)})")


class ConvAutoencoder(nn.Module):
    def __init__(self, width: int = 16, latent_channels: int = 16,
                 decoder: str = "pixel_shuffle") -> None:
        super().__init__()
        widths = [width * 2**i for i in range(DOWNSAMPLINGS)]  # 16, 32, 64 by default
        encoder: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, padding=1), _act()]
        channels = widths[0]
        for out in widths:
            encoder += [nn.Conv2d(channels, out, 4, stride=2, padding=1), _act()]
            channels = out
        encoder.append(nn.Conv2d(channels, latent_channels, 1))
        self.encoder = nn.Sequential(*encoder)
        layers: list[nn.Module] = [nn.Conv2d(latent_channels, channels, 3, padding=1), _act()]
        for out in reversed(widths):
            layers += [*_upsampler(decoder, channels, out), _act()]
            channels = out
        layers += [nn.Conv2d(channels, 3, 3, padding=1), nn.Tanh()]
        self.decoder = nn.Sequential(*layers)
        # Checkpoints from before the decoder choice lack the key: they load as pixel_shuffle.
        self.kwargs: dict[str, Any] = {"width": width, "latent_channels": latent_channels,
                                       "decoder": decoder}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        side = 2**DOWNSAMPLINGS
        if x.shape[-1] % side or x.shape[-2] % side:
            raise ValueError(f"autoencoder input sides must be divisible by {side}, got "
                             f"{tuple(x.shape[-2:])}")
        return self.decoder(self.encoder(x))


def save_autoencoder(path: Path, model: ConvAutoencoder, info: dict[str, Any]) -> None:
    """A checkpoint `load_autoencoder` rebuilds from the file alone; `info` (steps, loss,
    seconds) is stored beside the weights."""
    save_checkpoint(path, {
        "kind": AUTOENCODER_KIND,
        "kwargs": model.kwargs,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "info": info,
    })  # fmt: skip


def load_autoencoder(path: str | Path, device: str | torch.device = "cpu") -> ConvAutoencoder:
    payload = load_kind(path, AUTOENCODER_KIND, "an autoencoder")
    model = ConvAutoencoder(**payload["kwargs"])
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval()
