"""The faces every area reads: a folder given with --data, or synthetic ones drawn for the run.

Both pipelines read the same folder: real/ and fake/ subfolders of image files, which is the
layout torchvision's ImageFolder (the baselines) and fakescope's class-folder reader both take.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fakescope.config import ConfigError
from fakescope.data.images import is_image_name
from fakescope.data.synth import synthesize_dataset
from fakescope.errors import DataError

CLASSES = ("real", "fake")


@dataclass(frozen=True)
class BenchData:
    root: Path
    real: int
    fake: int
    synthetic_side: int | None = None  # the side of synthetic faces; None for a given folder

    @property
    def images(self) -> int:
        return self.real + self.fake

    def paths(self, limit: int) -> list[Path]:
        """Up to `limit` image files, real and fake alternating, in a fixed order."""
        real = _images(self.root / "real")
        fake = _images(self.root / "fake")
        mixed = [p for pair in zip(real, fake, strict=False) for p in pair]
        return mixed[:limit]

    def describe(self) -> str:
        counts = f"({self.real:,} real, {self.fake:,} fake)"
        if self.synthetic_side is None:
            return f"{self.images:,} images {counts} from {self.root}"
        side = self.synthetic_side
        return (f"{self.images:,} synthetic {side}x{side} JPEG faces {counts}, drawn by "
                "fakescope.data.synth")


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p))


def faces_folder(root: Path) -> BenchData:
    """A folder holding real/ and fake/ subfolders of images, checked."""
    if not root.is_dir():
        raise FileNotFoundError(f"--data {root}: no such folder")
    subfolders = {
        p.name.lower(): p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    }
    if set(subfolders) != set(CLASSES):
        found = ", ".join(sorted(subfolders)) or "none"
        raise DataError(
            f"--data {root}: expected exactly the subfolders real/ and fake/ (as `fakescope data "
            f"synth --fakes` writes), found: {found}"
        )
    real, fake = (len(_images(subfolders[name])) for name in CLASSES)
    if not real or not fake:
        raise DataError(f"--data {root}: real/ and fake/ must both hold images")
    return BenchData(root, real, fake)


def synthetic_faces(folder: Path, images: int, side: int) -> BenchData:
    """Draw `images` faces (half real, half stand-in fakes) of `side` pixels into `folder`."""
    if images < 2:
        raise ConfigError(f"--images must be at least 2 (half real, half fake), got {images}")
    synthesize_dataset(folder, n=images // 2, size=side, seed=0, fakes=True)
    return BenchData(folder, images // 2, images // 2, side)


def require_images(count: int, batch_size: int, what: str) -> None:
    """Refuse a dataset too small for one full batch (both sides drop a short last batch)."""
    if count < batch_size:
        raise DataError(
            f"{what} needs at least {batch_size} images (one batch), the dataset has {count}; "
            "give more with --images or --data"
        )
