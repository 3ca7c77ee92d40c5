"""What FD and diversity ratio a generator would score if it drew the training images exactly but
without their fine detail: the training images, blurred, downsampled or noised, read against
themselves.

    python benchmarks/gan_detail_floor.py --train /tmp/photos/train/real GAN_RUN_OR_CHECKPOINT

A GAN's FD and diversity ratio mix two failures: missing modes and missing detail. Blurring every
real image loses no mode, so what it costs on the same features (`fakescope gan metrics
--feature-extractor efflite0`) is the part of a GAN's gap that sharper images alone would close.
The checkpoint only supplies the data settings (resize, crop) its run read the images with;
every image of --train is read, whatever subset the run trained on.
One JSON line per degradation goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

from fakescope.bench.machine import describe_machine
from fakescope.checkpoints import read_gan, resolve_gan_checkpoint
from fakescope.gan.metrics import (
    EfficientNetLite0Features,
    extract_features,
    features_to_statistics,
    pairwise_diversity,
)

if __package__ in (None, ""):  # run as `python benchmarks/NAME.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.gan_fd_reference import fd, folder_images

Degradation = Callable[[torch.Tensor], torch.Tensor]  # float images in [0, 255], same shape out


def blur(sigma: float) -> Degradation:
    return lambda x: gaussian_blur(x, 2 * round(3 * sigma) + 1, sigma)


def through(side: int) -> Degradation:
    """Down to side x side (area average) and back up (bilinear): detail finer than that is gone."""
    return lambda x: F.interpolate(F.interpolate(x, size=side, mode="area"), size=x.shape[-1],
                                   mode="bilinear", align_corners=False)


def noise(std: float) -> Degradation:
    generator = torch.Generator().manual_seed(0)
    return lambda x: x + std * torch.randn(x.shape, generator=generator)


DEGRADATIONS: dict[str, Degradation] = {
    "gaussian blur, sigma 0.5 px": blur(0.5),
    "gaussian blur, sigma 1 px": blur(1.0),
    "gaussian blur, sigma 1.5 px": blur(1.5),
    "through 32x32": through(32),
    "through 16x16": through(16),
    "gaussian noise, std 8 of 255": noise(8.0),
    "gaussian noise, std 16 of 255": noise(16.0),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a GAN run folder or checkpoint (data settings)")
    parser.add_argument("--train", type=Path, required=True, help="the run's training images")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    extractor = EfficientNetLite0Features(torch.device("cpu"))
    images = folder_images(read_gan(resolve_gan_checkpoint(args.run)), args.train)
    reference = extract_features(extractor, images.split(128))
    reference_stats = features_to_statistics(reference)
    reference_diversity = pairwise_diversity(reference)
    machine = describe_machine()
    print(json.dumps({"images": len(images), "cpu": machine["cpu"],
                      "cpu_flags": machine["cpu_flags"]}), flush=True)
    for name, degrade in DEGRADATIONS.items():
        degraded = degrade(images.float()).round().clamp(0, 255).to(torch.uint8)
        features = extract_features(extractor, degraded.split(128))
        print(json.dumps({
            "degradation": name,
            "fd_vs_train": fd(features_to_statistics(features), reference_stats),
            "diversity_ratio": round(pairwise_diversity(features) / reference_diversity, 3),
        }), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
