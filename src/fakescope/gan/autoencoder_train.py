"""Training the reconstruction autoencoder (`fakescope.models.autoencoder`) on real images.

    path = train_autoencoder(images_uint8, Path("ae.pt"), minutes=2.0)
    fakes = reconstruct(load_autoencoder(path), images_uint8)

An L1 reconstruction loss with Adam, shuffled batches from a seeded generator, until the
wall-clock budget or the step cap runs out (whichever comes first; at least one step).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from fakescope.data.tensors import to_uint8, to_unit_range
from fakescope.models.autoencoder import ConvAutoencoder, save_autoencoder


def train_autoencoder(
    images: torch.Tensor,
    out: Path,
    minutes: float,
    seed: int = 0,
    max_steps: int | None = None,
    batch_size: int = 16,
    lr: float = 1e-3,
    width: int = 16,
    decoder: str = "pixel_shuffle",
) -> Path:
    """Train on uint8 NCHW `images` and write the checkpoint to `out`."""
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError("the autoencoder needs a non-empty uint8 NCHW batch of images")
    torch.manual_seed(seed)
    model = ConvAutoencoder(width=width, decoder=decoder)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    data = to_unit_range(images)
    order = torch.Generator().manual_seed(seed)
    deadline = time.monotonic() + 60.0 * minutes
    started, step, loss_value = time.monotonic(), 0, float("nan")
    model.train()
    while True:
        for batch in torch.randperm(len(data), generator=order).split(batch_size):
            x = data[batch]
            loss = F.l1_loss(model(x), x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step, loss_value = step + 1, float(loss.detach())
            if time.monotonic() > deadline or (max_steps is not None and step >= max_steps):
                info = {"steps": step, "l1": loss_value, "seconds": time.monotonic() - started,
                        "images": len(data)}
                save_autoencoder(out, model, info)
                return out


@torch.inference_mode()
def reconstruct(model: ConvAutoencoder, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """uint8 NCHW reconstructions of uint8 NCHW `images`."""
    model.eval()
    parts = [to_uint8(model(to_unit_range(chunk))) for chunk in images.split(batch_size)]
    return torch.cat(parts)
