"""Training speed of `fakescope train` against paper 003's plain pipeline, in the same run.

    python benchmarks/detect_train.py --data /tmp/fsbench/faces --seconds 45 \
        --runs selfcnn:64 efficientnet_b0:64 resnet50:64 selfcnn:128 efficientnet_b0:224

For every model:size pair both pipelines train the same network from the same initial weights
with the same batch size, optimizer and learning rate, for the same wall-clock budget, in
alternating rounds (baseline, fakescope, fakescope, baseline) so that drifting load on a shared
machine does not favour one side. Reported per pipeline: training images per second (data loading
included, validation excluded), and the validation accuracy reached within the budget. With
`--equal-work MODEL:SIZE` both also train one full epoch, to compare accuracy at equal steps.

The dataset (synthetic demo faces, 256x256 JPEGs like the Kaggle set the paper used) is drawn
into `--data` when that folder does not exist yet: Train/ and Validation/, real/ and fake/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from baseline_detect import train_baseline

from fakescope.config import load_config
from fakescope.data.synth import synthesize_dataset
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.train import train_detector
from fakescope.runs import MetricsLog


def ensure_data(folder: Path, per_class_train: int, per_class_val: int) -> None:
    if folder.exists():
        return
    synthesize_dataset(folder / "Train", n=per_class_train, size=256, seed=0, fakes=True)
    synthesize_dataset(folder / "Validation", n=per_class_val, size=256, seed=1, fakes=True)


def train_fakescope(
    data: Path, work: Path, model: str, size: int, seconds: float | None, epochs: int | None,
    batch_size: int, lr: float, threads: int | None,
) -> dict[str, Any]:
    config = load_config(DetectJobConfig, None, {
        "data.path": str(data), "data.image_size": size, "data.resize": "resize",
        "data.cache_dir": str(work / "cache"),
        "run.root": str(work / "runs"), "run.name": f"{model}-{size}-{time.time_ns()}",
        "model.name": model,
        "train.epochs": epochs or 10_000, "train.max_minutes": seconds / 60 if seconds else None,
        "train.batch_size": batch_size, "train.lr": lr, "train.augment": False,
        "train.threads": threads or "auto",
    })
    started = time.perf_counter()
    result = train_detector(config, progress=False)
    rows = MetricsLog(result.run.metrics).read()
    images = sum(int(r["batches"]) * batch_size for r in rows)  # drop_last: full batches only
    train_seconds = sum(float(r["seconds"]) for r in rows)
    report = json.loads(result.run.data_report.read_text())
    speed_probe = json.loads((result.run.path / "speed.json").read_text())
    return {
        "model": model, "size": size, "images": images, "train_seconds": train_seconds,
        "images_per_second": images / train_seconds,
        "val_accuracy": float(rows[-1]["val_accuracy"]),
        "epochs": len(rows), "speed": result.speed.to_dict(),
        "probe_step_seconds": speed_probe["step_seconds"],
        "data_seconds": report["seconds"], "cache_rebuilt": report["cache_rebuilt"],
        "total_seconds": time.perf_counter() - started,
    }


def compare(
    args: argparse.Namespace, model: str, size: int, seconds: float | None, epochs: int | None,
    rounds: int,
) -> dict[str, Any]:
    """Alternate the two pipelines (base, ours, ours, base, ...) so load drift hits both."""

    def baseline() -> dict[str, Any]:
        before = torch.get_num_threads()
        torch.set_num_threads(args.threads or before)
        try:
            return asdict(train_baseline(args.data, model, size, seconds, epochs,
                                         args.batch_size, args.lr))
        finally:
            torch.set_num_threads(before)

    def ours() -> dict[str, Any]:
        return train_fakescope(args.data, args.work, model, size, seconds, epochs,
                               args.batch_size, args.lr, args.threads)

    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "fakescope": []}
    for i in range(rounds):
        order = [("baseline", baseline), ("fakescope", ours)]
        for name, fn in order if i % 2 == 0 else order[::-1]:
            load = os.getloadavg()[0]
            runs[name].append({**fn(), "load_before": load, "load_after": os.getloadavg()[0]})
    rate = {k: statistics.mean(r["images_per_second"] for r in v) for k, v in runs.items()}
    entry = {"model": model, "size": size, "budget_seconds": seconds, "epochs": epochs,
             **runs, "speedup": rate["fakescope"] / rate["baseline"]}
    print(json.dumps(entry), flush=True)
    return entry


def write(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/fsbench/faces"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/fsbench/work"))
    parser.add_argument("--train-per-class", type=int, default=1000)
    parser.add_argument("--val-per-class", type=int, default=250)
    parser.add_argument("--runs", nargs="+", default=["selfcnn:64", "efficientnet_b0:64",
                                                      "resnet50:64", "selfcnn:128"])
    parser.add_argument("--equal-work", nargs="*", default=[], metavar="MODEL:SIZE")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2, help="runs per pipeline and pair")
    parser.add_argument("--threads", type=int, default=None,
                        help="fix both pipelines' CPU threads (default: torch's count for the "
                             "baseline, the probe's choice for fakescope)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/fsbench/detect_train.json"))
    args = parser.parse_args()
    ensure_data(args.data, args.train_per_class, args.val_per_class)
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} "
                   f"torch threads, torch {torch.__version__}",
        "threads": args.threads, "timed": [], "equal_work": [],
    }
    for run in args.runs:
        model, size = run.split(":")
        results["timed"].append(compare(args, model, int(size), args.seconds, None, args.rounds))
        write(args.out, results)
    for run in args.equal_work:
        model, size = run.split(":")
        results["equal_work"].append(compare(args, model, int(size), None, 1, 1))
        write(args.out, results)


if __name__ == "__main__":
    main()
