"""A labelled set of fakes from several generator families, made from the user's own reals.

    summary = build_multigen_set(Path("photos"), Path("multigen"), minutes=2.0)

Families differ in how they make pixels:

    dcgan         paper 000's DCGAN (transposed convolutions), preset paper000_dcgan64
    small_data    the small-data recipe (slim DCGAN + spectral norm, hinge, DiffAugment, EMA)
    fastgan_lite  up-sample (nearest) + conv generator, trained with the small-data recipe
    autoencoder   reconstructions of the real images (real content, generated pixels: DRCT)

The reals are cropped to `resolution` and split train/val/test once; the generators learn from
the training reals only, and a reconstruction keeps the split of the real it reconstructs, so no
test image's content is seen in training. The output folder has the project's class-folder
layout, `real/` and `fake/<family>/`, plus `manifest.csv` (path, label, split, family,
checkpoint, seed; itself a `csv` layout data set with fixed splits) and `manifest.json`.
Each finished family writes `fake/<family>/family.json`; a second call skips it, and a family
whose GAN run already holds a checkpoint samples from it instead of training again.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from fakescope.config import ConfigError, load_config, override_settings
from fakescope.data.images import BadImageError, load_image
from fakescope.data.layouts import REAL, read_layout
from fakescope.data.multigen_set import (
    FAMILY_FILE,
    MANIFEST_COLUMNS,
    MANIFEST_CSV,
    MANIFEST_JSON,
    REAL_FAMILY,
    REALS_FILE,
    split_of,
)
from fakescope.data.tensors import load_uint8
from fakescope.errors import BadFileError, DataError
from fakescope.formatting import csv_bytes
from fakescope.gan.families import AUTOENCODER, FAMILIES, GAN_FAMILIES
from fakescope.runs import RunDir, atomic_write_bytes, write_json


@dataclass
class FamilyRecord:
    """One family's fakes: file names (relative to the set) with their splits."""

    family: str
    checkpoint: str
    seed: int
    files: list[tuple[str, str]]  # (relative path, split)
    built: bool = True  # False when an earlier call had built it

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "checkpoint": self.checkpoint, "seed": self.seed,
                "files": [list(f) for f in self.files]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FamilyRecord:
        return cls(data["family"], data["checkpoint"], int(data["seed"]),
                   [(str(p), str(s)) for p, s in data["files"]], built=False)


@dataclass
class MultigenSummary:
    out: Path
    reals: int
    families: list[FamilyRecord] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {REAL_FAMILY: self.reals, **{f.family: len(f.files) for f in self.families}}


def _fit(image: Image.Image, resolution: int) -> Image.Image:
    """Short side to `resolution`, centre crop (the data layer's short_side_crop)."""
    if image.size == (resolution, resolution):
        return image
    return ImageOps.fit(image, (resolution, resolution), Image.Resampling.BICUBIC)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_reals(reals: Path, out: Path, resolution: int, seed: int) -> list[tuple[str, str]]:
    """The real images of `reals` (any layout; fakes there are ignored) cropped to `resolution`
    into out/real/, shuffled with `seed` into splits; (relative path, split) per image."""
    record = out / "real" / REALS_FILE
    if record.is_file():
        return [(str(p), str(s)) for p, s in json.loads(record.read_text())["files"]]
    _, samples = read_layout(reals)
    paths = [s.path for s in samples if s.label == REAL]
    if not paths:
        raise DataError(f"{reals}: no real images found")
    order = np.random.default_rng(seed).permutation(len(paths))
    files: list[tuple[str, str]] = []
    for rank, index in enumerate(order):
        try:
            image = _fit(load_image(paths[index]), resolution)
        except BadImageError:
            continue
        name = f"real/real_{rank:06d}.png"
        atomic_write_bytes(out / name, _png(image))
        files.append((name, ""))
    if len(files) < 3:
        raise DataError(f"{reals}: {len(files)} readable real images; at least 3 are needed")
    files = [(name, split_of(i, len(files))) for i, (name, _) in enumerate(files)]
    write_json(record, {"source": str(reals), "resolution": resolution, "seed": seed,
                        "files": [list(f) for f in files]})
    return files


def _write_gan_reals(out: Path, reals: Sequence[tuple[str, str]]) -> Path:
    """A csv-layout list of the training reals, the only images the generators learn from."""
    path = out / "generators" / "train_reals.csv"
    rows = ({"path": str((out / name).resolve()), "label": "real", "split": "train"}
            for name, split in reals if split == "train")
    atomic_write_bytes(path, csv_bytes(("path", "label", "split"), rows))
    return path


def _gan_checkpoint(
    family: str, out: Path, reals: Sequence[tuple[str, str]], minutes: float, resolution: int,
    seed: int, overrides: Sequence[str], progress: bool,
) -> Path:
    """Train the family's GAN for `minutes` (or reuse the checkpoint a finished run left)."""
    from fakescope.gan.config import GanJobConfig
    from fakescope.gan.train import newest_gan_checkpoint, train_gan

    root = out / "generators"
    found = newest_gan_checkpoint(RunDir(root / family)) if (root / family).is_dir() else None
    if found:
        return found[0]
    chosen = GAN_FAMILIES[family]
    preset = load_config(GanJobConfig, chosen.preset)
    config = replace(
        preset,
        data=replace(preset.data, path=str(_write_gan_reals(out, reals)),
                     cache_dir=str(root / ".cache")),
        run=replace(preset.run, root=str(root), name=family, seed=seed),
        model=replace(preset.model, resolution=resolution,
                      arch=chosen.arch or preset.model.arch),
        # the set needs the generator only: no FD/KID pass and no collapse watch at the end
        train=replace(preset.train, max_minutes=minutes, metrics_every=0),
        collapse=replace(preset.collapse, enabled=False),
    )  # fmt: skip
    config = override_settings(config, overrides)  # the user's --set go on top
    result = train_gan(config, progress=progress)
    if result.checkpoint is None:
        raise RuntimeError(f"the {family} GAN stopped before writing a checkpoint")
    return result.checkpoint


def _gan_family(
    family: str, out: Path, reals: Sequence[tuple[str, str]], checkpoint: Path | None, n: int,
    minutes: float, resolution: int, seed: int, overrides: Sequence[str], progress: bool,
) -> FamilyRecord:
    from fakescope.gan.sample import generate_images, load_generator

    checkpoint = checkpoint or _gan_checkpoint(
        family, out, reals, minutes, resolution, seed, overrides, progress
    )
    generator = load_generator(checkpoint)
    if generator.resolution != resolution:
        raise BadFileError(f"{checkpoint}: the generator draws {generator.resolution} px images, "
                         f"the set is {resolution} px")
    folder = out / "fake" / family
    generate_images(generator, n, folder, seed=seed, prefix=family, progress=progress)
    names = [f"fake/{family}/{family}_{i:06d}.png" for i in range(n)]
    files = [(name, split_of(i, n)) for i, name in enumerate(names)]
    return FamilyRecord(family, str(checkpoint), seed, files)


def _autoencoder_family(
    out: Path, reals: Sequence[tuple[str, str]], checkpoint: Path | None, minutes: float,
    seed: int, max_steps: int | None,
) -> FamilyRecord:
    """Reconstructions of every real, each in its real's split."""
    from fakescope.gan.autoencoder_train import reconstruct, train_autoencoder
    from fakescope.models.autoencoder import load_autoencoder

    images = load_uint8([out / name for name, _ in reals])
    if checkpoint is None:
        checkpoint = out / "generators" / AUTOENCODER / "autoencoder.pt"
        if not checkpoint.is_file():
            train = torch.tensor([s == "train" for _, s in reals])
            train_autoencoder(images[train], checkpoint, minutes, seed, max_steps)
    fakes = reconstruct(load_autoencoder(checkpoint), images)
    files: list[tuple[str, str]] = []
    for i, (image, (_, split)) in enumerate(zip(fakes, reals, strict=True)):
        name = f"fake/{AUTOENCODER}/{AUTOENCODER}_{i:06d}.png"
        atomic_write_bytes(out / name, _png(Image.fromarray(image.permute(1, 2, 0).numpy())))
        files.append((name, split))
    return FamilyRecord(AUTOENCODER, str(checkpoint), seed, files)


def write_manifest(out: Path, reals: Sequence[tuple[str, str]],
                   families: Sequence[FamilyRecord]) -> None:
    rows: list[dict[str, Any]] = [
        dict(zip(MANIFEST_COLUMNS, (name, "real", split, REAL_FAMILY, "", ""), strict=True))
        for name, split in reals
    ]
    rows += [dict(zip(MANIFEST_COLUMNS,
                      (name, "fake", split, record.family, record.checkpoint, record.seed),
                      strict=True))
             for record in families for name, split in record.files]
    atomic_write_bytes(out / MANIFEST_CSV, csv_bytes(MANIFEST_COLUMNS, rows))
    write_json(out / MANIFEST_JSON, {
        "reals": len(reals),
        "families": {r.family: {"count": len(r.files), "checkpoint": r.checkpoint, "seed": r.seed}
                     for r in families},
    })  # fmt: skip


def build_multigen_set(
    reals: Path,
    out: Path,
    families: Sequence[str] = FAMILIES,
    minutes: float = 2.0,
    resolution: int = 64,
    seed: int = 0,
    checkpoints: Mapping[str, Path] | None = None,
    n_per_family: int | None = None,
    gan_overrides: Sequence[str] = (),
    autoencoder_max_steps: int | None = None,
    progress: bool = False,
) -> MultigenSummary:
    """Build (or finish) the multi-generator set of `reals` in `out`.

    `minutes` bounds each generator's training; `checkpoints` maps a family to an existing
    generator (GAN checkpoint or run folder; an autoencoder checkpoint) used instead of
    training. GAN families draw `n_per_family` fakes (default: as many as there are reals).
    """
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise ConfigError(f"unknown families {unknown} (choose from {', '.join(FAMILIES)})")
    checkpoints = dict(checkpoints or {})
    for family, path in checkpoints.items():
        if family not in families:
            raise ConfigError(f"a checkpoint for '{family}', which is not being built")
        if not Path(path).exists():
            raise FileNotFoundError(f"{family} checkpoint not found: {path}")
    if not reals.exists():
        raise FileNotFoundError(f"reals not found: {reals}")
    out.mkdir(parents=True, exist_ok=True)
    real_files = write_reals(reals, out, resolution, seed)
    summary = MultigenSummary(out, len(real_files))
    for family in families:
        record_path = out / "fake" / family / FAMILY_FILE
        if record_path.is_file():
            summary.families.append(FamilyRecord.from_dict(json.loads(record_path.read_text())))
            continue
        given = Path(checkpoints[family]) if family in checkpoints else None
        if family == AUTOENCODER:
            record = _autoencoder_family(out, real_files, given, minutes, seed,
                                         autoencoder_max_steps)
        else:
            record = _gan_family(family, out, real_files, given, n_per_family or len(real_files),
                                 minutes, resolution, seed, gan_overrides, progress)
        write_json(record_path, record.to_dict())
        summary.families.append(record)
        write_manifest(out, real_files, summary.families)
    write_manifest(out, real_files, summary.families)
    return summary
