"""The discriminator as a detector: batch-wise accuracies (paper 000 Fig. 4)."""

from __future__ import annotations

import torch
from torch import nn

from fakescope.gan.export import detector_name, score_discriminator
from fakescope.models.dcgan import Discriminator, Generator


class Constant(nn.Module):
    """A head that answers the same logit for every image."""

    def __init__(self, logit: float) -> None:
        super().__init__()
        self.logit = logit
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 1, 1, 1), self.logit)


def test_a_discriminator_that_always_says_real_is_right_on_real_only() -> None:
    torch.manual_seed(0)
    disc, gen = Discriminator(32, base_width=4), Generator(32, base_width=4)
    disc.head = Constant(5.0)
    real = [torch.zeros(4, 3, 32, 32), torch.zeros(3, 3, 32, 32)]
    scores = score_discriminator(disc, gen, real, n_fake=6, batch_size=4)
    assert scores.real_accuracy == [1.0, 1.0] and scores.fake_accuracy == [0.0, 0.0]
    assert scores.summary == {
        "real_images": 7, "fake_images": 6, "accuracy_real": 1.0, "accuracy_fake": 0.0,
        "accuracy": 7 / 13,
    }
    disc.head = Constant(-5.0)
    flipped = score_discriminator(disc, gen, real, n_fake=6, batch_size=4)
    assert flipped.summary["accuracy_fake"] == 1.0 and flipped.summary["accuracy_real"] == 0.0


def test_detector_names_follow_the_registry() -> None:
    assert detector_name("dcgan", 64) == "dcgan_disc64"
    assert detector_name("dcgan", 128) == "dcgan_disc128"
    assert detector_name("dcgan", 32) == "dcgan_disc"
    assert detector_name("fastgan_lite", 64) == "gan_disc"
