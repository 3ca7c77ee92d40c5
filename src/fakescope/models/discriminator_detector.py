"""A GAN's discriminator used as a real-vs-fake detector (paper 000, Fig. 4).

Any registered GAN architecture's discriminator can be wrapped; the DCGAN one is registered as
`dcgan_disc64`, `dcgan_disc128` and `dcgan_disc` (any size), every architecture's as `gan_disc`.
The architecture comes from a GAN (or detector) checkpoint, so `--pretrained CHECKPOINT` is all a
user passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from fakescope.checkpoints import CheckpointError, GanPayload, gan_arch, load_checkpoint
from fakescope.config import ConfigError
from fakescope.data.transforms import MINUS_ONE_ONE_MEAN, MINUS_ONE_ONE_STD, InputSpec
from fakescope.models.gan_registry import build_discriminator
from fakescope.models.pretrained import NO_WEIGHTS, Pretrained
from fakescope.models.registry import Detector, register_detector

DISCRIMINATOR_DETECTORS = ("dcgan_disc64", "dcgan_disc128", "dcgan_disc", "gan_disc")


class DiscriminatorDetector(Detector):
    """The discriminator's logit says "real"; the detector contract's logit says "fake", so the
    detector returns its negation: sigmoid(-logit) = 1 - D(x) = P(fake). Same parameters."""

    num_logits = 1

    def __init__(self, resolution: int = 64, arch: str = "dcgan", **kwargs: Any) -> None:
        super().__init__()
        if "bn_layers" in kwargs and kwargs["bn_layers"] is not None:
            kwargs["bn_layers"] = list(kwargs["bn_layers"])
        self.discriminator = build_discriminator(arch, resolution=resolution, **kwargs)
        self.architecture = {"resolution": resolution, "arch": arch, **kwargs}
        self.input_spec = InputSpec(
            size=resolution, mean=MINUS_ONE_ONE_MEAN, std=MINUS_ONE_ONE_STD,
            resize="short_side_crop",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -self.discriminator(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator.features(x)

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.discriminator.head_parameters()

    def gradcam_layer(self) -> nn.Module:
        return self.discriminator.gradcam_layer()

    def rebuild_kwargs(self) -> dict[str, Any]:
        # The architecture may have come from a GAN checkpoint rather than from kwargs.
        return {**self.architecture, **super().rebuild_kwargs()}


def discriminator_weights(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(architecture kwargs with `arch`, discriminator state dict) from a GAN or a detector
    checkpoint."""
    payload = load_checkpoint(path)
    kind = payload.get("kind")
    if kind == "gan":
        architecture = {"arch": gan_arch(cast(GanPayload, payload)),
                        **payload["discriminator_kwargs"]}
        return architecture, payload["discriminator"]
    if kind == "detector" and payload["detector"]["name"] in DISCRIMINATOR_DETECTORS:
        prefix = "discriminator."
        state = {k[len(prefix):]: v for k, v in payload["state_dict"].items()}
        return dict(payload["detector"]["kwargs"]), state
    raise CheckpointError(
        f"{path} holds no GAN discriminator (a '{kind}' checkpoint); pass a GAN checkpoint "
        "or a detector exported with `fakescope gan export-detector`"
    )


def build_discriminator_detector(
    fixed_resolution: int | None, pretrained: Pretrained = NO_WEIGHTS, dcgan_only: bool = True,
    **kwargs: Any,
) -> DiscriminatorDetector:
    """A discriminator detector, fresh (`none`) or with weights from a GAN/detector checkpoint.

    A checkpoint also supplies the architecture; explicit kwargs take precedence. Registered
    names with a resolution in them (`fixed_resolution`) accept only that resolution, and the
    `dcgan_disc*` names only DCGAN discriminators.
    """
    if pretrained.source == "imagenet":
        raise ConfigError("GAN discriminators have no ImageNet weights: use none or a checkpoint")
    state = None
    if pretrained.path is not None:
        arch, state = discriminator_weights(pretrained.path)
        kwargs = {**arch, **kwargs}
    if dcgan_only and kwargs.get("arch", "dcgan") != "dcgan":
        raise ConfigError(
            f"this detector wraps DCGAN discriminators; {pretrained} holds a "
            f"'{kwargs['arch']}' one: use gan_disc"
        )
    if fixed_resolution is not None:
        resolution = kwargs.setdefault("resolution", fixed_resolution)
        if resolution != fixed_resolution:
            raise ConfigError(
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
def dcgan_disc64(pretrained: Pretrained = NO_WEIGHTS, **kwargs: Any) -> Detector:
    return build_discriminator_detector(64, pretrained, **kwargs)


@register_detector(
    "dcgan_disc128", "DCGAN discriminator, 128x128 (paper 000 Table I), as a detector"
)
def dcgan_disc128(pretrained: Pretrained = NO_WEIGHTS, **kwargs: Any) -> Detector:
    return build_discriminator_detector(128, pretrained, **kwargs)


@register_detector("dcgan_disc", "DCGAN discriminator of any resolution (32-256), as a detector")
def dcgan_disc(pretrained: Pretrained = NO_WEIGHTS, **kwargs: Any) -> Detector:
    return build_discriminator_detector(None, pretrained, **kwargs)


@register_detector(
    "gan_disc", "the discriminator of any registered GAN architecture, as a detector"
)
def gan_disc(pretrained: Pretrained = NO_WEIGHTS, **kwargs: Any) -> Detector:
    return build_discriminator_detector(None, pretrained, dcgan_only=False, **kwargs)
