"""Images per second for one epoch: the papers' plain pipeline against fakescope's cached path.

Baseline (what papers 000-003 do): torchvision ImageFolder + PIL decode + Resize/CenterCrop +
ToTensor + Normalize per image, through a DataLoader with 2 workers (one per core here).
fakescope: `prepare_data` decodes once into a uint8 memmap (the first epoch pays for that), then
every later epoch slices the memmap and normalises whole batches.

    python benchmarks/data_loading.py --images 2000 --out benchmarks/data_results.json

Writes a JSON of the measurements; `benchmarks/data_results.md` quotes a run.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from fakescope.config import DataConfig
from fakescope.data.pipeline import prepare_data
from fakescope.data.synth import synthesize_dataset
from fakescope.data.transforms import InputSpec


def baseline_epoch(root: Path, size: int, batch_size: int, workers: int) -> float:
    """Seconds for one shuffled epoch of ImageFolder + PIL + torchvision transforms."""
    transform = transforms.Compose(
        [
            transforms.Resize(size),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ]
    )
    loader = DataLoader(
        datasets.ImageFolder(str(root), transform=transform),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
    )
    start = time.perf_counter()
    for images, _ in loader:
        images.sum()  # touch the batch as a training step would
    return time.perf_counter() - start


def fakescope_epochs(
    root: Path, size: int, batch_size: int, cache_dir: Path, epochs: int
) -> list[float]:
    """Seconds for the first epoch (decode + cache build) and each later epoch."""
    config = DataConfig(path=str(root), cache_dir=str(cache_dir), split_fractions=(1.0, 0.0, 0.0))
    times = []
    start = time.perf_counter()
    prepared = prepare_data(config, InputSpec(size=size), seed=0)
    for epoch in range(epochs):
        if epoch > 0:
            start = time.perf_counter()
        for images, _ in prepared.loader("train", batch_size, shuffle=True, epoch=epoch):
            images.sum()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--images", type=int, default=2000, help="images in total (half real, half fake)"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--epochs", type=int, default=3, help="fakescope epochs (first builds the cache)"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix="fakescope-bench-"))
    try:
        data = work / "faces"
        synthesize_dataset(data, n=args.images // 2, size=256, seed=0, fakes=True)
        results = {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
            f"{platform.processor() or 'cpu'}",
            "images": args.images,
            "source_size": 256,
            "batch_size": args.batch_size,
            "baseline_workers": args.workers,
            "runs": [],
        }
        n = len(list(data.rglob("*.jpg")))
        for size in args.sizes:
            base = baseline_epoch(data, size, args.batch_size, args.workers)
            ours = fakescope_epochs(data, size, args.batch_size, work / f"cache{size}", args.epochs)
            later = min(ours[1:]) if len(ours) > 1 else ours[0]
            row = {
                "size": size,
                "baseline_images_per_s": n / base,
                "fakescope_first_epoch_images_per_s": n / ours[0],
                "fakescope_later_epoch_images_per_s": n / later,
                "speedup_later_epochs": base / later,
                "speedup_first_epoch": base / ours[0],
            }
            results["runs"].append(row)
            print(json.dumps(row))
        if args.out:
            args.out.write_text(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
