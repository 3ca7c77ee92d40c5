"""What fast scoring (`fakescope.inference.fastest`) buys a robustness sweep, against eager PyTorch
measured in the same run.

    python benchmarks/scoring_paths.py --data runs/demo/data \\
        --checkpoints runs/demo/detectors/*/checkpoints/best.pt --rounds 2

Each round runs `robustness_sweep` over every checkpoint twice, once with the probe turned off
(eager PyTorch, the baseline) and once as fakescope runs it (the probe on, its cost included),
in alternating order; it records wall and process CPU seconds, the path each detector got and
the largest difference in accuracy and ROC-AUC between the two sweeps, and appends a section to
`benchmarks/results/scoring_paths.md`.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from fakescope.bench.machine import describe_machine
from fakescope.config import DataConfig
from fakescope.evaluate.options import EvalOptions
from fakescope.evaluate.robustness import Robustness, robustness_sweep
from fakescope.evaluate.scoring import evaluation_data_config
from fakescope.inference import fastest
from fakescope.models.registry import load_detector
from fakescope.speed import set_torch_threads

RESULTS = Path(__file__).parent / "results" / "scoring_paths.md"


@contextmanager
def probe(enabled: bool) -> Iterator[None]:
    saved = fastest.MIN_IMAGES_TO_PROBE
    fastest.MIN_IMAGES_TO_PROBE = saved if enabled else 1 << 62
    try:
        yield
    finally:
        fastest.MIN_IMAGES_TO_PROBE = saved


class ChoiceLog(logging.Handler):
    """Keeps the 'scoring NAME with PATH' lines the probe logs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def timed_sweep(
    checkpoints: list[Path], data: DataConfig, fast: bool
) -> tuple[float, float, Robustness]:
    with probe(fast):
        wall, cpu = time.perf_counter(), time.process_time()
        result = robustness_sweep(checkpoints, data, EvalOptions(device="cpu"))
        return time.perf_counter() - wall, time.process_time() - cpu, result


def largest_differences(a: Robustness, b: Robustness) -> dict[str, float]:
    """The largest |difference| of each measure between the rows of two sweeps."""
    largest = {"accuracy": 0.0, "roc_auc": 0.0}
    for x, y in zip(a.rows, b.rows, strict=True):
        for metric in largest:
            u, v = x["metrics"].get(metric), y["metrics"].get(metric)
            if u is not None and v is not None:
                largest[metric] = max(largest[metric], abs(u - v))
    return largest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--checkpoints", nargs="+", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.threads:
        set_torch_threads(args.threads)
    choices = ChoiceLog()
    logging.getLogger(fastest.__name__).addHandler(choices)
    logging.getLogger(fastest.__name__).setLevel(logging.INFO)
    # the first detector's training split, as the demo's sweep uses it
    data = evaluation_data_config(load_detector(args.checkpoints[0]), args.data,
                                  cache_dir=str(Path(args.data).parent / "cache"))
    timed_sweep(args.checkpoints, data, fast=False)  # warm the data cache and the page cache
    machine, load_before = describe_machine(), os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    rows, differences = [], {"accuracy": 0.0, "roc_auc": 0.0}
    for number in range(args.rounds):
        order = (False, True) if number % 2 == 0 else (True, False)
        timings = {}
        for fast in order:
            wall, cpu, result = timed_sweep(args.checkpoints, data, fast)
            timings[fast] = (wall, cpu, result)
        for metric, value in largest_differences(timings[False][2], timings[True][2]).items():
            differences[metric] = max(differences[metric], value)
        rows.append((timings[False][:2], timings[True][:2]))
    load_after = os.getloadavg()
    lines = [
        f"\n## {started:%Y-%m-%d %H:%M} UTC\n",
        f"Machine: {machine['cpu']}, {machine['usable_cores']} usable cores "
        f"(CPU flags: {', '.join(machine['cpu_flags']) or 'none listed'}; native bf16: "
        f"{'yes' if machine['native_bf16'] else 'no'}), torch {machine['torch']} with "
        f"{torch.get_num_threads()} threads, onnxruntime {machine['onnxruntime']}; load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after.\n",
        f"Command: `python benchmarks/scoring_paths.py --data {args.data} --checkpoints "
        f"{' '.join(map(str, args.checkpoints))} --rounds {args.rounds}"
        f"{f' --threads {args.threads}' if args.threads else ''}`\n",
        "| round | eager wall s | eager CPU s | fast wall s | fast CPU s | wall ratio "
        "| CPU ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for number, ((ew, ec), (fw, fc)) in enumerate(rows, 1):
        lines.append(f"| {number} | {ew:.1f} | {ec:.1f} | {fw:.1f} | {fc:.1f} | {ew / fw:.2f} "
                     f"| {ec / fc:.2f} |")
    lines.append("\nPaths chosen (images/s of each candidate on one batch, from the probe):\n")
    lines += [f"- {line}" for line in dict.fromkeys(choices.lines)]
    n = len(timings[False][2].rows)
    lines.append(f"\nLargest difference between the two sweeps over their {n} rows: accuracy "
                 f"{differences['accuracy']:.4f}, ROC-AUC {differences['roc_auc']:.4f}.")
    with args.results.open("a") as out:
        if out.tell() == 0:
            out.write("# Fast scoring against eager PyTorch in the robustness sweep\n")
        out.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
