"""Scoring pictures at their native resolution: tiles of the model's input size, never resized.

Artifact detectors (`npr_cnn`, `spectrum_cnn`) read traces a few pixels wide: the up-sampling
pattern of a generator, its periodic spectral peaks. Resizing a picture to the model's input
size interpolates those pixels and erases the trace. A detector that declares
`native_resolution = True` is therefore shown non-overlapping tiles of its input size cut from
the unresized picture, and the picture's score is the mean of its tiles' log-odds of fake (the
geometric mean of their odds; calibration then divides that mean by the temperature, which is
the same as averaging the tiles' calibrated log-odds).

Tiles sit on a grid centred in the picture whose origin is rounded down to a multiple of 8, so
the 2x2 up-sampling phase and the 8x8 JPEG blocks keep their alignment with the picture's own
grid. A picture smaller than a tile is mirrored out to the tile's size on its bottom and right
edges (the pixels it has stay where they are); a huge one is scored on at most `MAX_TILES`
tiles spread evenly over the grid.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from fakescope.data.transforms import Normalizer
from fakescope.models.calibration import log_odds

MAX_TILES = 64
GRID_ALIGN = 8


def is_native(model: nn.Module) -> bool:
    """Whether a detector scores pictures at native resolution (tiles) rather than resized."""
    return bool(getattr(model, "native_resolution", False))


def tile_origins(
    height: int, width: int, size: int, max_tiles: int = MAX_TILES
) -> list[tuple[int, int]]:
    """Top-left corners (row, column) of the tiles of a picture at least `size` on each side."""
    rows, cols = height // size, width // size
    top = (height - rows * size) // 2 // GRID_ALIGN * GRID_ALIGN
    left = (width - cols * size) // 2 // GRID_ALIGN * GRID_ALIGN
    origins = [(top + r * size, left + c * size) for r in range(rows) for c in range(cols)]
    if len(origins) > max_tiles:
        picks = np.unique(np.linspace(0, len(origins) - 1, max_tiles).round().astype(int))
        origins = [origins[i] for i in picks]
    return origins


def _padded(pixels: np.ndarray, size: int) -> np.ndarray:
    """The picture mirrored out to at least `size` on each side, its own pixels in place."""
    height, width = pixels.shape[:2]
    if height >= size and width >= size:
        return pixels
    pad = ((0, max(0, size - height)), (0, max(0, size - width)), (0, 0))
    return np.pad(pixels, pad, mode="symmetric")


def tiles(pixels: np.ndarray, size: int, max_tiles: int = MAX_TILES) -> np.ndarray:
    """(T, size, size, C) uint8 tiles of an HWC picture, cut as described above."""
    pixels = _padded(pixels, size)
    origins = tile_origins(pixels.shape[0], pixels.shape[1], size, max_tiles)
    return np.stack([pixels[r : r + size, c : c + size] for r, c in origins])


def centre_tile(pixels: np.ndarray, size: int) -> np.ndarray:
    """The tile of the full grid nearest the picture's centre (what Grad-CAM explains for a
    native-resolution detector)."""
    pixels = _padded(pixels, size)
    height, width = pixels.shape[:2]
    rows, cols = height // size, width // size
    origins = tile_origins(height, width, size, max_tiles=rows * cols)
    top, left = origins[(rows // 2) * cols + cols // 2]
    return pixels[top : top + size, left : left + size]


@torch.inference_mode()
def picture_log_odds(
    model: nn.Module,
    pictures: Sequence[np.ndarray],
    normalizer: Normalizer,
    device: torch.device,
    batch_size: int,
    tile_size: int | None = None,
) -> np.ndarray:
    """Log-odds of fake (float64) of uint8 HWC pictures: scored as they are when `tile_size`
    is None (they are already at the model's size), else as the mean over their tiles."""
    stacks = [p[None] if tile_size is None else tiles(p, tile_size) for p in pictures]
    if not stacks:
        return np.zeros(0, dtype=np.float64)
    flat = np.concatenate(stacks)
    scores = []
    for start in range(0, len(flat), batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(flat[start : start + batch_size]))
        batch = normalizer(chunk.permute(0, 3, 1, 2))
        scores.append(log_odds(model(batch.to(device))).double().cpu().numpy())
    per_tile = np.concatenate(scores)
    bounds = np.cumsum([0] + [len(s) for s in stacks])
    return np.asarray([per_tile[a:b].mean() for a, b in itertools.pairwise(bounds)])
