"""Real photographs for measuring GANs offline: scikit-image's sample photos cut into patches.

    python benchmarks/real_photo_patches.py --out /tmp/photos      # writes train/ and holdout/

The camera photographs that ship inside scikit-image (no download): astronaut, cat, coffee,
rocket, the stereo motorcycle pair, cameraman, grass, gravel, brick, plus the Hubble deep field
and an immunohistochemistry micrograph. Each is cut into non-overlapping 64x64 patches at three
scales (1, 0.75, 0.5, antialiased), so a patch shows anything from texture to a whole object; the
patches are shuffled with a seed and split 80/20 into a training folder and a held-out folder
(the reference, and the floor, of FD/KID). Greyscale photos are repeated to three channels.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle", "camera", "grass",
          "gravel", "brick", "hubble_deep_field", "immunohistochemistry")
SCALES = (1.0, 0.75, 0.5)


def photographs() -> list[tuple[str, Image.Image]]:
    images = []
    for name in PHOTOS:
        value = getattr(data, name)()
        arrays = value[:2] if name == "stereo_motorcycle" else (value,)
        for i, array in enumerate(arrays):
            array = np.asarray(array)
            if array.ndim == 2:
                array = np.repeat(array[..., None], 3, axis=2)
            images.append((f"{name}{i}", Image.fromarray(array[..., :3].astype(np.uint8))))
    return images


def patches(image: Image.Image, size: int) -> list[Image.Image]:
    cut = []
    for scale in SCALES:
        scaled = image.resize((round(image.width * scale), round(image.height * scale)),
                              Image.Resampling.LANCZOS)
        for top in range(0, scaled.height - size + 1, size):
            for left in range(0, scaled.width - size + 1, size):
                cut.append(scaled.crop((left, top, left + size, top + size)))
    return cut


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cut = [(f"{name}_{i:04d}", patch) for name, photo in photographs()
           for i, patch in enumerate(patches(photo, args.size))]
    random.Random(args.seed).shuffle(cut)
    n_holdout = round(len(cut) * args.holdout)
    for folder, part in (("holdout", cut[:n_holdout]), ("train", cut[n_holdout:])):
        target = args.out / folder / "real"
        target.mkdir(parents=True, exist_ok=True)
        for name, patch in part:
            patch.save(target / f"{name}.png")
    print(f"{len(cut) - n_holdout} training and {n_holdout} held-out {args.size}x{args.size} "
          f"patches from {len(PHOTOS)} photographs in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
