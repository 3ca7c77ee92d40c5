"""The adversarial losses equal the papers' formulas; instance noise decays as configured."""

from __future__ import annotations

import pytest
import torch

from fakescope.gan.losses import (
    add_instance_noise,
    discriminator_loss,
    generator_loss,
    instance_noise_std,
)

LOGITS_REAL = torch.tensor([[2.0], [0.5], [-1.0]])
LOGITS_FAKE = torch.tensor([[-3.0], [0.0], [1.5]])


def test_discriminator_loss_is_the_minimax_objective() -> None:
    d_real, d_fake = torch.sigmoid(LOGITS_REAL), torch.sigmoid(LOGITS_FAKE)
    expected = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    assert discriminator_loss(LOGITS_REAL, LOGITS_FAKE) == pytest.approx(expected.item(), rel=1e-6)


def test_one_sided_label_smoothing_targets_real_only() -> None:
    d_real, d_fake = torch.sigmoid(LOGITS_REAL), torch.sigmoid(LOGITS_FAKE)
    real = -(0.9 * torch.log(d_real) + 0.1 * torch.log(1 - d_real)).mean()
    fake = -torch.log(1 - d_fake).mean()
    got = discriminator_loss(LOGITS_REAL, LOGITS_FAKE, label_smoothing=0.1)
    assert got == pytest.approx((real + fake).item(), rel=1e-6)


def test_generator_losses_match_paper_004() -> None:
    d_fake = torch.sigmoid(LOGITS_FAKE)
    saturating = torch.log(1 - d_fake).mean()
    non_saturating = -torch.log(d_fake).mean()
    assert generator_loss(LOGITS_FAKE, "saturating") == pytest.approx(saturating.item(), rel=1e-6)
    assert generator_loss(LOGITS_FAKE, "non_saturating") == pytest.approx(
        non_saturating.item(), rel=1e-6
    )
    with pytest.raises(ValueError, match="generator loss"):
        generator_loss(LOGITS_FAKE, "hinge")


def test_saturating_loss_gradient_vanishes_when_d_rejects_fakes() -> None:
    confident = torch.full((4, 1), -8.0, requires_grad=True)  # D(G(z)) ~ 0.0003
    generator_loss(confident, "saturating").backward()
    saturating_grad = confident.grad.abs().mean()  # type: ignore[union-attr]
    confident.grad = None
    generator_loss(confident, "non_saturating").backward()
    assert confident.grad.abs().mean() > 1000 * saturating_grad  # type: ignore[union-attr]


def test_instance_noise_anneals_linearly_to_zero() -> None:
    assert instance_noise_std(0.2, 0, 100) == pytest.approx(0.2)
    assert instance_noise_std(0.2, 50, 100) == pytest.approx(0.1)
    assert instance_noise_std(0.2, 100, 100) == 0.0
    assert instance_noise_std(0.2, 500, 100) == 0.0
    assert instance_noise_std(0.0, 0, 100) == 0.0
    images = torch.zeros(1000, 3, 4, 4)
    assert add_instance_noise(images, 0.0) is images
    assert add_instance_noise(images, 0.5).std().item() == pytest.approx(0.5, rel=0.05)
