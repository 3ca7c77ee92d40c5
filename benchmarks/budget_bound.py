"""Does `--max-minutes` bound the whole run? Both trainers on the demo's kind of data.

    python benchmarks/budget_bound.py --minutes 2 --out runs/budget_bound [--clock cpu]

Writes 800 synthetic real and 800 stand-in fake faces at 64x64 (fakescope.data.synth, the demo's
drawing), then runs, each in its own process with the installed defaults:

    fakescope train --data DATA --max-minutes M           (detector: selfcnn)
    fakescope gan train --data DATA/real --max-minutes M  (DCGAN 64x64, default metrics)

and reports per command: wall seconds, CPU seconds of the child, the wall and CPU seconds its
epochs spent training (the `seconds` and `cpu_s` columns of metrics.csv / epochs.csv, which
exclude validation, samples and metrics), the shares of the whole run's wall and CPU time that
were training, the steps run, and the machine's load average before, during (mean and maximum of
the 1-minute figure, sampled every 5 s) and after. A JSON line per
command goes to stdout and to OUT/results.jsonl.

`--clock cpu` counts the budget on the process's CPU time (`train.budget_clock=cpu`): on a
machine shared with other jobs, wall time stretches every phase by the load, CPU time does not,
so the shape of the run (total against budget, share spent training) is read on CPU time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

LOAD_EVERY_S = 5.0


def make_data(folder: Path) -> Path:
    from fakescope.data.synth import synthesize_dataset

    if not (folder / "fake").is_dir():
        synthesize_dataset(folder, n=800, size=64, seed=0, fakes=True)
    return folder


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def training_seconds(csv_path: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds spent in training steps and the steps run, from a run's epoch
    rows."""
    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    seconds = sum(float(r["seconds"]) for r in rows if r.get("seconds"))
    cpu = sum(float(r["cpu_s"]) for r in rows if r.get("cpu_s"))
    last = rows[-1] if rows else {}
    steps = int(float(last.get("step") or 0)) if "step" in last else sum(
        int(float(r["batches"])) for r in rows)
    return seconds, cpu, steps


def run(
    name: str, command: list[str], epoch_csv: Path, minutes: float, clock: str
) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    cpu_before = child_cpu_seconds()
    started = time.perf_counter()
    loads = []  # the 1-minute load average every few seconds while the command runs
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        while True:
            loads.append(os.getloadavg()[0])
            try:
                child.wait(timeout=LOAD_EVERY_S)  # returns as soon as it ends: a precise wall
                break
            except subprocess.TimeoutExpired:
                continue
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    trained, trained_cpu, steps = (training_seconds(epoch_csv) if epoch_csv.is_file()
                                   else (0.0, 0.0, 0))
    cpu = child_cpu_seconds() - cpu_before
    return {
        "trainer": name, "command": " ".join(command[2:]), "exit": child.returncode,
        "clock": clock, "budget_s": minutes * 60, "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1), "training_s": round(trained, 1),
        "training_share": round(trained / wall, 3), "training_cpu_s": round(trained_cpu, 1),
        "training_cpu_share": round(trained_cpu / cpu, 3) if cpu else None,
        # training against the budget itself, on the budget's clock
        "training_budget_share": round((trained_cpu if clock == "cpu" else trained)
                                       / (minutes * 60), 3),
        "steps": steps, "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "load_mean": round(sum(loads) / len(loads), 2) if loads else None,
        "load_max": round(max(loads), 2) if loads else None,
        "summary": stdout.strip().splitlines()[-4:],
        "stderr_tail": stderr.strip().splitlines()[-3:] if child.returncode else [],
    }


def main() -> None:
    from fakescope.config import set_strings
    from fakescope.detect.config import DetectJobConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--out", default="runs/budget_bound")
    parser.add_argument("--only", choices=["detector", "gan"], help="run one trainer")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="the budget's clock (train.budget_clock)")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    data = make_data(out / "data")
    fakescope = [sys.executable, "-m", "fakescope"]
    minutes = str(args.minutes)
    # both commands run without a preset; their configs share the train.budget_clock default
    defaults = DetectJobConfig()
    clocked = replace(defaults, train=replace(defaults.train, budget_clock=args.clock))
    clock = [a for setting in set_strings(defaults, clocked) for a in ("--set", setting)]
    stamp = time.strftime("%H%M%S")
    jobs = {
        "detector": ([*fakescope, "train", "--data", str(data), "--max-minutes", minutes,
                      "--root", str(out), "--name", f"detector_{stamp}", "--quiet", *clock],
                     out / f"detector_{stamp}" / "metrics.csv"),
        "gan": ([*fakescope, "gan", "train", "--data", str(data / "real"), "--max-minutes",
                 minutes, "--root", str(out), "--name", f"gan_{stamp}", "--quiet", *clock],
                out / f"gan_{stamp}" / "epochs.csv"),
    }
    for name, (command, epoch_csv) in jobs.items():
        if args.only and name != args.only:
            continue
        result = run(name, command, epoch_csv, args.minutes, args.clock)
        line = json.dumps(result)
        print(line, flush=True)
        with (out / "results.jsonl").open("a") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()
