"""Inference: batch-1 latency and batch throughput, PyTorch eager against fakescope's ONNX
Runtime path (`fakescope export`, `OnnxDetector`), on the CPU."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from fakescope.bench.baselines import eager_logits
from fakescope.bench.context import BenchContext
from fakescope.bench.models import calibrated_detector, face_batch
from fakescope.bench.settings import BenchSettings, ModelSpec
from fakescope.bench.table import Row, Unit, comparison_row
from fakescope.bench.timing import Side, alternate
from fakescope.export.onnx_export import export_onnx
from fakescope.inference.runtime import OnnxDetector
from fakescope.speed import torch_threads

CALIBRATION_FACES = 32


def describe(s: BenchSettings) -> str:
    return (
        f"the same network and weights on the same faces: {s.latency_calls} calls of batch 1 "
        f"(latency) or {s.throughput_calls} of batch {s.throughput_batch} (throughput) per turn. "
        "Random weights with BatchNorm statistics re-estimated on the faces (untrained "
        "statistics drive activations into slow denormal floats). Baseline: PyTorch eager, "
        "fp32, `torch.no_grad()`, torch's default thread count; the rows marked \"vs eager on "
        "1 thread\" repeat the comparison against eager PyTorch on one thread, which on a busy "
        "machine avoids OpenMP threads waiting for each other, to show how much of the gap "
        "that alone explains. fakescope: the float32 ONNX export (`fakescope export`) run by "
        "`OnnxDetector` (onnxruntime, threads not spinning). CPU only: fakescope's ONNX path "
        "does not use a GPU."
    )


def _calls(forward: Callable[[torch.Tensor], object], images: torch.Tensor,
           calls: int) -> Callable[[], int]:
    def turn() -> int:
        for _ in range(calls):
            forward(images)
        return calls * len(images)

    return turn


def _compare_model(ctx: BenchContext, model: ModelSpec) -> Iterator[Row]:
    s = ctx.settings
    faces = ctx.data.paths(CALIBRATION_FACES)
    loaded = calibrated_detector(model, faces)
    exported = export_onnx(loaded, ctx.work / f"{model.name}-{model.size}.onnx")
    runtime = OnnxDetector(exported.path)
    images = face_batch(faces, loaded.input_spec)
    repeats = -(-s.throughput_batch // len(images))  # a batch larger than the faces repeats them
    batch = images.repeat(repeats, 1, 1, 1)[: s.throughput_batch].contiguous()

    def eager(x: torch.Tensor) -> torch.Tensor:
        return eager_logits(loaded.model, x)

    def eager_one_thread(x: torch.Tensor) -> torch.Tensor:
        with torch_threads(1):
            return eager_logits(loaded.model, x)

    cases: list[tuple[str, str, torch.Tensor, int, Unit]] = [
        ("latency", f"{model.label} batch 1 latency", batch[:1].clone(), s.latency_calls, "ms"),
        ("throughput", f"{model.label} batch {s.throughput_batch} throughput", batch,
         s.throughput_calls, "img/s"),
    ]  # fmt: skip
    baselines = [("", eager), ("-1-thread", eager_one_thread)]
    details: dict[str, Any] = {"onnx_bytes": exported.size_bytes,
                               "max_probability_diff": exported.max_probability_diff}
    for kind, what, x, calls, unit in cases:
        for suffix, baseline in baselines:
            label = what + (" vs eager on 1 thread" if suffix else "")
            ctx.log(f"inference {label}: {s.rounds} rounds")
            comparison = alternate(
                Side(_calls(baseline, x, calls), warmup=_calls(baseline, x, 1)),
                Side(_calls(runtime, x, calls), warmup=_calls(runtime, x, 1)),
                s.rounds,
            )
            yield comparison_row(
                "inference", f"inference/{kind}{suffix}/{model.name}/{model.size}", label, unit,
                comparison, {**details, "calls_per_turn": calls, "batch_size": len(x)},
            )  # fmt: skip


def measure(ctx: BenchContext) -> Iterator[Row]:
    for model in ctx.settings.inference_models:
        yield from _compare_model(ctx, model)
