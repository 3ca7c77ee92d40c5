"""What fp32 can still gain for the demo's GAN and detector steps on a CPU without bf16.

    python benchmarks/fp32_paths.py --rounds 7 --out benchmarks/results/fp32_paths.json

The demo's own networks at its 32x32 size (the small_data GAN: slim DCGAN with spectral norm;
the detectors selfcnn and efficientnet_lite0, from random weights), each measured against the
setting the demo trains with today (the baseline), in the same process:

- GAN iteration (`fakescope.gan.speed.gan_iteration`, fp32, batch 32, channels_last as the
  preset has it): contiguous layout; `torch.set_flush_denormal(True)`; batch 64; the other
  thread count.
- detector training step (forward, loss, backward, Adam; fp32, batch 32, contiguous as the
  probe picks here): channels_last; flush-denormal; batch 64; the other thread count.
- detector inference as evaluation and robustness score (batch 64, `inference_mode`):
  onnxruntime (fakescope's session options, same thread count) on the same weights;
  channels_last; the other thread count.

Every candidate runs on `--threads` threads (default 1), except the thread candidate, which
runs on the other of 1 and 2: on a machine shared with other jobs a 2-thread team mostly
measures how long its threads wait for each other, and one thread keeps CPU time per image a
fair measure.

Every round runs every candidate of a group once, in a rotated order, for `--steps` steps after
one warm-up step; a candidate's figure for a round is images per second of wall time and of
this process's CPU time (all its threads). The ratio against the baseline is taken within each
round, so load from other jobs that changes during the run falls on both sides of a ratio; the
report gives the median ratio over rounds and its range. CPU-time ratios of thread candidates
say nothing about speed (one thread uses less CPU per second by design) and are left out.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from fakescope.config import load_config
from fakescope.gan.config import GanJobConfig
from fakescope.gan.speed import adam, gan_iteration
from fakescope.inference.runtime import session_options
from fakescope.models.gan_registry import build_discriminator, build_generator
from fakescope.models.registry import build_detector, detector_loss
from fakescope.speed import SpeedSettings, fast_mixed_precision

SIZE = 32  # the demo's image size
BATCH, EVAL_BATCH = 32, 64  # the demo's detector batch and evaluation batch; the GAN preset's
FP32_CL, FP32 = SpeedSettings("", True), SpeedSettings("", False)


@dataclass
class ThreadChoice:
    threads: int = 2  # the thread count every candidate but the thread one is measured with


OTHER = ThreadChoice()  # the thread candidates' count, set from --threads


@dataclass
class Candidate:
    """A name and a `turn(steps)` that runs that many steps and returns the images processed."""

    name: str
    turn: Callable[[int], int]
    threads: int = 0  # 0: the count every other candidate runs with (--threads)


@contextlib.contextmanager
def flush_denormal() -> Iterator[None]:
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _steps(step: Callable[[], int], context: Callable[[], Any] = contextlib.nullcontext
           ) -> Callable[[int], int]:
    def turn(steps: int) -> int:
        with context():
            return sum(step() for _ in range(steps))
    return turn


# -- the GAN ---------------------------------------------------------------------------------


def gan_candidates() -> list[Candidate]:
    preset = load_config(GanJobConfig, "small_data")
    config = replace(preset, model=replace(preset.model, resolution=SIZE))
    m = config.model
    torch.manual_seed(0)
    G0, D0 = build_generator(m.arch, **m.generator_kwargs()), build_discriminator(
        m.arch, **m.discriminator_kwargs())

    def iteration(settings: SpeedSettings, batch: int) -> Callable[[], int]:
        G = copy.deepcopy(G0).to(memory_format=settings.memory_format).train()
        D = copy.deepcopy(D0).to(memory_format=settings.memory_format).train()
        opt_g, opt_d = adam(G, torch.device("cpu")), adam(D, torch.device("cpu"))
        real = (torch.rand(batch, 3, SIZE, SIZE) * 2 - 1).contiguous(
            memory_format=settings.memory_format)

        def step() -> int:
            gan_iteration(G, D, opt_g, opt_d, real, G.sample_latent(batch), settings)
            return batch
        return step

    return [
        Candidate("baseline: fp32, channels_last, batch 32", _steps(iteration(FP32_CL, 32))),
        Candidate("contiguous layout", _steps(iteration(FP32, 32))),
        Candidate("flush denormals", _steps(iteration(FP32_CL, 32), flush_denormal)),
        Candidate("batch 64", _steps(iteration(FP32_CL, 64))),
        Candidate(f"{OTHER.threads} threads", _steps(iteration(FP32_CL, 32)), OTHER.threads),
    ]


# -- detector training -----------------------------------------------------------------------


def train_candidates(name: str) -> list[Candidate]:
    torch.manual_seed(0)
    model0 = build_detector(name, "none")

    def training(settings: SpeedSettings, batch: int) -> Callable[[], int]:
        model = copy.deepcopy(model0).to(memory_format=settings.memory_format).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        images = torch.randn(batch, 3, SIZE, SIZE).contiguous(memory_format=settings.memory_format)
        labels = torch.arange(batch) % 2

        def step() -> int:
            loss = detector_loss(model(images).float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return batch
        return step

    return [
        Candidate(f"{name} baseline: fp32, contiguous, batch 32", _steps(training(FP32, BATCH))),
        Candidate(f"{name} channels_last", _steps(training(FP32_CL, BATCH))),
        Candidate(f"{name} flush denormals", _steps(training(FP32, BATCH), flush_denormal)),
        Candidate(f"{name} batch 64", _steps(training(FP32, 64))),
        Candidate(f"{name} {OTHER.threads} threads", _steps(training(FP32, BATCH)),
                  OTHER.threads),
    ]


# -- inference as evaluation scores ----------------------------------------------------------


def inference_candidates(name: str) -> list[Candidate]:
    torch.manual_seed(0)
    model = build_detector(name, "none").eval()
    images = torch.randn(EVAL_BATCH, 3, SIZE, SIZE)
    buffer = io.BytesIO()
    torch.onnx.export(model, (images,), buffer, dynamo=False, input_names=["images"],
                      output_names=["logits"], dynamic_axes={"images": {0: "batch"}})
    session = ort.InferenceSession(buffer.getvalue(), session_options(torch.get_num_threads()),
                                   providers=["CPUExecutionProvider"])
    array = np.ascontiguousarray(images.numpy())
    with torch.inference_mode():
        expected = model(images).numpy()
    (got,) = session.run(None, {"images": array})
    difference = float(np.abs(got - expected).max())
    channels_last = copy.deepcopy(model).to(memory_format=torch.channels_last)
    cl_images = images.contiguous(memory_format=torch.channels_last)

    def eager(net: torch.nn.Module, batch: torch.Tensor) -> Callable[[], int]:
        def step() -> int:
            with torch.inference_mode():
                net(batch)
            return EVAL_BATCH
        return step

    def onnx() -> int:
        session.run(None, {"images": array})
        return EVAL_BATCH

    return [
        Candidate(f"{name} baseline: torch eager, inference_mode, batch 64",
                  _steps(eager(model, images))),
        Candidate(f"{name} onnxruntime (max |logit diff| {difference:.1e})", _steps(onnx)),
        Candidate(f"{name} channels_last", _steps(eager(channels_last, cl_images))),
        Candidate(f"{name} {OTHER.threads} threads", _steps(eager(model, images)),
                  OTHER.threads),
    ]


# -- timing ----------------------------------------------------------------------------------


def timed(candidate: Candidate, steps: int) -> tuple[float, float]:
    """(images per wall second, images per CPU second) of one turn, after a warm-up step."""
    before = torch.get_num_threads()
    if candidate.threads:
        torch.set_num_threads(candidate.threads)
    try:
        candidate.turn(1)
        wall, cpu = time.perf_counter(), time.process_time()
        images = candidate.turn(steps)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        torch.set_num_threads(before)
    return images / wall, images / max(cpu, 1e-9)


def measure(group: str, candidates: list[Candidate], rounds: int, steps: int) -> dict[str, Any]:
    rates: dict[str, list[tuple[float, float]]] = {c.name: [] for c in candidates}
    for r in range(rounds):
        shift = r % len(candidates)
        for candidate in candidates[shift:] + candidates[:shift]:
            rates[candidate.name].append(timed(candidate, steps))
        print(f"  {group}: round {r + 1}/{rounds} done", flush=True)
    baseline = candidates[0].name
    rows = []
    for c in candidates:
        wall = [mine[0] / base[0] for mine, base in zip(rates[c.name], rates[baseline],
                                                         strict=True)]
        cpu = [mine[1] / base[1] for mine, base in zip(rates[c.name], rates[baseline],
                                                        strict=True)]
        rows.append({
            "candidate": c.name,
            "img_per_s": round(statistics.median(r[0] for r in rates[c.name]), 1),
            "wall_ratio": round(statistics.median(wall), 3),
            "wall_ratio_range": [round(min(wall), 3), round(max(wall), 3)],
            "cpu_ratio": None if c.threads else round(statistics.median(cpu), 3),
            "cpu_ratio_range": None if c.threads else [round(min(cpu), 3), round(max(cpu), 3)],
        })
    return {"group": group, "rows": rows}


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    flags = set(Path("/proc/cpuinfo").read_text().split())
    return {
        "cpu": model, "cores": len(os.sched_getaffinity(0)),
        "avx2": "avx2" in flags, "avx512f": "avx512f" in flags,
        "native_bf16": fast_mixed_precision(torch.device("cpu")),
        "torch": torch.__version__, "onnxruntime": ort.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per turn")
    parser.add_argument("--only", nargs="*", default=["gan", "train", "inference"])
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of every candidate but the thread one (which gets the "
                             "other of 1 and 2); 1 keeps CPU time a fair measure on a shared "
                             "machine")
    parser.add_argument("--out", type=Path, default=Path("fp32_paths.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    OTHER.threads = 2 if args.threads == 1 else 1
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()
    groups = []
    if "gan" in args.only:
        groups.append(measure("GAN iteration (small_data, 32x32)", gan_candidates(),
                              args.rounds, args.steps))
    for name in ("selfcnn", "efficientnet_lite0"):
        if "train" in args.only:
            groups.append(measure(f"detector training step ({name}, 32x32)",
                                  train_candidates(name), args.rounds, args.steps))
        if "inference" in args.only:
            groups.append(measure(f"detector inference ({name}, 32x32)",
                                  inference_candidates(name), args.rounds, args.steps))
    result = {"date": started, "machine": machine(), "load_before": load_before,
              "load_after": os.getloadavg(), "rounds": args.rounds, "steps": args.steps,
              "groups": groups}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for group in groups:
        print(f"\n{group['group']}")
        for row in group["rows"]:
            print(f"  {row['candidate']:<60} {row['img_per_s']:>8} img/s  wall x"
                  f"{row['wall_ratio']} {row['wall_ratio_range']}  cpu x{row['cpu_ratio']}")


if __name__ == "__main__":
    main()
