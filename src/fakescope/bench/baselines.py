"""The papers' plain pipelines, which fakescope's are measured against.

- Data (papers 000-003): torchvision `ImageFolder`, PIL decode, resize and `ToTensor` +
  `Normalize` of every image in every epoch, through a `DataLoader`.
- Detector training (paper 003's scripts): that loader, the network in fp32 and contiguous
  layout, Adam, one optimizer step per batch, torch's default thread count.
- Inference (paper 003's predict script and web app): the network in eval mode under
  `torch.no_grad()`, called eagerly.

The GAN baseline, the PyTorch DCGAN example, is in `dcgan_example`; the plain web server in
`plain_server`. Each takes the network and the preprocessing (`InputSpec`) that fakescope uses,
so that a ratio compares pipelines, not models.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from fakescope.data.transforms import InputSpec
from fakescope.models.registry import detector_loss


def plain_transform(spec: InputSpec) -> transforms.Compose:
    """torchvision's version of the preprocessing `spec` describes."""
    if spec.resize == "resize":
        resize = [transforms.Resize((spec.size, spec.size))]  # paper 003: squash to S x S
    else:
        resize = [transforms.Resize(spec.size), transforms.CenterCrop(spec.size)]  # paper 000
    return transforms.Compose(
        [*resize, transforms.ToTensor(), transforms.Normalize(spec.mean, spec.std)]
    )


def imagefolder_loader(
    root: Path, spec: InputSpec, batch_size: int, workers: int = 0, drop_last: bool = True
) -> DataLoader:
    """Shuffled batches of (images, class indices) decoded from `root`'s class folders."""
    dataset = datasets.ImageFolder(str(root), transform=plain_transform(spec))
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=drop_last
    )


class PlainDetectorTrainer:
    """Paper 003's training step: forward, loss, backward, Adam step, in fp32."""

    def __init__(
        self, model: nn.Module, lr: float, betas: tuple[float, float],
        device: str | torch.device = "cpu",
    ) -> None:  # fmt: skip
        self.device = torch.device(device)
        self.model = model.to(self.device).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr, betas=betas)

    def step(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        images, labels = images.to(self.device), labels.to(self.device)
        loss = detector_loss(self.model(images), labels)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()


def eager_logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The plain inference call on a model in eval mode: no autograd, PyTorch's default
    threads, the contiguous layout."""
    with torch.no_grad():
        return model(images)
