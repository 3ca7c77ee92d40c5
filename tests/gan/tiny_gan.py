"""Tiny GAN configs and a weight-free feature extractor for the GAN tests."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from fakescope.config import load_config
from fakescope.gan.config import GanJobConfig


class TinyPixelFeatures:
    """4x4x3 mean colours: a weight-free stand-in for the feature networks, cheap enough that
    FD's matrix square root costs nothing."""

    name = "tinypixels"

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(images.float() / 255.0, 4).flatten(1)


def make_tiny_config(faces: Path, root: Path, **overrides: object) -> GanJobConfig:
    """A 32x32 DCGAN of base width 8, batch 4 (4 iterations an epoch), writing under `root`."""
    values: dict[str, object] = {
        "data.path": str(faces),
        "data.cache_dir": str(root / "cache"),
        "run.root": str(root / "runs"),
        "run.name": "tiny",
        "model.resolution": 32,
        "model.base_width": 8,
        "train.batch_size": 4,
        # Fixed speed settings: a timing probe could choose differently in runs compared for
        # equal weights.
        "train.amp": False,
        "train.epochs": 2,
        "train.checkpoint_every": 2,  # one checkpoint (and one set of plots) per run
        "train.plot_every": 0,
        "train.sample_count": 4,
        "train.metrics_every": 1,
        "metrics.num_samples": 8,
        "metrics.kid_subsets": 5,
        "metrics.batch_size": 4,
        "collapse.num_samples": 8,
    }
    values.update(overrides)
    return load_config(GanJobConfig, overrides=values)
