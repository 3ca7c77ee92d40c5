"""FD of trained GANs on two readings: against every training image with many fakes (the
field's usual "full dataset" protocol), and against the held-out images.

    python benchmarks/gan_fd_reference.py --train /tmp/photos/train/real \
        --holdout /tmp/photos/holdout/real --fakes 5000 RUN_OR_CHECKPOINT ...

`fakescope gan metrics` (and benchmarks/gan_ablation.py) compares 156 fakes with 156 held-out
images next to a floor from two halves of the reals: a fair, same-size comparison, but at 156
images on 1,280 EfficientNet-Lite0 features most of FD is the estimator's bias (two halves of
the same reals sit at FD ~90). This script reads the same checkpoints with far more images on
both sides: `--fakes` generated images against all training images (and against all held-out
ones), its own floor being the held-out images against the training ones. KID is unbiased at
any size; the diversity ratio is the fakes' mean pairwise feature distance over the training
images'. One JSON line per run goes to stdout (and to --jsonl).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, cast

import torch

from fakescope.bench.machine import describe_machine
from fakescope.checkpoints import GanPayload, read_gan, resolve_gan_checkpoint
from fakescope.data.tensors import real_uint8_batches
from fakescope.gan.judge import checkpoint_data
from fakescope.gan.metrics import (
    EfficientNetLite0Features,
    Statistics,
    extract_features,
    features_to_kid,
    features_to_statistics,
    generated_features,
    pairwise_diversity,
    statistics_to_fd,
)
from fakescope.gan.sample import load_generator

EVERY_IMAGE = 10**9


def folder_images(payload: GanPayload, folder: Path) -> torch.Tensor:
    """Every image in `folder` as uint8, read the way `fakescope gan metrics` reads them (the
    checkpoint's data settings: resize, crop, cache), but without its run's subset limits
    (paper 000's preset trains on 1,000 images)."""
    config = payload["config"]
    unlimited = {**config, "data": {**config["data"], "limit_per_class": None,
                                    "limit_fraction": None}}
    prepared = checkpoint_data(cast(GanPayload, {**payload, "config": unlimited}), str(folder))
    return torch.cat(list(real_uint8_batches(prepared, EVERY_IMAGE, 128, seed=0)))


def folder_features(
    extractor: EfficientNetLite0Features, payload: GanPayload, folder: Path
) -> torch.Tensor:
    """Features of every image in `folder` (`folder_images`)."""
    return extract_features(extractor, folder_images(payload, folder).split(128))


def reading_parser(description: str) -> argparse.ArgumentParser:
    """The command line of a script that reads GAN checkpoints against their real images."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("runs", nargs="+", type=Path, help="GAN run folders or checkpoints")
    parser.add_argument("--train", type=Path, required=True, help="the runs' training images")
    parser.add_argument("--holdout", type=Path, required=True, help="held-out real images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jsonl", type=Path, help="also append each run's row to this file")
    return parser


def emit(row: dict[str, Any], jsonl: Path | None) -> None:
    """One run's reading as a JSON line on stdout, and appended to `jsonl` when given."""
    print(json.dumps(row), flush=True)
    if jsonl is not None:
        with jsonl.open("a") as out:
            out.write(json.dumps(row) + "\n")


def fd(a: Statistics, b: Statistics) -> float:
    return round(statistics_to_fd(a, b), 1)


def main() -> int:
    parser = reading_parser(__doc__.split("\n")[0])
    parser.add_argument("--fakes", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    extractor = EfficientNetLite0Features(torch.device("cpu"))
    checkpoints = [resolve_gan_checkpoint(run) for run in args.runs]
    # every run is read against the same reals, prepared with the first run's data settings
    first = read_gan(checkpoints[0])
    train = folder_features(extractor, first, args.train)
    holdout = folder_features(extractor, first, args.holdout)
    train_stats, holdout_stats = features_to_statistics(train), features_to_statistics(holdout)
    train_diversity = pairwise_diversity(train)
    machine = describe_machine()
    floor = {"fd_vs_train": fd(holdout_stats, train_stats),
             "kid_vs_train": features_to_kid(holdout, train)[0],
             "diversity_ratio": pairwise_diversity(holdout) / train_diversity}
    print(json.dumps({"floor (held-out vs training images)": floor, "train_images": len(train),
                      "holdout_images": len(holdout), "cpu": machine["cpu"],
                      "cpu_flags": machine["cpu_flags"]}), flush=True)
    for checkpoint in checkpoints:
        fakes = generated_features(extractor, load_generator(checkpoint), args.fakes, 250,
                                   args.seed)
        fake_stats = features_to_statistics(fakes)
        row = {
            "checkpoint": str(checkpoint), "fakes": len(fakes),
            "fd_vs_train": fd(fake_stats, train_stats),
            "fd_vs_holdout": fd(fake_stats, holdout_stats),
            "kid_vs_train": features_to_kid(fakes, train)[0],
            # on as many fakes as training images, so both means are over equal-sized sets
            "diversity_ratio": pairwise_diversity(fakes[: len(train)]) / train_diversity,
            "floor": floor,
        }
        emit(row, args.jsonl)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
