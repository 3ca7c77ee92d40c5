"""One line a person can read about a GAN's quality, for `gan metrics` and the end of `gan train`:
FD as a ratio to the real-vs-real floor (the goal is near 1x), diversity as a ratio to the real
images' own, and where the samples are. Raw FD values on a few hundred images mean little; the
ratio to the floor measured on the same images does (`fakescope.gan.metrics.FloorComparison`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fakescope.gan.config import GanCollapseConfig
from fakescope.gan.metrics import FloorComparison

COLLAPSE_THRESHOLD = GanCollapseConfig().threshold
# At or above this share of the reals' diversity the samples vary about as much as the reals.
VARIED = 0.8


def _ratio_words(ratio: float) -> str:
    if ratio <= 1.5:
        return "close to real images"
    if ratio <= 3:
        return "visibly off real images"
    return "far from real images"


def diversity_words(diversity: float) -> str:
    """Diversity (generated / real) in words; below the collapse watch's threshold: collapsed."""
    if diversity < COLLAPSE_THRESHOLD:
        return f"below {COLLAPSE_THRESHOLD:g}: looks collapsed"
    if diversity < VARIED:
        return "less varied than the reals"
    return "about as varied as the reals"


def latest_samples(samples: Path) -> str:
    """Where a run's sample grids are, naming the newest."""
    grids = sorted(samples.glob("*.png")) if samples.is_dir() else []
    return f"samples: {grids[-1]}" if grids else f"samples: none in {samples} yet"


def floor_line(comparison: FloorComparison, samples: Path | None = None) -> str:
    """`fd_efflite0 351.8 = 2.62x the real-vs-real floor (134.3; goal: near 1x) ...`."""
    fake, floor = comparison.fake, comparison.floor
    ratio = comparison.fd_ratio()
    line = (
        f"{comparison.fd_name} {fake['fd']:.1f} = {ratio:.2f}x the real-vs-real floor "
        f"({floor['fd']:.1f}; goal: near 1x), {_ratio_words(ratio)}; diversity "
        f"{fake['diversity']:.2f} of the reals' ({diversity_words(fake['diversity'])}); "
        f"{comparison.images} images a side"
    )
    return line + (f"; {latest_samples(samples)}" if samples is not None else "")


def training_line(summary: Mapping[str, Any], run_path: Path, samples: Path) -> str:
    """The last epoch's quality as logged by `gan train` (no floor is measured during
    training), how to get the ratio to the floor, and where the samples are."""
    fd = next(((k, v) for k, v in summary.items()
               if k.startswith(("fd_", "fid")) and isinstance(v, (int, float))), None)
    parts = []
    if fd is not None:
        parts.append(f"last epoch {fd[0]} {fd[1]:.1f}")
    diversity = summary.get("diversity")
    if isinstance(diversity, (int, float)):
        parts.append(f"diversity {diversity:.2f} of the reals' ({diversity_words(diversity)})")
    measured = "; ".join(parts) if parts else "no quality measured during training"
    return (
        f"{measured}; against the real-vs-real floor (goal: near 1x): fakescope gan metrics "
        f"--checkpoint {run_path} --data HELD_OUT_IMAGES; {latest_samples(samples)}"
    )
