"""What the pooled features as a second ONNX output save `predict` with the onnx backend, against
the PyTorch feature pass it replaced, measured in the same run.

    python benchmarks/onnx_features_predict.py --folder PICTURES [--rounds 3] [--limit 400]

A `lite0_probe` (multi-level, ImageNet Lite0 weights, its 224 px input; the recommended
detector's architecture, untrained head: the time does not depend on what it learned) gets an
"unlike the training data" check fitted on the PyTorch features of 200 other pictures of the
folder (after the first --limit), and is
exported twice: as `fakescope export` writes it now (logits and features) and with the features
output removed, which is what an export from before it held, so the "unlike the training data"
check then runs the PyTorch pass as it always did. Each round predicts every picture of the folder
with each file (`Predictor.predict_paths`, onnx backend, one thread), in alternating order, and
records wall and process CPU seconds; the verdicts and distances of the two must agree. Appends a
section to `benchmarks/results/onnx_features_predict.md`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import torch

from fakescope.bench.machine import describe_machine
from fakescope.data.images import load_image
from fakescope.evaluate.feature_density import fit_feature_density
from fakescope.export.onnx_export import export_onnx
from fakescope.inference.predict import Predictor, expand_inputs
from fakescope.models.registry import build_detector, load_detector, save_detector
from fakescope.speed import set_torch_threads

RESULTS = Path(__file__).parent / "results" / "onnx_features_predict.md"


def make_checkpoint(out: Path, pictures: list[Path]) -> Path:
    """A lite0_probe checkpoint with a training-data check fitted on `pictures`."""
    model = build_detector("lite0_probe", "imagenet", multilevel=True).eval()
    path = out / "best.pt"
    save_detector(path, model, "lite0_probe", {"multilevel": True}, model.input_spec)
    loaded = load_detector(path)
    predictor = Predictor(loaded, backend="torch")
    arrays = [predictor.model_input(load_image(p))[0] for p in pictures]
    with torch.inference_mode():
        features = np.concatenate([loaded.model.features(batch).numpy()
                                   for batch in predictor._batches(arrays)])
    half = len(features) // 2
    density = fit_feature_density(features[:half], features[half:])
    save_detector(path, model, "lite0_probe", {"multilevel": True}, model.input_spec,
                  extra={"feature_density": density.to_payload()})
    return path


def one_output_copy(exported: Path, out: Path) -> Path:
    """The export without its features output, as files written before it existed."""
    graph = onnx.load(str(exported))
    del graph.graph.output[1]
    onnx.save(graph, str(out))
    return out


def timed(checkpoint: Path, onnx_path: Path, pictures: list[Path]) -> tuple[float, float, list]:
    predictor = Predictor(load_detector(checkpoint), batch_size=32, backend="onnx",
                          checkpoint=checkpoint, onnx_path=onnx_path, onnx_threads=1)
    wall, cpu = time.perf_counter(), time.process_time()
    rows = predictor.predict_paths(pictures)
    return time.perf_counter() - wall, time.process_time() - cpu, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=400, help="pictures of the folder to use")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    set_torch_threads(1)
    found = expand_inputs([str(args.folder)])
    pictures, fitting = found[: args.limit], found[args.limit : args.limit + 200]
    machine, load_before = describe_machine(), os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = make_checkpoint(Path(tmp), fitting)
        both = export_onnx(load_detector(checkpoint), Path(tmp) / "best.onnx").path
        logits_only = one_output_copy(both, Path(tmp) / "logits_only.onnx")
        timings: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
        results = {}
        for number in range(args.rounds):
            order = ("before", "after") if number % 2 == 0 else ("after", "before")
            for name in order:
                wall, cpu, rows = timed(checkpoint, logits_only if name == "before" else both,
                                        pictures)
                timings[name].append((wall, cpu))
                results[name] = rows
    got = {n: [(r.prediction.verdict, r.prediction.probability_fake, r.prediction.distance)
               for r in rows if r.prediction] for n, rows in results.items()}
    changed = sum(a[0] != b[0] for a, b in zip(got["before"], got["after"], strict=True))
    unlike = sum(r.prediction.distance > r.prediction.distance_limit
                 for r in results["after"] if r.prediction)
    distance_gap = max(abs(a[2] - b[2]) / max(abs(a[2]), 1e-12)
                       for a, b in zip(got["before"], got["after"], strict=True))
    prob_gap = max(abs(a[1] - b[1]) for a, b in zip(got["before"], got["after"], strict=True))
    lines = [f"\n## {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC\n",
             f"Command: `python benchmarks/onnx_features_predict.py --folder {args.folder} "
             f"--rounds {args.rounds} --limit {args.limit}` ({len(pictures)} pictures, "
             "OMP_NUM_THREADS=1, onnxruntime and torch on one thread each)\n",
             f"Machine: {machine['cpu']}, {machine['logical_cores']} logical cores, flags "
             f"{', '.join(machine['cpu_flags'])}; torch {machine['torch']}, onnxruntime "
             f"{machine['onnxruntime']}; 1-minute load average {load_before[0]:.1f} before "
             f"(a shared machine: CPU seconds are the figure to compare)\n",
             "| round | before: wall s | before: CPU s | after: wall s | after: CPU s | "
             "CPU ratio before/after |", "|---|---|---|---|---|---|"]
    for number, ((bw, bc), (aw, ac)) in enumerate(zip(timings["before"], timings["after"],
                                                      strict=True), 1):
        lines.append(f"| {number} | {bw:.1f} | {bc:.1f} | {aw:.1f} | {ac:.1f} | {bc / ac:.2f} |")
    before_cpu = float(np.median([c for _, c in timings["before"]]))
    after_cpu = float(np.median([c for _, c in timings["after"]]))
    lines += [f"\nMedian CPU seconds: before {before_cpu:.1f}, after {after_cpu:.1f}: "
              f"{before_cpu / after_cpu:.2f}x less CPU per folder, "
              f"{1000 * after_cpu / len(pictures):.1f} ms per picture after. Verdicts that "
              f"differ: {changed} of {len(pictures)} ({unlike} pictures beyond the training-data "
              f"limit); largest relative distance difference {distance_gap:.2g}, largest P(fake) "
              f"difference {prob_gap:.2g}."]
    new = not args.results.is_file()
    with args.results.open("a") as out:
        if new:
            out.write("# `predict` with the ONNX backend: features from the export's own pass\n\n"
                      "Before: the export returned the logits only, and the training-data check "
                      "ran a PyTorch pass for the pooled features. After: the export returns "
                      "them as a second output. Script: `benchmarks/onnx_features_predict.py`.\n")
        out.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
