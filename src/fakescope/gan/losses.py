"""The adversarial losses on D's logits, and instance noise for D's inputs.

D outputs logits (its Sigmoid is folded into the loss, which is more stable in float arithmetic):

    loss_D = BCE(D(x), 1 - smoothing) + BCE(D(G(z)), 0)   -> D maximises log D(x) + log(1 - D(G(z)))
    loss_G saturating      = log(1 - D(G(z)))             (the minimax game, paper 004)
    loss_G non-saturating  = -log D(G(z))                 (the usual choice; papers 000, 001)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fakescope.config import ConfigError


def discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """BCE on real (target 1 - smoothing: one-sided label smoothing) plus BCE on fake (target 0)."""
    real_target = torch.full_like(real_logits, 1.0 - label_smoothing)
    real = F.binary_cross_entropy_with_logits(real_logits, real_target)
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    if kind == "non_saturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if kind == "saturating":
        # log(1 - sigmoid(l)) = -softplus(l); its gradient vanishes when D rejects the fakes.
        return -F.softplus(fake_logits).mean()
    raise ConfigError(f"unknown generator loss '{kind}' (use saturating or non_saturating)")


def instance_noise_std(start: float, step: int, anneal_steps: int) -> float:
    """Linear decay from `start` at step 0 to 0 at `anneal_steps`."""
    if start <= 0 or anneal_steps <= 0:
        return 0.0
    return start * max(0.0, 1.0 - step / anneal_steps)


def add_instance_noise(images: torch.Tensor, std: float) -> torch.Tensor:
    """Gaussian noise on D's input, so real and fake distributions overlap early in training."""
    if std <= 0:
        return images
    return images + std * torch.randn_like(images)


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """max(0, 1 - D(x)) + max(0, 1 + D(G(z))) (Lim & Ye 2017; SNGAN, BigGAN): D stops pushing a
    logit once it is on the right side of the margin, so it wastes no capacity on easy images."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """Mean over images of |grad_x D(x)|² on real images (Mescheder et al., ICML 2018): it keeps
    D flat around the data, which makes GAN training converge. `real_images` must require grad
    and `real_logits` come from them; the graph is kept so the penalty can be back-propagated."""
    (gradient,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return gradient.float().square().sum(dim=(1, 2, 3)).mean()
