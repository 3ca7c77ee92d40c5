"""The fastest of equivalent ways to run a detector's forward pass, for long scoring jobs on a CPU.

On a CPU without bf16, onnxruntime and channels_last scored the demo's detectors faster than
PyTorch eager (benchmarks/results/fp32_paths.md), while at 224x224 on two threads channels_last
went both ways for EfficientNet-B0 (benchmarks/results/archive/onnx_results.md). So no path is
fixed: a job that scores enough images times each path on one of its own batches and keeps the
fastest. Every path gives the
same logits (the ONNX graph is checked against PyTorch before it is used), so the choice changes
speed, never results.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from fakescope.models.registry import LoadedDetector

logger = logging.getLogger(__name__)

EAGER, CHANNELS_LAST, ONNXRUNTIME = "torch", "torch channels_last", "onnxruntime"
# A probe costs an ONNX export and a few forward passes (seconds): worth it only for a job that
# scores at least this many images.
MIN_IMAGES_TO_PROBE = 2000
MIN_GAIN = 1.1  # another path must be this much faster than eager to replace it
ROUNDS = 3  # timed rounds, each running every path once in a rotated order; the best is kept


@dataclass(frozen=True)
class ScoringPath:
    """The module to score with, its name, and the images per second each candidate reached."""

    name: str
    model: nn.Module
    images_per_second: dict[str, float] = field(default_factory=dict)


class _ChannelsLast(nn.Module):
    """The detector with its weights and inputs in the channels-last layout."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.contiguous(memory_format=torch.channels_last))


def _onnx_model(loaded: LoadedDetector) -> nn.Module | None:
    """The detector's checked ONNX graph in an onnxruntime session, or None where it cannot be
    exported (a missing package, an operator the exporter lacks)."""
    try:
        from fakescope.inference.onnx_graph import checked_graph
        from fakescope.inference.runtime import OnnxDetector

        return OnnxDetector(checked_graph(loaded).data, threads=torch.get_num_threads())
    except Exception as err:  # any failure (exporter, operator, package) leaves this path out
        logger.info("scoring: onnxruntime path left out (%s)", str(err).splitlines()[0][:200])
        return None


def _candidates(loaded: LoadedDetector) -> dict[str, nn.Module]:
    model = loaded.model.eval()
    paths: dict[str, nn.Module] = {EAGER: model, CHANNELS_LAST: _ChannelsLast(model).eval()}
    onnx = _onnx_model(loaded)
    if onnx is not None:
        paths[ONNXRUNTIME] = onnx
    return paths


@torch.inference_mode()
def _images_per_second(paths: dict[str, nn.Module], batch: torch.Tensor) -> dict[str, float]:
    names = list(paths)
    for name in names:  # warm-up: first calls allocate and pick kernels
        paths[name](batch)
    best = dict.fromkeys(names, float("inf"))
    for round_number in range(ROUNDS):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            paths[name](batch)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: len(batch) / seconds for name, seconds in best.items()}


def fastest_scoring_path(
    loaded: LoadedDetector, batch: torch.Tensor, device: torch.device, images: int
) -> ScoringPath:
    """The path to score `images` images with: eager PyTorch unless the job is long enough to
    probe, the device is the CPU, and another path is clearly faster on `batch` (normalised
    images as the data pipeline gives them)."""
    if device.type != "cpu" or images < MIN_IMAGES_TO_PROBE:
        return ScoringPath(EAGER, loaded.model)
    paths = _candidates(loaded)
    speeds = _images_per_second(paths, batch.to(device))
    fastest = max(speeds, key=lambda name: speeds[name])
    chosen = fastest if speeds[fastest] >= MIN_GAIN * speeds[EAGER] else EAGER
    logger.info(
        "scoring %s with %s (images/s: %s)", loaded.name, chosen,
        ", ".join(f"{name} {value:.0f}" for name, value in speeds.items()),
    )  # fmt: skip
    return ScoringPath(chosen, paths[chosen], speeds)
