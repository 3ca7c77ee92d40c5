"""Sliced Wasserstein distance between GAN samples and real images, on pixels: a quality reading
that no pretrained network takes part in.

    python benchmarks/gan_swd.py --train /tmp/photos/train/real \
        --holdout /tmp/photos/holdout/real RUN_OR_CHECKPOINT ...

FD, KID and the diversity ratio all read EfficientNet-Lite0 ImageNet features. A GAN whose
discriminator itself looks through an ImageNet network (the projected discriminator) could lower
them by matching what such networks see rather than the images (Kynkäänniemi et al. 2023, "The
Role of ImageNet Classes in Fréchet Inception Distance"). This reading follows Karras et al.
2018 (progressive GAN, appendix D): at each level of a Laplacian pyramid (64, 32, 16 px), 7x7
neighbourhoods drawn at random from every image, each channel normalised over the set, compared
by the sliced Wasserstein distance (the mean over random unit directions of the 1-D Wasserstein
distance between the projected sets). Lower is better; the floor is held-out reals against as
many training reals, and every fake set has as many images as the held-out one.
One JSON line per run goes to stdout (and to --jsonl).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

from fakescope.bench.machine import describe_machine
from fakescope.checkpoints import read_gan, resolve_gan_checkpoint
from fakescope.data.tensors import to_unit_range
from fakescope.gan.sample import load_generator

if __package__ in (None, ""):  # run as `python benchmarks/NAME.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.gan_fd_reference import emit, folder_images, reading_parser

PATCH = 7
PATCHES_PER_IMAGE = 128
DIRECTIONS = 512
MIN_SIDE = 16


def laplacian_pyramid(images: torch.Tensor) -> list[torch.Tensor]:
    """Band-pass levels, finest first, down to MIN_SIDE px (the last level keeps its low pass)."""
    levels = []
    current = images
    while current.shape[-1] > MIN_SIDE:
        smaller = F.avg_pool2d(gaussian_blur(current, 5, 1.0), 2)
        levels.append(current - F.interpolate(smaller, scale_factor=2, mode="bilinear",
                                              align_corners=False))
        current = smaller
    levels.append(current)
    return levels


def descriptors(level: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """PATCHES_PER_IMAGE random 7x7x3 neighbourhoods of each image, channels normalised over
    the whole set (N * PATCHES_PER_IMAGE, 147)."""
    n, c, h, w = level.shape
    ys = torch.randint(0, h - PATCH + 1, (n, PATCHES_PER_IMAGE), generator=generator)
    xs = torch.randint(0, w - PATCH + 1, (n, PATCHES_PER_IMAGE), generator=generator)
    offsets = torch.arange(PATCH)
    rows = (ys[..., None] + offsets)[..., :, None].expand(-1, -1, PATCH, PATCH)
    cols = (xs[..., None] + offsets)[..., None, :].expand(-1, -1, PATCH, PATCH)
    index = torch.arange(n)[:, None, None, None].expand_as(rows)
    patches = level.permute(0, 2, 3, 1)[index, rows, cols]  # n, P, 7, 7, c
    patches = patches.reshape(-1, PATCH * PATCH, c)
    patches = (patches - patches.mean((0, 1))) / patches.std((0, 1)).clamp_min(1e-8)
    return patches.reshape(len(patches), -1)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, generator: torch.Generator) -> float:
    directions = torch.randn(a.shape[1], DIRECTIONS, generator=generator)
    directions /= directions.norm(dim=0, keepdim=True)
    projected_a = torch.sort(a @ directions, dim=0).values
    projected_b = torch.sort(b @ directions, dim=0).values
    return float((projected_a - projected_b).abs().mean())


def swd(a: torch.Tensor, b: torch.Tensor, seed: int) -> list[float]:
    """SWD x 1000 at each pyramid level (64, 32, 16 px) between two equal-sized image sets,
    given as float images in [-1, 1]."""
    if len(a) != len(b):
        raise ValueError(f"SWD compares equal-sized sets, got {len(a)} and {len(b)} images")
    generator = torch.Generator().manual_seed(seed)
    return [round(1000 * sliced_wasserstein(descriptors(x, generator), descriptors(y, generator),
                                            generator), 2)
            for x, y in zip(laplacian_pyramid(a), laplacian_pyramid(b), strict=True)]


def main() -> int:
    args = reading_parser(__doc__.split("\n")[0]).parse_args()
    checkpoints = [resolve_gan_checkpoint(run) for run in args.runs]
    first = read_gan(checkpoints[0])
    holdout = to_unit_range(folder_images(first, args.holdout))
    train = to_unit_range(folder_images(first, args.train))
    n = len(holdout)
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(args.seed))[:n]
    floor = swd(holdout, train[pick], args.seed)
    machine = describe_machine()
    print(json.dumps({"floor (held-out vs training images)": floor, "images": n,
                      "cpu": machine["cpu"]}), flush=True)
    for checkpoint in checkpoints:
        # sample() already runs without gradients, in eval mode
        fakes = load_generator(checkpoint).sample(n, torch.Generator().manual_seed(args.seed))
        emit({"checkpoint": str(checkpoint), "images": n,
              "swd_vs_holdout": swd(fakes.float().clamp(-1, 1), holdout, args.seed),
              "floor": floor},
             args.jsonl)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
