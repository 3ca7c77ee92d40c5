"""Detector training: images per second through training steps, paper 003's plain loop
against `fakescope train`'s, per model and input size."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import torch

from fakescope.bench.baselines import PlainDetectorTrainer, imagefolder_loader
from fakescope.bench.context import BenchContext
from fakescope.bench.dataset import require_images
from fakescope.bench.settings import BenchSettings, ModelSpec
from fakescope.bench.suites.steps import endless, step_turn, with_threads
from fakescope.bench.table import Row, comparison_row
from fakescope.bench.timing import Side, alternate
from fakescope.data.pipeline import prepare_data
from fakescope.data.transforms import resolve_input_spec
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.speed import choose_speed_settings
from fakescope.detect.train import DetectorTrainer, build_model
from fakescope.runs import open_run


def describe(s: BenchSettings) -> str:
    return (
        f"{s.detect_steps} training steps of batch {s.detect_batch} per turn (fewer once a turn "
        f"passes {s.turn_seconds:g} s), fetching each batch included; the same network from the "
        "same initial weights (seed 0, trained from scratch), Adam 1e-3, no augmentation. "
        "Baseline: paper 003's loop, ImageFolder + PIL decode + Resize((S, S)) + ToTensor + "
        "ImageNet Normalize per image in the main process, fp32, torch's default threads. "
        "fakescope: `DetectorTrainer.train_step` fed from the decode-once cache (built beforehand, "
        "not timed) with the thread count, bf16 autocast and channels_last that its timing probe "
        "picks (the probe's time is in the JSON as `probe_s`, not in the ratio)."
    )


def _compare(ctx: BenchContext, device: torch.device, model: ModelSpec) -> Row:
    s = ctx.settings
    base = DetectJobConfig()
    config = replace(
        base,
        data=replace(base.data, path=str(ctx.data.root), image_size=model.size, resize="resize",
                     cache_dir=str(ctx.work / "detect-cache"), split_fractions=(1.0, 0.0, 0.0)),
        run=replace(base.run, root=str(ctx.work / "detect-runs"),
                    name=f"{device.type}-{model.name}-{model.size}"),
        model=replace(base.model, name=model.name, kwargs=dict(model.kwargs)),
        train=replace(base.train, batch_size=s.detect_batch, augment=False),
    )  # fmt: skip
    t = config.train
    torch.manual_seed(0)
    net = build_model(config)
    plain_net = copy.deepcopy(net)  # the same initial weights for both sides
    spec = resolve_input_spec(net.input_spec, config.data)
    prepared = prepare_data(config.data, spec, seed=0, labelled=True)
    probe_started = time.perf_counter()
    speed, probe = choose_speed_settings(net, spec.size, t.batch_size, device, t.amp,
                                         t.channels_last, t.threads)
    probe_s = time.perf_counter() - probe_started
    run = open_run(config.run.root, config.run.name, config)
    trainer = DetectorTrainer(config, net, prepared, run, device, speed)
    ours = endless(lambda epoch: prepared.loader("train", t.batch_size, shuffle=True,
                                                 epoch=epoch, drop_last=True))
    plain = PlainDetectorTrainer(plain_net, t.lr, t.betas, device)
    loader = imagefolder_loader(ctx.data.root, spec, t.batch_size)
    plain_batches = endless(lambda epoch: loader)

    def fakescope_step() -> None:
        trainer.train_step(*next(ours))

    def baseline_step() -> None:
        plain.step(*next(plain_batches))

    def turn(step: Callable[[], None]) -> Callable[[], int]:
        return step_turn(step, s.detect_steps, t.batch_size, device, s.turn_seconds)

    comparison = alternate(
        Side(turn(baseline_step), warmup=baseline_step),
        Side(with_threads(speed, turn(fakescope_step)),
             warmup=with_threads(speed, fakescope_step)),
        s.rounds,
    )
    where = "" if device.type == "cpu" else f" ({device.type})"
    where += f", fakescope {speed.describe()}"  # amp=off: fp32
    details: dict[str, Any] = {
        "model": model.name, "size": model.size, "kwargs": model.kwargs, "device": str(device),
        "steps_per_turn": s.detect_steps, "batch_size": t.batch_size,
        "fakescope_settings": speed.describe(), "probe_s": round(probe_s, 2),
        "probe_step_seconds": probe, "cache_s": round(prepared.report.seconds, 2),
    }  # fmt: skip
    return comparison_row("detect", f"detect/{device.type}/{model.name}/{model.size}",
                          f"detector step {model.label} batch {t.batch_size}{where}", "img/s",
                          comparison, details)


def measure(ctx: BenchContext) -> Iterator[Row]:
    s = ctx.settings
    require_images(ctx.data.images, s.detect_batch, "the detect area")
    for device in ctx.devices:
        for model in s.detect_models:
            ctx.log(f"detector step {model.label} on {device.type}: speed probe, then "
                    f"{s.rounds} rounds of {s.detect_steps} steps")
            yield _compare(ctx, device, model)
