"""EfficientNet-B0 at 224 on the CPU: PyTorch eager against onnxruntime (float32 and int8).

Every candidate runs the same detector through the product code paths (`export_onnx`,
`quantize_onnx`, `OnnxDetector`). Rounds interleave the candidates, so a change in the load of
a shared machine hits all of them alike; each speed-up is the median over rounds of the
baseline's median divided by the candidate's median in the same round.

    python benchmarks/onnx_inference.py --out benchmarks/onnx_results.json

The detector is EfficientNet-B0 (torchvision, 2 logits) with random weights whose BatchNorm
statistics are re-estimated on synthetic faces: an untrained network's default statistics let
the activations shrink into denormal floats, which slow every backend several-fold and would
make the comparison meaningless. The work per image is that of a trained B0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnxruntime as ort
import torch
from torch import nn

from fakescope.config import DataConfig
from fakescope.data.images import load_image
from fakescope.data.pipeline import PreparedData, prepare_data
from fakescope.data.synth import synthesize_dataset
from fakescope.data.transforms import Normalizer, preprocess, to_chw_tensor
from fakescope.export.artifacts import default_onnx_path, int8_onnx_path
from fakescope.export.onnx_export import compare_with_torch, export_onnx
from fakescope.export.quantize import calibration_images, quantization_cost, quantize_onnx
from fakescope.export.runtime import OnnxDetector, session_options
from fakescope.models.registry import LoadedDetector, build_detector

SIZE = 224
THREADS = 2
BASELINE = "torch_eager"


def face_batch(paths: list[Path], spec: Any) -> torch.Tensor:
    normalize = Normalizer(spec)
    return torch.stack([normalize(to_chw_tensor(preprocess(load_image(p), spec))) for p in paths])


def calibrated_b0(faces: torch.Tensor) -> LoadedDetector:
    """EfficientNet-B0 with BatchNorm statistics averaged over `faces` (see the module doc)."""
    torch.manual_seed(0)
    model = build_detector("efficientnet_b0")
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    model.train()
    with torch.no_grad():
        for start in range(0, len(faces), 16):
            model(faces[start : start + 16])
    model.eval()
    return LoadedDetector(model, "efficientnet_b0", model.input_spec)


def ort_session(path: Path, spinning: bool) -> ort.InferenceSession:
    options = session_options(THREADS, allow_spinning=spinning)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


Runner = Callable[[torch.Tensor], Any]


def candidates(model: nn.Module, fp32: Path, int8: Path, dynamic: Path) -> dict[str, Runner]:
    """name -> function running one batch. Threads are set before each candidate's turn."""
    channels_last = model.to(memory_format=torch.channels_last)  # same weights, NHWC layout
    sessions = {
        "ort_fp32_spinning": ort_session(fp32, True),
        "ort_fp32": ort_session(fp32, False),
        "ort_int8_static": ort_session(int8, False),
        "ort_int8_dynamic": ort_session(dynamic, False),
    }

    def eager(x: torch.Tensor) -> Any:
        with torch.no_grad():
            return model(x.contiguous())

    def eager_cl(x: torch.Tensor) -> Any:
        with torch.inference_mode():
            return channels_last(x.contiguous(memory_format=torch.channels_last))

    def run_session(session: ort.InferenceSession) -> Runner:
        return lambda x: session.run(None, {"images": x.numpy()})

    runners: dict[str, Runner] = {
        BASELINE: eager,
        "torch_eager_1_thread": eager,
        "torch_inference_mode_channels_last": eager_cl,
    }
    runners.update({name: run_session(s) for name, s in sessions.items()})
    return runners


def time_calls(run: Runner, x: torch.Tensor, iterations: int) -> list[float]:
    run(x)  # warm-up: first-call allocations and kernel selection
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    return times


def measure(
    runners: dict[str, Runner], images: torch.Tensor, batch: int, rounds: int, iterations: int,
    skip: set[str],
) -> dict[str, Any]:  # fmt: skip
    x = images[:batch].clone()
    per_round: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        for name, run in runners.items():
            if name in skip:
                continue
            torch.set_num_threads(1 if name.endswith("1_thread") else THREADS)
            per_round[name].append(statistics.median(time_calls(run, x, iterations)))
    torch.set_num_threads(THREADS)
    base = per_round[BASELINE]
    rows = {}
    for name, medians in per_round.items():
        latency = statistics.median(medians)
        rows[name] = {
            "latency_ms": 1000 * latency,
            "round_latencies_ms": [round(1000 * m, 2) for m in medians],
            "images_per_s": batch / latency,
            "speedup_vs_eager": statistics.median(
                b / m for b, m in zip(base, medians, strict=True)
            ),
        }
    return rows


def torch_profile(model: nn.Module, x: torch.Tensor, top: int = 8) -> list[dict[str, Any]]:
    from torch.profiler import ProfilerActivity, profile

    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            model(x)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [
        {"op": e.key, "self_ms_per_run": e.self_cpu_time_total / 5000,
         "share": e.self_cpu_time_total / total, "calls_per_run": e.count // 5}
        for e in events[:top]
    ]  # fmt: skip


def ort_profile(path: Path, x: torch.Tensor, work: Path, top: int = 8) -> list[dict[str, Any]]:
    options = session_options(THREADS, allow_spinning=False)
    options.enable_profiling = True
    options.profile_file_prefix = str(work / "ort_profile")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for _ in range(6):
        session.run(None, {"images": x.numpy()})
    events = json.loads(Path(session.end_profiling()).read_text())
    by_op: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            by_op[event["args"]["op_name"]] += event["dur"]
    total = sum(by_op.values())
    ranked = sorted(by_op.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [{"op": op, "ms_per_run": us / 6000, "share": us / total} for op, us in ranked]


def fidelity_on_faces(model: nn.Module, fp32: Path, faces: torch.Tensor) -> dict[str, float]:
    """ONNX float32 against PyTorch on real-looking pictures (the export check uses noise)."""
    logit_diff, logit_scale, prob_diff = compare_with_torch(model, OnnxDetector(fp32), faces)
    return {"images": len(faces), "max_probability_diff": prob_diff,
            "max_logit_diff": logit_diff, "max_abs_logit": logit_scale}  # fmt: skip


def trained_probe(prepared: PreparedData) -> LoadedDetector:
    """`lite0_probe` (frozen ImageNet EfficientNet-Lite0, shipped offline) with its linear head
    fitted by logistic regression on the train split: a detector with trained weights, which an
    accuracy cost needs, obtained in seconds."""
    from sklearn.linear_model import LogisticRegression

    model = build_detector("lite0_probe", pretrained="imagenet").eval()
    features, labels = [], []
    with torch.no_grad():
        for images, batch_labels in prepared.loader("train", 32):
            features.append(model.features(images))
            labels.append(batch_labels)
    fit = LogisticRegression(max_iter=2000).fit(torch.cat(features), torch.cat(labels))
    with torch.no_grad():
        model.head.weight.copy_(torch.as_tensor(fit.coef_, dtype=torch.float32))
        model.head.bias.copy_(torch.as_tensor(fit.intercept_, dtype=torch.float32))
    return LoadedDetector(model, "lite0_probe", model.input_spec)


def probe_int8_cost(work: Path) -> dict[str, Any]:
    """Static int8 on the trained probe, measured on its test split as `fakescope export --int8
    --data` measures it. Untimed, so on one torch thread (less contention on a shared machine)."""
    torch.set_num_threads(1)
    synthesize_dataset(work / "probe_faces", n=150, size=256, seed=1, fakes=True)
    data = DataConfig(path=str(work / "probe_faces"), cache_dir=str(work / "cache"))
    spec = build_detector("lite0_probe").input_spec
    prepared = prepare_data(data, spec, seed=0, labelled=True)
    loaded = trained_probe(prepared)
    fp32 = export_onnx(loaded, work / "probe.onnx").path
    train = [sample.path for sample in prepared.samples("train")]
    pixels = calibration_images(train, spec, count=32)
    int8 = quantize_onnx(fp32, int8_onnx_path(fp32), "static", pixels)
    cost = quantization_cost(OnnxDetector(fp32), OnnxDetector(int8), prepared, "test", 0.5)
    return {"detector": "lite0_probe (head fitted on 240 synthetic faces)",
            "fp32_bytes": fp32.stat().st_size, "int8_bytes": int8.stat().st_size,
            **cost.to_dict()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 32])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=20, help="timed calls per round, batch 1")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    work = Path(tempfile.mkdtemp(prefix="fakescope-onnx-bench-"))
    try:
        synthesize_dataset(work / "faces", n=64, size=256, seed=0, fakes=True)
        paths = sorted((work / "faces").rglob("*.jpg"))
        spec = build_detector("efficientnet_b0").input_spec
        calibration_faces, held_out = paths[::2], paths[1::2]
        loaded = calibrated_b0(face_batch(calibration_faces, spec))
        faces = face_batch(held_out, spec)
        checkpoint = work / "b0.pt"
        start = time.perf_counter()
        exported = export_onnx(loaded, default_onnx_path(checkpoint))
        export_s = time.perf_counter() - start
        fp32 = exported.path
        start = time.perf_counter()
        pixels = calibration_images(calibration_faces, spec, count=32)
        int8 = quantize_onnx(fp32, int8_onnx_path(fp32), "static", pixels)
        quantize_s = time.perf_counter() - start
        dynamic = quantize_onnx(fp32, work / "b0.dynamic.onnx", "dynamic")
        runners = candidates(loaded.model, fp32, int8, dynamic)
        load_before = os.getloadavg()
        results: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {THREADS} threads, "
            f"torch {torch.__version__}, onnxruntime {ort.__version__}",
            "model": f"efficientnet_b0 at {SIZE}x{SIZE}, 2 logits",
            "export": {**exported.to_dict(), "seconds": export_s},
            "fidelity_on_faces": fidelity_on_faces(loaded.model, fp32, faces),
            "int8_static": {"size_bytes": int8.stat().st_size, "seconds": quantize_s},
            "load_average_before": load_before,
            "batches": {},
        }  # fmt: skip
        for batch in args.batches:
            iterations = max(2, args.iterations // batch)
            skip = {"ort_int8_dynamic", "torch_eager_1_thread"} if batch > 1 else set()
            rows = measure(runners, faces, batch, args.rounds, iterations, skip)
            results["batches"][str(batch)] = {"iterations_per_round": iterations, "rows": rows}
            latencies = {name: round(row["latency_ms"], 1) for name, row in rows.items()}
            print(json.dumps({"batch": batch, **latencies}), flush=True)
        results["load_average_after"] = os.getloadavg()
        results["int8_cost_trained_probe"] = probe_int8_cost(work)
        one = faces[:1].clone()
        results["profile_batch1"] = {
            "torch_eager": torch_profile(loaded.model, one),
            "ort_fp32": ort_profile(fp32, one, work),
        }
        if args.out:
            args.out.write_text(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
