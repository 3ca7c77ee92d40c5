"""What each small-data GAN technique is worth, at equal compute, measured against a real floor.

    python benchmarks/gan_ablation.py --out /tmp/ablation                      # the demo's faces
    python benchmarks/gan_ablation.py --data PATCHES --holdout HELD_OUT --resolution 64 \
        --variants small_data paper000_dcgan --minutes 4 --out /tmp/photos     # any real images

Each variant is a preset plus overrides, trained by `fakescope gan train` in its own process on
one thread with a CPU-time budget (`train.budget_clock=cpu`): two variants can run side by side
and other jobs on the machine do not eat into either one's budget, so every variant gets the same
compute (on an idle core, CPU time is wall time). A technique that costs more per step (R1, say)
pays for it with fewer steps, as it would under a wall-clock budget. Each run is then scored with
`fakescope gan metrics` against held-out real images: FD and KID on EfficientNet-Lite0 features,
and the diversity ratio, next to the real-vs-real floor of the same images.

Without --data, the demo's synthetic faces are drawn: --faces for training and --holdout-faces
more, from another seed, never trained on. Writes ablation.jsonl (one line a run) and
ablation.md (mean and min-max over seeds per variant) into --out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from fakescope.bench.machine import describe_machine
from fakescope.config import changed_settings, load_config, override_settings, set_strings
from fakescope.gan.config import GanJobConfig, GanModelConfig, GanTrainConfig

FAKESCOPE = [sys.executable, "-m", "fakescope"]
BASE = "small_data"
Change = Callable[[GanJobConfig], GanJobConfig]


def _train(change: Callable[[GanTrainConfig], GanTrainConfig]) -> Change:
    """A change of the train section alone: `_train(lambda t: replace(t, loss="bce"))`."""
    return lambda c: replace(c, train=change(c.train))


def _model(change: Callable[[GanModelConfig], GanModelConfig]) -> Change:
    return lambda c: replace(c, model=change(c.model))


def _paper000_recipe(c: GanJobConfig) -> GanJobConfig:
    # its preset's 1,000-image subset is paper 000's data, not part of the training recipe
    return replace(c, train=replace(c.train, epochs=100000, sample_every=0,
                                    checkpoint_every=100000),
                   data=replace(c.data, limit_per_class=None))


# name: (preset, change); every technique of the preset off in turn, R1 on, another generator
VARIANTS: dict[str, tuple[str, Change]] = {
    "small_data": (BASE, lambda c: c),
    "no_diffaug": (BASE, _train(lambda t: replace(t, diffaug=[]))),
    "no_ema": (BASE, _train(lambda t: replace(t, ema_kimg=0))),
    "bce_loss": (BASE, _train(lambda t: replace(t, loss="bce"))),
    "no_spectral_norm": (BASE, _model(lambda m: replace(m, d_spectral_norm=False))),
    "equal_lr": (BASE, _train(lambda t: replace(t, lr_d=0.0004))),
    # the rates before 12-04
    "dcgan_lr": (BASE, _train(lambda t: replace(t, lr_g=0.0002, lr_d=0.0004))),
    "with_r1": (BASE, _train(lambda t: replace(t, r1_gamma=1.0))),
    "dcgan16_arch": (BASE, _model(lambda m: replace(m, arch="dcgan", base_width=16,
                                                    max_width=None, d_base_width=None))),
    # paper 000's recipe (its DCGAN, batch 16, BCE, Adam 2e-4) at the same size and budget, on
    # the same images as the others (the runs before 2026-12-05 10:30 UTC trained on its subset)
    "paper000_dcgan": ("paper000_dcgan64", _paper000_recipe),
}


# variants given on the command line (--try), filled by main()
EXTRA: dict[str, tuple[str, Change]] = {}


def parse_try(text: str) -> tuple[str, tuple[str, Change]]:
    """`NAME key=value ...` (YAML values) -> a variant of the base preset, or of `preset=NAME`."""
    name, *pairs = text.split()
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--try {name}: '{pair}' is not key=value")
        overrides[key] = yaml.safe_load(value)
    preset = overrides.pop("preset", BASE)
    return name, (preset, lambda c: override_settings(c, overrides))


def _same_compute(root: Path, minutes: float) -> Change:
    """What every variant shares: a CPU-time budget on one thread, fp32, no side measurements."""

    def change(c: GanJobConfig) -> GanJobConfig:
        return replace(
            c,
            train=replace(c.train, max_minutes=minutes, budget_clock="cpu", threads=1, amp=False,
                          metrics_every=0),
            collapse=replace(c.collapse, enabled=False),
            data=replace(c.data, cache_dir=str(root / "cache")),
        )

    return change


def synthesize(out: Path, n: int, seed: int, size: int) -> Path:
    folder = out / "real"
    if not folder.is_dir():
        subprocess.run([*FAKESCOPE, "data", "synth", "--out", str(out), "--n", str(n),
                        "--size", str(size), "--seed", str(seed)], check=True, capture_output=True)
    return folder


def train_and_score(
    variant: str, seed: int, data: Path, holdout: Path, root: Path, minutes: float, n_real: int,
    resolution: int,
) -> dict[str, Any]:
    preset, change = VARIANTS[variant] if variant in VARIANTS else EXTRA[variant]
    base = load_config(GanJobConfig, preset)
    overrides = changed_settings(base, change(base))
    settings = set_strings(base, _same_compute(root, minutes)(change(base)))
    name = f"{variant}_s{seed}"
    command = [*FAKESCOPE, "gan", "train", "--config", preset, "--data", str(data),
               "--root", str(root / "runs"), "--name", name, "--seed", str(seed),
               "--resolution", str(resolution)]
    for setting in settings:
        command += ["--set", setting]
    started = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    trained = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if trained.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{trained.stderr[-2000:]}")
    run = root / "runs" / name
    epochs = (run / "epochs.csv").read_text().strip().splitlines()
    header, last = epochs[0].split(","), epochs[-1].split(",")
    steps = int(last[header.index("step")])
    scored = subprocess.run(
        [*FAKESCOPE, "gan", "metrics", "--checkpoint", str(run), "--data", str(holdout),
         "--n", str(n_real), "--feature-extractor", "efflite0", "--seed", str(seed),
         "--device", "cpu"],
        capture_output=True, text=True, env=env,
    )
    if scored.returncode != 0:
        raise RuntimeError(f"scoring {name} failed:\n{scored.stderr[-2000:]}")
    metrics = json.loads(scored.stdout)
    return {"variant": variant, "preset": preset, "overrides": overrides, "seed": seed,
            "resolution": resolution,
            "steps": steps, "train_wall_s": round(wall, 1), "budget_cpu_min": minutes, **metrics}


def spread(values: list[float], digits: int = 1) -> str:
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def table(results: list[dict[str, Any]], variants: list[str]) -> str:
    lines = [
        "| variant | runs | steps | FD | FD / floor | KID x 1000 | diversity ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for variant in variants:
        rows = [r for r in results if r["variant"] == variant]
        if not rows:
            continue
        lines.append(
            f"| {variant} | {len(rows)} | {spread([r['steps'] for r in rows], 0)} "
            f"| {spread([r['fake']['fd'] for r in rows])} "
            f"| {spread([r['fd_over_floor'] for r in rows], 2)} "
            f"| {spread([r['fake']['kid'] * 1000 for r in rows], 2)} "
            f"| {spread([r['fake']['diversity'] for r in rows], 2)} |"
        )
    floors = [r["floor"]["fd"] for r in results]
    lines.append("")
    lines.append(f"Real-vs-real floor on the same held-out images: FD {spread(floors)}, diversity "
                 f"ratio {spread([r['floor']['diversity'] for r in results], 2)}.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, help="real training images (default: demo faces)")
    parser.add_argument("--holdout", type=Path, help="held-out real images")
    parser.add_argument("--resolution", type=int, default=32,
                        help="image side: the demo's faces are drawn at it, every GAN trains at it")
    parser.add_argument("--faces", type=int, default=800)
    parser.add_argument("--holdout-faces", type=int, default=512)
    parser.add_argument("--variants", nargs="*", default=None, choices=list(VARIANTS),
                        help="named variants (default: all, unless --try is given)")
    parser.add_argument("--try", dest="tries", action="append", default=[], metavar="SPEC",
                        help="an ad-hoc variant, 'NAME key=value ...' on the small_data preset "
                             "(preset=NAME picks another); repeatable")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--minutes", type=float, default=2.5, help="CPU minutes per run")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time (one core each)")
    args = parser.parse_args()
    EXTRA.update(parse_try(spec) for spec in args.tries)
    if args.variants is None:
        args.variants = [] if EXTRA else list(VARIANTS)
    args.variants += list(EXTRA)
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.data or synthesize(args.out / "faces", args.faces, 0, args.resolution)
    holdout = args.holdout or synthesize(args.out / "holdout", args.holdout_faces, 7919,
                                         args.resolution)
    n_real = args.holdout_faces if args.holdout is None else 2 * 10**6
    started = datetime.datetime.now(datetime.timezone.utc)
    machine = describe_machine()
    load_before = os.getloadavg()
    jobs = [(v, s) for s in args.seeds for v in args.variants]
    results: list[dict[str, Any]] = []
    log = args.out / "ablation.jsonl"
    with ThreadPoolExecutor(args.parallel) as pool:
        futures = [pool.submit(train_and_score, v, s, data, holdout, args.out, args.minutes,
                               n_real, args.resolution) for v, s in jobs]
        for future in futures:
            result = future.result()
            results.append(result)
            with log.open("a") as handle:
                handle.write(json.dumps(result) + "\n")
            print(f"{result['variant']} seed {result['seed']}: {result['steps']} steps, FD "
                  f"{result['fake']['fd']:.1f} (floor {result['floor']['fd']:.1f}), diversity "
                  f"{result['fake']['diversity']:.2f}", flush=True)
    header = (
        f"Run {started:%Y-%m-%d %H:%M} UTC on {machine['cpu']}, {machine['logical_cores']} cores "
        f"(CPU flags: {', '.join(machine['cpu_flags']) or 'none of avx2/avx512'}), "
        f"load average {load_before[0]:.1f} before and "
        f"{os.getloadavg()[0]:.1f} after; {args.resolution}x{args.resolution} images, "
        f"{args.minutes:g} CPU minutes a run on one thread, fp32; seeds {args.seeds}.\n\n"
        f"Command: `python benchmarks/gan_ablation.py {' '.join(sys.argv[1:])}`\n\n"
    )
    (args.out / "ablation.md").write_text(header + table(results, args.variants) + "\n")
    print(header + table(results, args.variants))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
