"""The discriminator as a detector (paper 000): score real and generated images, export it.

`score_discriminator` reproduces paper 000's Fig. 4: D's accuracy batch by batch on held-out
real images (D(x) > 0.5) and on generated ones (D(G(z)) < 0.5). `export_detector` writes D as a
detector checkpoint that `load_detector`, the evaluator and the server accept like any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fakescope.checkpoints import CheckpointError, gan_arch, read_gan_checkpoint
from fakescope.data.transforms import MINUS_ONE_ONE_MEAN, MINUS_ONE_ONE_STD, InputSpec
from fakescope.gan.sample import generate_batches
from fakescope.models.gan_registry import ImageDiscriminator, ImageGenerator, build_discriminator
from fakescope.models.pretrained import Pretrained
from fakescope.models.registry import build_detector, save_detector


@dataclass
class DiscriminatorScores:
    """D's outputs (probability of "real") and per-batch accuracies, real and generated."""

    real_scores: list[float]
    fake_scores: list[float]
    real_accuracy: list[float]  # per batch
    fake_accuracy: list[float]

    @property
    def summary(self) -> dict[str, float]:
        real_ok = sum(p > 0.5 for p in self.real_scores)
        fake_ok = sum(p <= 0.5 for p in self.fake_scores)
        total = len(self.real_scores) + len(self.fake_scores)
        return {
            "real_images": len(self.real_scores),
            "fake_images": len(self.fake_scores),
            "accuracy_real": real_ok / max(1, len(self.real_scores)),
            "accuracy_fake": fake_ok / max(1, len(self.fake_scores)),
            "accuracy": (real_ok + fake_ok) / max(1, total),
        }


def load_discriminator(path: str | Path, device: str | torch.device = "cpu") -> ImageDiscriminator:
    resolved, payload = read_gan_checkpoint(path)
    discriminator = build_discriminator(gan_arch(payload), **payload["discriminator_kwargs"])
    try:
        discriminator.load_state_dict(payload["discriminator"])
    except RuntimeError as err:
        raise CheckpointError(
            f"{resolved}: discriminator weights do not fit its architecture"
        ) from err
    return discriminator.to(device).eval()


@torch.no_grad()
def score_discriminator(
    discriminator: ImageDiscriminator,
    generator: ImageGenerator,
    real_batches: Iterable[torch.Tensor],
    n_fake: int,
    batch_size: int = 16,
    seed: int = 0,
) -> DiscriminatorScores:
    """D (eval mode) on normalised real batches and on `n_fake` generated images."""
    was_training = discriminator.training
    discriminator.eval()
    device = next(discriminator.parameters()).device
    scores: dict[str, list[float]] = {"real": [], "fake": []}
    accuracy: dict[str, list[float]] = {"real": [], "fake": []}
    fakes = generate_batches(generator, n_fake, batch_size, seed)
    try:
        for kind, batches in (("real", real_batches), ("fake", fakes)):
            for batch in batches:
                p_real = torch.sigmoid(discriminator(batch.to(device))).view(-1).cpu()
                correct = p_real > 0.5 if kind == "real" else p_real <= 0.5
                scores[kind].extend(p_real.tolist())
                accuracy[kind].append(float(correct.float().mean()))
    finally:
        discriminator.train(was_training)
    return DiscriminatorScores(scores["real"], scores["fake"], accuracy["real"], accuracy["fake"])


def detector_name(arch: str, resolution: int) -> str:
    """The registered name of a discriminator detector of this architecture and resolution."""
    if arch != "dcgan":
        return "gan_disc"
    return f"dcgan_disc{resolution}" if resolution in (64, 128) else "dcgan_disc"


def export_detector(checkpoint: str | Path, out: Path, threshold: float = 0.5) -> dict[str, Any]:
    """Write a GAN checkpoint's discriminator as a detector checkpoint; returns what was written."""
    resolved, payload = read_gan_checkpoint(checkpoint)
    arch = gan_arch(payload)
    kwargs = {"arch": arch, **payload["discriminator_kwargs"]}
    name = detector_name(arch, int(kwargs["resolution"]))
    model = build_detector(name, pretrained=Pretrained.file(resolved))
    spec = InputSpec(
        size=int(kwargs["resolution"]), mean=MINUS_ONE_ONE_MEAN, std=MINUS_ONE_ONE_STD,
        resize=payload["config"]["data"]["resize"],
    )
    source = {"gan_checkpoint": str(resolved), "step": int(payload["state"]["step"]),
              "epoch": int(payload["state"]["epoch"]), "paper": payload["config"].get("paper", "")}
    save_detector(out, model, name, kwargs, spec, threshold=threshold, extra={"source": source})
    return {"path": out, "name": name, "kwargs": kwargs, "source": source}
