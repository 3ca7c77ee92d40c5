"""The detector trainer's speed probe: training steps of copies of the detector under each
candidate setting (see fakescope.speed for the settings and why they are timed)."""

from __future__ import annotations

import copy

import torch

from fakescope.models.registry import Detector, detector_loss
from fakescope.speed import (
    SpeedSettings,
    Switch,
    Threads,
    pick_fastest,
    preserved_rng,
    timed_step,
)


class _Probe:
    """A private copy of the detector, trained one step at a time under one candidate setting."""

    def __init__(
        self, model: Detector, settings: SpeedSettings, images: torch.Tensor, labels: torch.Tensor
    ) -> None:
        self.settings, self.labels = settings, labels
        self.model = copy.deepcopy(model).to(images.device).train()
        self.model = self.model.to(memory_format=settings.memory_format)
        self.images = images.contiguous(memory_format=settings.memory_format)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=1e-6)

    def step_seconds(self) -> float:
        return timed_step(self.settings, self.images.device, self._train_step)

    def _train_step(self) -> None:
        with self.settings.autocast(self.images.device):
            logits = self.model(self.images)
        loss = detector_loss(logits.float(), self.labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


def choose_speed_settings(
    model: Detector,
    image_size: int,
    batch_size: int,
    device: torch.device,
    amp: Switch,
    channels_last: Switch,
    threads: Threads = 0,
    rounds: int = 3,
    max_seconds: float | None = None,
) -> tuple[SpeedSettings, dict[str, float]]:
    """The fastest candidate for training `model`, and each candidate's seconds per step.

    The probe trains deep copies on random inputs and leaves every global RNG as it found it,
    so choosing does not change what the real run computes.
    """
    with preserved_rng(device):
        probe_batch = max(2, min(batch_size, 8))  # BatchNorm needs more than one sample
        images = torch.randn(probe_batch, 3, image_size, image_size, device=device)
        labels = torch.arange(probe_batch, device=device) % 2
        return pick_fastest(lambda s: _Probe(model, s, images, labels), device, amp,
                            channels_last, threads, rounds, max_seconds)
