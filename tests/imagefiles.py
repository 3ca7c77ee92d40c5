"""Image files for tests: random pictures of any Pillow mode, and class-folder datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def make_image(
    path: Path,
    size: tuple[int, int] = (40, 32),
    seed: int = 0,
    mode: str = "RGB",
    fmt: str | None = None,
) -> Path:
    """Write a random image of `size` (width, height) in Pillow `mode` to `path`."""
    rng = np.random.default_rng(seed)
    width, height = size
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    img = Image.fromarray(rgb, "RGB")
    if mode == "I;16":
        img = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)  # 16-bit grey
    elif mode != "RGB":
        img = img.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt)
    return path


def make_class_folders(
    root: Path, n: int = 6, real: str = "real", fake: str = "fake", size: tuple[int, int] = (40, 32)
) -> Path:
    for label, name in ((0, real), (1, fake)):
        for i in range(n):
            make_image(root / name / f"img_{i:03d}.jpg", size, seed=label * 1000 + i)
    return root
