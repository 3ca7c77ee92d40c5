"""Data loading: images per second through one epoch, the plain loader against the cache."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import torch

from fakescope.bench.baselines import imagefolder_loader
from fakescope.bench.context import BenchContext
from fakescope.bench.dataset import require_images
from fakescope.bench.settings import BenchSettings
from fakescope.bench.table import Row, comparison_row
from fakescope.bench.timing import Side, alternate
from fakescope.config import DataConfig
from fakescope.data.pipeline import PreparedData, prepare_data
from fakescope.data.transforms import InputSpec


def describe(s: BenchSettings) -> str:
    return (
        f"one shuffled epoch in batches of {s.data_batch} per turn. Baseline: torchvision "
        "ImageFolder, PIL decode, Resize + CenterCrop + ToTensor + Normalize of every image, "
        f"DataLoader with {s.data_workers} worker processes. fakescope: `prepare_data` decodes "
        "the images once into a uint8 memory-mapped cache (in its first epoch, which the "
        "first-epoch row times), then every epoch slices the cache and normalises whole "
        "batches. Both sides touch every batch (`images.sum()`)."
    )


def _epoch(batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> int:
    """Images in one pass over `batches`, each touched as a training step would."""
    count = 0
    for images, _ in batches:
        images.sum()
        count += len(images)
    return count


def _compare_size(ctx: BenchContext, size: int) -> Iterator[Row]:
    s = ctx.settings
    spec = InputSpec(size=size)  # paper 000's: short side to `size`, centre crop, [-1, 1]
    loader = imagefolder_loader(ctx.data.root, spec, s.data_batch, s.data_workers,
                                drop_last=False)
    config = DataConfig(path=str(ctx.data.root), cache_dir=str(ctx.work / "data-cache"),
                        split_fractions=(1.0, 0.0, 0.0))
    built: list[PreparedData] = []
    epochs = itertools.count()

    def baseline_epoch() -> int:
        return _epoch(loader)

    def fakescope_epoch() -> int:
        if not built:  # the first epoch decodes the images into the cache
            built.append(prepare_data(config, spec, seed=0))
        return _epoch(built[0].loader("train", s.data_batch, shuffle=True, epoch=next(epochs)))

    ctx.log(f"data loading {size}x{size}: first epoch (fakescope builds its cache)")
    first = alternate(Side(baseline_epoch), Side(fakescope_epoch), rounds=1)
    yield comparison_row("data", f"data/first-epoch/{size}",
                         f"first epoch {size}x{size}, cache build included", "img/s", first)
    ctx.log(f"data loading {size}x{size}: later epochs, {s.rounds} rounds")
    later = alternate(Side(baseline_epoch), Side(fakescope_epoch), s.rounds)
    yield comparison_row("data", f"data/later-epochs/{size}", f"later epochs {size}x{size}",
                         "img/s", later)


def measure(ctx: BenchContext) -> Iterator[Row]:
    require_images(ctx.data.images, ctx.settings.data_batch, "the data area")
    for size in ctx.settings.data_sizes:
        yield from _compare_size(ctx, size)
