"""Which frozen backbone a probe should read: trust figures of several `trust_verdicts.py` runs
side by side, against the first detector named (the baseline).

    python benchmarks/frozen_features.py --run lite0_probe=DIR --run lite1_probe=DIR ... --out FILE

Each DIR is the --out folder of one `benchmarks/trust_verdicts.py` run; naming a detector twice
(runs with other seeds) averages its runs and gives their spread. Per detector it reports, under
the `current` calibration, the mean over unseen GAN cells and over the content-matched cells of
ROC-AUC, accuracy at the threshold, ECE, fakes called real outside the band, the share sent to
"uncertain" and selective accuracy, ROC-AUC after blur and resize, and the training time of its
runs (the `seconds` column of every run's metrics.csv). On a shared machine those seconds follow
the load, so --forward-batches also times each detector's forward pass on the same 64-px batches
in this process, the detectors taking turns, and reports the median per batch.
Writes FILE (JSON) and prints Markdown.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.trust_verdicts import _mean
from fakescope.models.registry import build_detector, list_detectors

FIGURES = ("roc_auc", "accuracy", "ece", "fakes_called_real", "uncertain_share",
           "selective_accuracy")
ROBUSTNESS = ("roc_auc_blur1", "roc_auc_resize0.5")


def run_figures(folder: Path, content: set[str]) -> dict[str, Any]:
    """The means of one trust_verdicts run, per cell group, and its training seconds."""
    result = json.loads((folder / "trust_verdicts.json").read_text())
    unseen = [r for r in result["rows"] if not r["seen"]]
    groups = {"unseen_gan": [r for r in unseen if r["test_family"] not in content],
              "content_matched": [r for r in unseen if r["test_family"] in content]}
    figures: dict[str, Any] = {}
    for group, rows in groups.items():
        figures[group] = {name: _mean(rows, "current", name) for name in FIGURES}
        figures[group].update({name: _mean(rows, name) for name in ROBUSTNESS})
    train_seconds = 0.0
    for metrics in sorted((folder / "runs").glob("*/metrics.csv")):
        with metrics.open() as handle:
            train_seconds += sum(float(row["seconds"]) for row in csv.DictReader(handle))
    figures["train_seconds"] = train_seconds
    figures["total_seconds"] = result["seconds"]
    return figures


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread (max - min) of each figure over a detector's runs."""
    out: dict[str, Any] = {"runs": len(runs)}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            out[key] = combine([run[key] for run in runs])
            out[key].pop("runs")
            continue
        values = [run[key] for run in runs if run[key] is not None]
        out[key] = {"mean": sum(values) / len(values) if values else None,
                    "spread": max(values) - min(values) if values else None}
    return out


def forward_seconds(detectors: list[str], batches: int, size: int = 64) -> dict[str, float]:
    """Median seconds of one multi-level probe forward pass on a batch of 32, taking turns."""
    models = {name: build_detector(name, multilevel=True).eval() for name in detectors}
    x = torch.randn(32, 3, size, size, generator=torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {name: [] for name in detectors}
    with torch.inference_mode():
        for model in models.values():  # warm-up
            model(x)
        for _ in range(batches):
            for name, model in models.items():
                started = time.perf_counter()
                model(x)
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def _cell(value: dict[str, Any], base: dict[str, Any], runs: int, digits: int) -> str:
    if value["mean"] is None:
        return "-"
    text = f"{value['mean']:.{digits}f}"
    if runs > 1:
        text += f" ±{value['spread'] / 2:.{digits}f}"
    if value is not base and base["mean"]:
        text += f" ({value['mean'] / base['mean']:.2f}x)"
    return text


def markdown(table: dict[str, dict[str, Any]]) -> str:
    """One row per figure, one column per detector: mean, ± half the spread, ratio to baseline."""
    baseline = table[next(iter(table))]
    lines = ["| figure | " + " | ".join(f"{d} ({f['runs']} runs)" for d, f in table.items())
             + " |", "|---|" + "---:|" * len(table)]
    rows = [(group, name) for group in ("unseen_gan", "content_matched")
            for name in (*FIGURES, *ROBUSTNESS)]
    for group, name in rows:
        cells = [_cell(f[group][name], baseline[group][name], f["runs"], 3)
                 for f in table.values()]
        lines.append(f"| {group} {name} | " + " | ".join(cells) + " |")
    for key in ("train_seconds", "total_seconds"):
        cells = [_cell(f[key], baseline[key], f["runs"], 0) for f in table.values()]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, metavar="DETECTOR=DIR",
                        help="a trust_verdicts.py --out folder (repeatable; the first detector "
                        "is the baseline)")
    parser.add_argument("--content-families", default="autoencoder")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--forward-batches", type=int, default=0,
                        help="also time this many forward passes per detector (0: none)")
    args = parser.parse_args(argv)
    content = set(args.content_families.split(","))
    runs: dict[str, list[dict[str, Any]]] = {}
    folders: dict[str, list[str]] = {}
    for spec in args.run:
        detector, _, folder = spec.partition("=")
        runs.setdefault(detector, []).append(run_figures(Path(folder), content))
        folders.setdefault(detector, []).append(folder)
    table = {detector: combine(figures) for detector, figures in runs.items()}
    result: dict[str, Any] = {"baseline": next(iter(table)), "calibration": "current",
                              "folders": folders, "detectors": table, "per_run": runs}
    if args.forward_batches:
        names = [name for name in table if name in list_detectors()]  # not "... lead" labels
        result["forward_seconds_batch32_64px"] = forward_seconds(names, args.forward_batches)
        result["torch_threads"] = torch.get_num_threads()
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(table))
    for name, seconds in result.get("forward_seconds_batch32_64px", {}).items():
        print(f"{name}: {seconds * 1000:.1f} ms per forward pass of 32 images at 64 px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
