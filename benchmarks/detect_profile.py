"""Where a detector training step's time goes: data fetch against compute, both pipelines.

    python benchmarks/detect_profile.py --models resnet50:64 efficientnet_b0:64 efficientnet_b0:224

For each model and input size, on the same synthetic faces and the same initial weights as
`fakescope bench`'s detect area, it times (median of --steps, after one warm-up):
fetching a batch (baseline: ImageFolder + PIL decode and resize per image; fakescope: a slice of
the decode-once cache) and the training step on an already fetched batch (baseline: fp32;
fakescope: fp32 and the settings its speed probe picks). The bound on the ratio is what
fakescope would reach with free data: baseline (fetch + step) / fakescope step. The top
operators of fakescope's step come from torch.profiler. Prints a Markdown report.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from fakescope.bench.baselines import PlainDetectorTrainer, imagefolder_loader
from fakescope.bench.dataset import synthetic_faces
from fakescope.data.pipeline import prepare_data
from fakescope.data.transforms import resolve_input_spec
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.speed import choose_speed_settings
from fakescope.detect.train import DetectorTrainer, build_model
from fakescope.runs import open_run
from fakescope.speed import SpeedSettings

BATCH = 32


def median_seconds(action: Callable[[], object], steps: int) -> float:
    action()  # warm-up: allocations, kernel choices
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def profile_model(root: Path, work: Path, name: str, size: int, steps: int) -> list[str]:
    base = DetectJobConfig()
    config = replace(
        base,
        data=replace(base.data, path=str(root), image_size=size, resize="resize",
                     cache_dir=str(work / "cache"), split_fractions=(1.0, 0.0, 0.0)),
        run=replace(base.run, root=str(work / "runs"), name=f"{name}-{size}"),
        model=replace(base.model, name=name),
        train=replace(base.train, batch_size=BATCH, augment=False),
    )  # fmt: skip
    torch.manual_seed(0)
    net = build_model(config)
    spec = resolve_input_spec(net.input_spec, config.data)
    prepared = prepare_data(config.data, spec, seed=0, labelled=True)
    run = open_run(config.run.root, config.run.name, config)
    t = config.train
    chosen, _ = choose_speed_settings(net, size, BATCH, torch.device("cpu"), t.amp,
                                      t.channels_last, t.threads)
    plain = PlainDetectorTrainer(copy.deepcopy(net), t.lr, t.betas, torch.device("cpu"))
    plain_batches = iter(imagefolder_loader(root, spec, BATCH))
    cached = prepared.loader("train", BATCH, shuffle=True, drop_last=True)
    cached_batches = iter(cached)
    images, labels = next(cached_batches)

    fetch_plain = median_seconds(lambda: next(plain_batches), steps)
    fetch_cached = median_seconds(lambda: next(cached_batches), steps)
    step_plain = median_seconds(lambda: plain.step(images, labels), steps)
    rows = [f"| {name} {size}x{size} | baseline fp32 | {fetch_plain * 1e3:.0f} | "
            f"{step_plain * 1e3:.0f} | {BATCH / (fetch_plain + step_plain):.1f} |"]
    bound = ""
    for label, settings in (("fakescope fp32", SpeedSettings()), ("fakescope chosen", chosen)):
        trainer = DetectorTrainer(config, copy.deepcopy(net), prepared, run, torch.device("cpu"),
                          settings)
        with settings.thread_count():
            step = median_seconds(lambda trainer=trainer: trainer.train_step(images, labels),
                                  steps)
            if settings == chosen:
                with profile(activities=[ProfilerActivity.CPU]) as prof:
                    trainer.train_step(images, labels)
        rows.append(f"| {name} {size}x{size} | {label} ({settings.describe()}) | "
                    f"{fetch_cached * 1e3:.1f} | {step * 1e3:.0f} | "
                    f"{BATCH / (fetch_cached + step):.1f} |")
        bound = (f"{name} {size}x{size}: ratio bound with free data "
                 f"{(fetch_plain + step_plain) / step:.2f}x (chosen: {chosen.describe()}); "
                 f"data is {fetch_plain / (fetch_plain + step_plain):.0%} of a baseline step")
    top = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=6)
    return [*rows, "", bound, "", "```", top, "```", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet50:64", "efficientnet_b0:64",
                                                        "efficientnet_b0:224"])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = synthetic_faces(work / "faces", args.images, 256)
        print(f"load average before: {os.getloadavg()}")
        for spec in args.models:
            name, size = spec.split(":")
            lines = ["| model | pipeline | fetch ms/batch | step ms/batch | img/s |",
                     "|---|---|---:|---:|---:|"]
            lines += profile_model(data.root, work, name, int(size), args.steps)
            print("\n".join(lines), flush=True)
        print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
