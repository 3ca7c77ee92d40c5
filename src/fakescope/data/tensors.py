"""Images as uint8 NCHW tensors, and the [-1, 1] range generators and autoencoders work in.

    real_uint8_batches   the first n training images of a prepared data set, in batches
    load_uint8           image files read into one batch
    to_unit_range        uint8 -> [-1, 1]
    to_uint8             [-1, 1] -> uint8
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from fakescope.data.images import load_image
from fakescope.data.pipeline import PreparedData


def real_uint8_batches(
    prepared: PreparedData, n: int, batch_size: int, seed: int
) -> Iterator[torch.Tensor]:
    """The first n images of a fixed shuffle of the training split, as uint8 NCHW batches."""
    loader = prepared.loader("train", batch_size, shuffle=True, augment=False, seed=seed)
    taken = 0
    for images, _ in loader:
        batch = prepared.normalizer.denormalize(images)[: n - taken]
        taken += len(batch)
        yield batch
        if taken >= n:
            return


def load_uint8(paths: Sequence[Path]) -> torch.Tensor:
    """Image files of one size as one uint8 NCHW tensor."""
    arrays = [np.asarray(load_image(path), dtype=np.uint8) for path in paths]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float() / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] (a generator's output) -> uint8 in [0, 255]."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
