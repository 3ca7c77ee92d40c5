"""The fastest settings for training a DCGAN pair here: autocast, memory layout, CPU threads.

The GAN counterpart of fakescope.detect.speed; the settings, candidate list and turn-taking
timer come from fakescope.speed. A probe trains copies of G and D through whole GAN iterations
(D on a real and a generated batch, then G through the updated D, each with its Adam step), so
everything one training step costs is in the comparison. Convolutions are 90% of an iteration at
64x64, so what changes their arithmetic is what counts. On a CPU with native bf16, autocast made
an iteration faster and channels_last helped a little, and while other jobs kept both cores busy
two threads were far slower than one (benchmarks/results/gan_profile.md), so the thread count is
probed too.
"""

from __future__ import annotations

import copy

import torch

from fakescope.config import ConfigError
from fakescope.gan.losses import discriminator_loss, generator_loss
from fakescope.models.gan_registry import ImageDiscriminator, ImageGenerator
from fakescope.speed import (
    CompiledForward,
    SpeedSettings,
    Switch,
    Threads,
    mixed_precision_dtype,
    pick_fastest,
    preserved_rng,
    timed_step,
)

Net = torch.nn.Module | CompiledForward


def gan_iteration(
    G: Net,
    D: Net,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    z: torch.Tensor,
    settings: SpeedSettings,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One iteration as GanTrainer.train_step runs it (without instance noise or smoothing):
    forward passes under `settings`' autocast, losses in fp32. G and D may be compiled
    (CompiledForward). Returns (loss_d, loss_g)."""
    with settings.autocast(real.device):
        fake = G(z)
        opt_d.zero_grad(set_to_none=True)
        real_logits, fake_logits = D(real), D(fake.detach())
    loss_d = discriminator_loss(real_logits.float(), fake_logits.float())
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad(set_to_none=True)
    # D's weights need no gradient in G's step (the trainer does the same).
    d_module = D.module if isinstance(D, CompiledForward) else D
    d_module.requires_grad_(False)
    try:
        with settings.autocast(real.device):
            after_logits = D(fake)
        loss_g = generator_loss(after_logits.float())
        loss_g.backward()
    finally:
        d_module.requires_grad_(True)
    opt_g.step()
    return loss_d.detach(), loss_g.detach()


def adam(module: torch.nn.Module, device: torch.device) -> torch.optim.Adam:
    """The trainer's optimizer: DCGAN's Adam, fused into one kernel per update on CPU/GPU."""
    fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(module.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=fused)


class GanProbe:
    """Private copies of G and D (and their optimizers) trained under one candidate setting."""

    def __init__(
        self, G: ImageGenerator, D: ImageDiscriminator, settings: SpeedSettings, real: torch.Tensor
    ) -> None:
        self.settings, device = settings, real.device
        layout = settings.memory_format
        self.G = copy.deepcopy(G).to(device).to(memory_format=layout).train()
        self.D = copy.deepcopy(D).to(device).to(memory_format=layout).train()
        self.opt_g, self.opt_d = adam(self.G, device), adam(self.D, device)
        self.real = real.contiguous(memory_format=layout)

    def step_seconds(self) -> float:
        return timed_step(self.settings, self.real.device, self._iteration)

    def _iteration(self) -> None:
        z = self.G.sample_latent(self.real.shape[0])
        gan_iteration(self.G, self.D, self.opt_g, self.opt_d, self.real, z, self.settings)


def choose_gan_speed_settings(
    G: ImageGenerator,
    D: ImageDiscriminator,
    batch_size: int,
    device: torch.device,
    amp: Switch,
    channels_last: Switch,
    threads: Threads = 0,
    rounds: int = 3,
    max_seconds: float | None = None,
) -> tuple[SpeedSettings, dict[str, float]]:
    """The fastest candidate for training the pair, and each candidate's seconds per iteration.

    bf16 is a candidate only on CPUs with native bf16 arithmetic (see fakescope.speed). The probe
    trains deep copies on random images and leaves every global RNG as it found it, so
    choosing does not change what the real run computes.
    """
    if mixed_precision_dtype(device) != "bfloat16":
        # fp16 would need loss scaling for both optimizers; the GAN trainer has none.
        if amp is True:
            raise ConfigError("train.amp: this GPU has no bf16, and the GAN trains in bf16 or "
                             "fp32 only (set train.amp to false or auto)")
        amp = False
    with preserved_rng(device):
        # Capped at 64: the same candidate won at 64 and 128 (gan_profile.md), and probing at
        # 128 would take about a minute; BatchNorm needs more than one sample.
        n = max(2, min(batch_size, 64))
        real = torch.rand(n, 3, D.resolution, D.resolution, device=device) * 2 - 1
        return pick_fastest(lambda s: GanProbe(G, D, s, real), device, amp, channels_last,
                            threads, rounds, max_seconds)
