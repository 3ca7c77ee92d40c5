"""Where a DCGAN training iteration spends its time on this CPU, and what the fast paths buy.

    python benchmarks/gan_profile.py profile   --batches 64 128 --threads 1 2
    python benchmarks/gan_profile.py settings  --batches 64 128 --threads 1 2
    python benchmarks/gan_profile.py compare   --steps 31 --repeats 2
    python benchmarks/gan_profile.py compile
    python benchmarks/gan_profile.py stability --steps 300

- profile: torch.profiler tables (top operators by self CPU time, then operator families) of
  one iteration of `GanTrainer.train_step` (fp32, the trainer as it is), of the same iteration
  under bf16 autocast (`fakescope.gan.speed.gan_iteration`, what the trainer runs with
  train.amp on) and of the PyTorch DCGAN example's step (fakescope.bench.dcgan_example).
- settings: seconds per iteration of each speed candidate (fp32/bf16 x contiguous/channels_last)
  at each batch size and thread count, timed in turns by fakescope.gan.speed's probe.
- compare: the PyTorch DCGAN example (ImageFolder + PIL per step, no workers) against fakescope
  on its decode-once cache, one iteration of each recipe in turn in one process (data fetch
  included), as `fakescope bench` compares them; a third recipe is fakescope with the settings
  the probe picks (threads excluded: every recipe runs on the process's thread count).
- compile: seconds per iteration with and without torch.compile (copies stepped in turns) and
  the compile time, for the 64x64 GAN and paper 002's CNN detector. Inductor caches what it
  compiled: point TORCHINDUCTOR_CACHE_DIR at an empty folder to time a first compile.
- stability: fp32 and bf16 training side by side from the same weights on the same batches,
  each on two latent streams (A, B) for scale; losses per window and the Fréchet distance of
  downsampled pixels along the way.

Paper 000's 64x64 networks (G and D of 3.6M and 2.8M parameters). Every section prints the
machine, the date and the load average before and after.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import itertools
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from fakescope.bench.baselines import imagefolder_loader
from fakescope.bench.dcgan_example import DcganExample
from fakescope.data.transforms import MINUS_ONE_ONE_MEAN, MINUS_ONE_ONE_STD, InputSpec
from fakescope.gan.speed import GanProbe, adam, choose_gan_speed_settings, gan_iteration
from fakescope.speed import CompiledForward, SpeedSettings, time_candidates

CPU = torch.device("cpu")
RESOLUTION = 64
FP32, BF16 = SpeedSettings("", True), SpeedSettings("bfloat16", True)
RUN_NUMBERS = itertools.count()


def header(title: str) -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    print(f"\n## {title}\n")
    print(f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"- machine: {cpu}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"capability {torch.backends.cpu.get_cpu_capability()}, "
          f"avx512_bf16 {torch.cpu._is_avx512_bf16_supported()}, "
          f"amx {torch.cpu._is_amx_tile_supported()}")
    print(f"- command: python {' '.join(sys.argv)}")
    print(f"- load average at start: {load()}\n")


def load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def footer() -> None:
    print(f"\n- load average at end: {load()}")


def ensure_faces(folder: Path, n: int = 2000, size: int = 256) -> Path:
    if (folder / "real").is_dir() and len(list((folder / "real").glob("*.jpg"))) >= n:
        return folder
    from fakescope.data.synth import synthesize_dataset

    synthesize_dataset(folder, n=n, size=size, seed=0)
    return folder


def make_trainer(faces: Path, work: Path, batch: int, base_width: int | None = None) -> Any:
    """A GanTrainer on the decode-once cache of `faces` (cache built here, not timed)."""
    from fakescope.data.pipeline import prepare_data
    from fakescope.gan.config import GanJobConfig, validate
    from fakescope.gan.train import GanTrainer, gan_input_spec
    from fakescope.runs import open_run

    base = GanJobConfig()
    config = validate(replace(
        base,
        data=replace(base.data, path=str(faces), cache_dir=str(work / "cache")),
        run=replace(base.run, root=str(work / "runs")),
        model=replace(base.model, resolution=RESOLUTION, base_width=base_width),
        train=replace(base.train, batch_size=batch),
    ))
    torch.manual_seed(0)
    prepared = prepare_data(config.data, gan_input_spec(config), labelled=False)
    run = open_run(config.run.root, f"b{batch}_{next(RUN_NUMBERS)}", config)
    return GanTrainer(config, prepared, run, CPU)


def endless(make_loader: Callable[[int], Any]) -> Iterator[torch.Tensor]:
    epoch = 0
    while True:
        for images, _ in make_loader(epoch):
            yield images
        epoch += 1


def settings_step(trainer: Any, settings: SpeedSettings) -> Callable[..., Any]:
    """The trainer's networks and optimizers stepped by gan_iteration under `settings`, on a
    real batch and (by default, freshly drawn) latents."""
    layout = settings.memory_format
    G, D = trainer.G.to(memory_format=layout), trainer.D.to(memory_format=layout)

    def step(real: torch.Tensor, z: torch.Tensor | None = None) -> Any:
        z = G.sample_latent(real.shape[0]) if z is None else z
        real = real.contiguous(memory_format=layout)
        return gan_iteration(G, D, trainer.opt_g, trainer.opt_d, real, z, settings)

    return step


# -- profile --------------------------------------------------------------------------------------

FAMILIES = {  # operator name fragments -> family, first match wins
    "convolution_backward": "conv / conv-transpose backward",
    "mkldnn_convolution": "conv forward (D)",
    # G's transposed convolutions run inside aten::_convolution, with no child operator
    "aten::_convolution": "conv-transpose forward (G)",
    "slow_conv": "conv forward (D)",
    "batch_norm": "BatchNorm",
    "_fused_adam": "Adam (fused)",
    "adam": "Adam",
    "copy_": "copies / layout and dtype conversion",
    "to_copy": "copies / layout and dtype conversion",
    "contiguous": "copies / layout and dtype conversion",
    "clone": "copies / layout and dtype conversion",
    "relu": "activations",
    "leaky": "activations",
    "tanh": "activations",
    "sigmoid": "activations and losses",
    "binary_cross_entropy": "activations and losses",
    "randn": "random numbers",
    "normal_": "random numbers",
}


def family(name: str) -> str:
    return next((f for key, f in FAMILIES.items() if key in name), "other operators")


def profile_step(name: str, step: Callable[[], Any], iterations: int, rows: int) -> None:
    for _ in range(2):  # warm-up: allocations, oneDNN primitive choices
        step()
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(iterations):
            step()
    wall_ms = 1000 * (time.perf_counter() - start) / iterations
    events = prof.key_averages()
    total_self = sum(e.self_cpu_time_total for e in events) / 1000 / iterations
    print(f"\n#### {name}: {wall_ms:.0f} ms per iteration (profiled, {iterations} iterations)\n")
    print("| operator | self ms / iteration | share of iteration | calls / iteration |")
    print("| --- | --- | --- | --- |")
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)
    for e in ranked[:rows]:
        ms = e.self_cpu_time_total / 1000 / iterations
        print(f"| `{e.key}` | {ms:.1f} | {100 * ms / wall_ms:.1f}% | "
              f"{e.count / iterations:.0f} |")
    sums: dict[str, float] = {}
    for e in events:
        fam = family(e.key.lower())
        sums[fam] = sums.get(fam, 0.0) + e.self_cpu_time_total / 1000 / iterations
    sums["outside operators (Python, dispatch, profiler)"] = max(0.0, wall_ms - total_self)
    print("\n| family | ms / iteration | share |")
    print("| --- | --- | --- |")
    for fam, ms in sorted(sums.items(), key=lambda kv: -kv[1]):
        print(f"| {fam} | {ms:.1f} | {100 * ms / wall_ms:.1f}% |")


def profile_batch(args: argparse.Namespace, work: Path, batch: int) -> None:
    trainer = make_trainer(args.faces, work, batch)
    real = torch.rand(batch, 3, RESOLUTION, RESOLUTION) * 2 - 1
    real_cl = real.contiguous(memory_format=torch.channels_last)
    recipe = DcganExample(RESOLUTION)
    bf16 = settings_step(make_trainer(args.faces, work, batch), BF16)
    steps = {
        "fakescope fp32 (GanTrainer.train_step)": lambda: trainer.train_step(real_cl),
        "fakescope bf16 autocast (gan_iteration)": lambda: bf16(real),
        "baseline (PyTorch DCGAN example step)": lambda: recipe.step(real),
    }
    for threads in args.threads:
        torch.set_num_threads(threads)
        label = f"batch {batch}, {threads} thread{'s' if threads > 1 else ''}"
        print(f"\n### {label}")
        for name, step in steps.items():
            profile_step(f"{name}, {label}", step, args.iterations, args.rows)


def run_profile(args: argparse.Namespace) -> None:
    header("Profile of one training iteration at 64x64")
    with tempfile.TemporaryDirectory(prefix="gan_profile_") as tmp:
        for batch in args.batches:
            profile_batch(args, Path(tmp), batch)
    footer()


# -- settings -------------------------------------------------------------------------------------

def run_settings(args: argparse.Namespace) -> None:
    header("Seconds per iteration of each speed candidate (64x64)")
    from fakescope.models.dcgan import Discriminator, Generator

    torch.manual_seed(0)
    G, D = Generator(RESOLUTION), Discriminator(RESOLUTION)
    options = [SpeedSettings(a, c) for a in ("", "bfloat16") for c in (False, True)]
    print("| batch | threads | fp32 contiguous | fp32 channels_last | bf16 contiguous "
          "| bf16 channels_last | load |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for batch in args.batches:
        real = torch.rand(batch, 3, RESOLUTION, RESOLUTION) * 2 - 1
        for threads in args.threads:
            torch.set_num_threads(threads)
            probes = [GanProbe(G, D, s, real) for s in options]
            seconds = time_candidates(probes, args.rounds)
            cells = " | ".join(f"{1000 * s:.0f} ms" for s in seconds)
            print(f"| {batch} | {threads} | {cells} | {os.getloadavg()[0]:.1f} |")
    footer()


# -- compare --------------------------------------------------------------------------------------

def compare_once(faces: Path, work: Path, steps: int) -> tuple[SpeedSettings, dict[str, float]]:
    """Images per second of each recipe, one iteration of each in turn (order alternating)."""
    fp32, fast = make_trainer(faces, work, 64), make_trainer(faces, work, 64)
    chosen, _ = choose_gan_speed_settings(fast.G, fast.D, 64, CPU, "auto", "auto", 0)
    fast_step = settings_step(fast, chosen)
    prepared = fp32.prepared
    ours = endless(lambda e: prepared.loader("train", 64, shuffle=True, epoch=e))
    theirs = endless(lambda e: prepared.loader("train", 64, shuffle=True, epoch=e))
    recipe = DcganExample(RESOLUTION)
    loader = imagefolder_loader(faces, InputSpec(size=RESOLUTION, mean=MINUS_ONE_ONE_MEAN,
                                                 std=MINUS_ONE_ONE_STD), 64)
    base_batches = endless(lambda e: loader)
    recipes: dict[str, Callable[[], Any]] = {
        "baseline": lambda: recipe.step(next(base_batches)),
        "fp32": lambda: fp32.train_step(next(ours).contiguous(memory_format=torch.channels_last)),
        "chosen": lambda: fast_step(next(theirs)),
    }
    for step in recipes.values():  # warm-up: first-call allocations and kernel choices
        step()
    wall = dict.fromkeys(recipes, 0.0)
    for i in range(steps):
        for name in list(recipes) if i % 2 == 0 else list(recipes)[::-1]:
            start = time.perf_counter()
            recipes[name]()
            wall[name] += time.perf_counter() - start
    return chosen, {k: 64 * steps / v for k, v in wall.items()}


def run_compare(args: argparse.Namespace) -> None:
    header("fakescope against the plain DCGAN recipe, interleaved, 64x64, batch 64")
    print(f"{args.steps} iterations of each recipe per repeat; every recipe runs on the same "
          "thread count\n")
    print("| threads | repeat | chosen settings | baseline img/s | fakescope fp32 img/s "
          "| fakescope chosen img/s | fp32 / baseline | chosen / baseline | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for repeat in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="gan_compare_") as tmp:
                chosen, rate = compare_once(args.faces, Path(tmp), args.steps)
            print(f"| {threads} | {repeat + 1} | {chosen.describe()} | {rate['baseline']:.1f} | "
                  f"{rate['fp32']:.1f} | {rate['chosen']:.1f} | "
                  f"{rate['fp32'] / rate['baseline']:.2f}x | "
                  f"{rate['chosen'] / rate['baseline']:.2f}x | {os.getloadavg()[0]:.1f} |",
                  flush=True)
    footer()


# -- compile --------------------------------------------------------------------------------------

Case = tuple[Callable[[], Any], list[CompiledForward]]  # one training step, its compiled parts


def gan_case(settings: SpeedSettings, compiled: bool, batch: int) -> Case:
    from fakescope.models.dcgan import Discriminator, Generator

    torch.manual_seed(0)
    layout = settings.memory_format
    G = Generator(RESOLUTION).to(memory_format=layout)
    D = Discriminator(RESOLUTION).to(memory_format=layout)
    opt_g, opt_d = adam(G, CPU), adam(D, CPU)
    real = (torch.rand(batch, 3, RESOLUTION, RESOLUTION) * 2 - 1).contiguous(memory_format=layout)
    parts = [CompiledForward(G, "G"), CompiledForward(D, "D")] if compiled else []
    g, d = parts if compiled else (G, D)

    def step() -> Any:
        return gan_iteration(g, d, opt_g, opt_d, real, G.sample_latent(batch), settings)

    return step, parts


def detector_case(compiled: bool, batch: int) -> Case:
    from fakescope.models.registry import build_detector, detector_loss

    torch.manual_seed(0)
    model = build_detector("selfcnn").train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images, labels = torch.randn(batch, 3, 64, 64), torch.arange(batch) % 2
    parts = [CompiledForward(model, "selfcnn")] if compiled else []
    forward: Any = parts[0] if compiled else model

    def step() -> None:
        loss = detector_loss(forward(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step, parts


def timed(step: Callable[[], Any]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def compile_row(name: str, make: Callable[[bool], Case], iterations: int) -> str:
    """Eager and compiled copies: the compiled one's first iteration (where it compiles), then
    both in turns, so the machine's load affects them alike."""
    (eager, _), (compiled, parts) = make(False), make(True)
    eager()  # its first iteration pays allocations and oneDNN primitive choices
    first = timed(compiled)
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(iterations):
        times["eager"].append(timed(eager))
        times["compiled"].append(timed(compiled))
    e, c = (statistics.median(times[k]) for k in ("eager", "compiled"))
    forwards = ", ".join(f"{p.name} {p.compile_seconds:.1f} s" if p.compiled
                         else f"{p.name} failed: {p.error}" for p in parts)
    return (f"| {name} | {1000 * e:.0f} ms | {1000 * c:.0f} ms | {e / c:.2f}x | {first:.1f} s "
            f"| {forwards} |")


def run_compile(args: argparse.Namespace) -> None:
    header("torch.compile against eager")
    torch.set_num_threads(args.threads[0])
    cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR", "the default folder")
    print(f"{args.threads[0]} thread(s); inductor's cache: {cache}; medians of "
          f"{args.iterations} iterations of each, in turns\n")
    print("| model | eager | compiled | speed-up | first compiled iteration (compiles fwd + bwd) "
          "| first forward calls |")
    print("| --- | --- | --- | --- | --- | --- |")
    for settings in (FP32, BF16):
        precision = "bf16" if settings.amp_dtype else "fp32"
        print(compile_row(f"GAN 64x64, batch 64, {precision}",
                          functools.partial(gan_case, settings, batch=64), args.iterations),
              flush=True)
    print(compile_row("selfcnn detector 64x64, batch 32, fp32",
                      functools.partial(detector_case, batch=32), args.iterations), flush=True)
    footer()


# -- stability ------------------------------------------------------------------------------------

def run_stability(args: argparse.Namespace) -> None:
    header("bf16 against fp32 training: same start, same batches")
    torch.set_num_threads(args.threads[0])  # the numbers do not depend on it, the wait does
    from fakescope.data.tensors import real_uint8_batches
    from fakescope.gan.metrics import PixelFeatures, QualityMeter

    # Each precision on two latent streams: how far two fp32 runs drift apart anyway (training
    # a GAN amplifies any difference) is the scale for the gap between fp32 and bf16.
    runs = {"fp32 A": (FP32, 1), "bf16 A": (BF16, 1), "fp32 B": (FP32, 2), "bf16 B": (BF16, 2)}
    with tempfile.TemporaryDirectory(prefix="gan_stability_") as tmp:
        trainers = {name: make_trainer(args.faces, Path(tmp), 64, args.base_width)
                    for name in runs}
        first = trainers["fp32 A"]
        for trainer in trainers.values():  # the same starting weights
            trainer.G.load_state_dict(first.G.state_dict())
            trainer.D.load_state_dict(first.D.state_dict())
        steps = {name: settings_step(trainers[name], settings)
                 for name, (settings, _) in runs.items()}
        latents = {seed: torch.Generator().manual_seed(seed) for _, seed in runs.values()}
        prepared = first.prepared
        meter = QualityMeter(PixelFeatures(), real_uint8_batches(prepared, 500, 100, seed=1),
                             kid_subsets=20, kid_subset_size=500, batch_size=100, seed=2)

        def fd(trainer: Any) -> float:
            trainer.G.calibrate_batchnorm(4, 128, torch.Generator().manual_seed(4))
            return meter.measure(trainer.G)[meter.fd_name]

        fd_start = fd(first)
        batches = endless(lambda e: prepared.loader("train", 64, shuffle=True, epoch=e))
        history: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        window = args.window
        fds: dict[str, list[float]] = {name: [] for name in runs}
        for i in range(args.steps):
            real = next(batches)
            z = {seed: torch.randn(64, 100, generator=g) for seed, g in latents.items()}
            for name, (_, seed) in runs.items():
                loss_d, loss_g = steps[name](real, z[seed])
                history[name].append((float(loss_d), float(loss_g)))
                if (i + 1) % window == 0:
                    fds[name].append(fd(trainers[name]))
        print(f"base width {args.base_width}, batch 64, {args.steps} iterations; losses: mean "
              f"(min-max) of each {window}-iteration window\n")
        print("| iterations | " + " | ".join(f"{name} loss_{k}" for k in "DG" for name in runs)
              + " |")
        print("| --- |" + " --- |" * (2 * len(runs)))
        for lo in range(0, args.steps, window):
            cells = []
            for k in (0, 1):
                for name in runs:
                    values = [h[k] for h in history[name][lo:lo + window]]
                    cells.append(f"{statistics.fmean(values):.3f} "
                                 f"({min(values):.2f}-{max(values):.2f})")
            print(f"| {lo + 1}-{lo + window} | {' | '.join(cells)} |")
        print(f"\nFréchet distance of 16x16 pixels to 500 real images ({fd_start:.2f} before "
              f"training), after every {window} iterations\n")
        print("| run | all losses finite | " + " | ".join(
            str(n) for n in range(window, args.steps + 1, window)) + " | mean |")
        print("| --- | --- |" + " --- |" * (len(fds["fp32 A"]) + 1))
        for name in runs:
            finite = all(math.isfinite(v) for h in history[name] for v in h)
            row = " | ".join(f"{v:.2f}" for v in fds[name])
            print(f"| {name} | {finite} | {row} | {statistics.fmean(fds[name]):.2f} |")
    footer()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("section",
                        choices=["profile", "settings", "compare", "compile", "stability"])
    parser.add_argument("--faces", type=Path,
                        default=Path(tempfile.gettempdir()) / "fakescope_bench" / "faces256",
                        help="folder with real/*.jpg (2,000 synthetic 256px faces made if missing)")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--iterations", type=int, default=3, help="profiled/timed iterations")
    parser.add_argument("--rows", type=int, default=12, help="operators listed per profile")
    parser.add_argument("--rounds", type=int, default=4, help="timing rounds per candidate")
    parser.add_argument("--steps", type=int, default=31, help="compare/stability iterations")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--base-width", type=int, default=32, help="stability: G/D base width")
    parser.add_argument("--window", type=int, default=50, help="stability: iterations per row")
    args = parser.parse_args()
    if args.section in ("profile", "compare", "stability"):
        args.faces = ensure_faces(args.faces)
    {"profile": run_profile, "settings": run_settings, "compare": run_compare,
     "compile": run_compile, "stability": run_stability}[args.section](args)


if __name__ == "__main__":
    main()
