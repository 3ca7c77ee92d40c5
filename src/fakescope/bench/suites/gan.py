"""GAN training: images per second through DCGAN iterations, the PyTorch example against
`fakescope gan train`'s iteration over its cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import torch

from fakescope.bench.baselines import imagefolder_loader
from fakescope.bench.context import BenchContext
from fakescope.bench.dataset import require_images
from fakescope.bench.dcgan_example import DcganExample
from fakescope.bench.machine import native_bf16
from fakescope.bench.settings import BenchSettings
from fakescope.bench.suites.steps import endless, step_turn, with_threads
from fakescope.bench.table import Row, comparison_row
from fakescope.bench.timing import Side, alternate
from fakescope.data.pipeline import prepare_data
from fakescope.data.transforms import InputSpec
from fakescope.gan.config import GanJobConfig, validate
from fakescope.gan.train import GanTrainer, gan_input_spec
from fakescope.reproducibility import seed_everything
from fakescope.runs import open_run


def describe(s: BenchSettings) -> str:
    return (
        f"{s.gan_steps} DCGAN iterations of batch {s.gan_batch} per turn (fewer once a turn "
        f"passes {s.turn_seconds:g} s), fetching each batch included; paper 000's networks "
        "(512 channels next to 4x4), Adam 2e-4 (0.5, 0.999). Baseline (fp32): the PyTorch DCGAN "
        "example's loop (Sigmoid + BCELoss, D on real then fake, then G) fed by ImageFolder + "
        "PIL decode and resize per step, in the main process so that its decoding is timed in "
        "its own turn. fakescope: `GanTrainer.train_step` (logits with BCE-with-logits, "
        "channels_last, fused Adam) fed from the decode-once cache, built beforehand and not "
        "timed; with the settings `fakescope gan train` picks by default (its timing probe: "
        "bf16 autocast on CPUs with native bf16, thread count), which the goal applies to, and "
        "where those can be bf16 (native bf16 CPUs, GPUs) also held to fp32 like the baseline."
    )


def _parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _compare(ctx: BenchContext, device: torch.device, resolution: int, fp32: bool) -> Row:
    s = ctx.settings
    precision = "fp32" if fp32 else "default"
    base = GanJobConfig()
    config = validate(replace(
        base,
        data=replace(base.data, path=str(ctx.data.root), cache_dir=str(ctx.work / "gan-cache")),
        run=replace(base.run, root=str(ctx.work / "gan-runs"),
                    name=f"{device.type}-{resolution}-{precision}"),
        model=replace(base.model, resolution=resolution, base_width=s.gan_base_width),
        train=replace(base.train, batch_size=s.gan_batch, drop_last=True,
                      amp=False if fp32 else "auto"),
    ))  # fmt: skip
    seed_everything(0)
    prepared = prepare_data(config.data, gan_input_spec(config), labelled=False)
    trainer = GanTrainer(config, prepared, open_run(config.run.root, config.run.name, config),
                         device)
    ours = endless(lambda epoch: prepared.loader("train", s.gan_batch, shuffle=True,
                                                 epoch=epoch, drop_last=True))
    example = DcganExample(resolution, s.gan_base_width, device)
    loader = imagefolder_loader(ctx.data.root, InputSpec(size=resolution), s.gan_batch)
    plain = endless(lambda epoch: loader)

    def fakescope_step() -> None:
        images, _ = next(ours)
        trainer.train_step(images.to(device, memory_format=trainer.memory_format))

    def baseline_step() -> None:
        images, _ = next(plain)
        example.step(images)

    def turn(step: Callable[[], None]) -> Callable[[], int]:
        return step_turn(step, s.gan_steps, s.gan_batch, device, s.turn_seconds)

    fakescope = Side(with_threads(trainer.speed, turn(fakescope_step)),
                     warmup=with_threads(trainer.speed, fakescope_step))
    comparison = alternate(Side(turn(baseline_step), warmup=baseline_step), fakescope, s.rounds)
    where = "" if device.type == "cpu" else f" ({device.type})"
    where += ", fakescope held to fp32" if fp32 else f", fakescope {trainer.speed.describe()}"
    details = {
        "steps_per_turn": s.gan_steps, "batch_size": s.gan_batch, "device": str(device),
        "fakescope_speed": trainer.speed.to_dict(),
        "parameters": {
            "baseline": {"G": _parameters(example.net_g), "D": _parameters(example.net_d)},
            "fakescope": {"G": _parameters(trainer.G), "D": _parameters(trainer.D)},
        },
    }  # fmt: skip
    key = f"gan/{device.type}/{resolution}" + ("/fp32" if fp32 else "")
    return comparison_row("gan", key,
                          f"GAN step {resolution}x{resolution} batch {s.gan_batch}{where}",
                          "img/s", comparison, details)


def measure(ctx: BenchContext) -> Iterator[Row]:
    s = ctx.settings
    # The baseline reads every class folder, fakescope (labelled=False) the real faces only.
    require_images(ctx.data.real, s.gan_batch, "the gan area (real faces)")
    for device in ctx.devices:
        # Without native bf16 the default settings are fp32 too: one row, the default's.
        regimes = (True, False) if device.type != "cpu" or native_bf16() else (False,)
        for resolution in s.gan_resolutions:
            for fp32 in regimes:
                ctx.log(f"GAN step {resolution}x{resolution} on {device.type}"
                        f"{' in fp32' if fp32 else ''}: {s.rounds} rounds of {s.gan_steps} steps")
                yield _compare(ctx, device, resolution, fp32)
