"""How long the README's first command takes here: `fakescope demo` from a cold cache, timed.

    python benchmarks/demo_time.py              # appends a row to benchmarks/results/demo_time.md
    python benchmarks/demo_time.py --out /tmp/d    # keeps the demo's folder there

Runs the demo as a user does (a fresh output folder, so no data cache, no trained run to
reuse), in its own process, and records the wall time end to end, each stage's seconds from
the demo's `demo_timings.json`, the GAN's FD against the real-vs-real floor, the CPU (model,
cores, whether it has native bf16) and the load average before and after, which says whether
the machine was quiet. The goals it checks are the demo's: at most 6 minutes in all and at most
3 for the GAN (its training and its measurement). A benchmark, not a timed test: a busy CI
machine would fail a timed test for no fault of the code.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fakescope.bench.machine import describe_machine
from fakescope.runs import FLOOR_COMPARISON_FILE, TIMINGS_FILE

RESULTS = Path(__file__).parent / "results" / "demo_time.md"
DEMO_GOAL_S = 360.0
GAN_GOAL_S = 180.0
HEADER = (
    "| date (UTC) | CPU | bf16 | load before / after | demo s | GAN stage s | GAN FD / floor "
    "| GAN diversity | goals (≤360 s, GAN ≤180 s) |\n"
    "|---|---|---|---|---:|---:|---:|---:|---|\n"
)


def with_row(text: str, row: str) -> str:
    """`text` with `row` after the table's last row (notes may follow the table)."""
    lines = text.splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if line.startswith("|"))
    return "".join([*lines[: last + 1], row, *lines[last + 1 :]])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="the demo's folder (default: a temporary one)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="fakescope_demo_")) / "demo"
    if out.exists():
        shutil.rmtree(out)  # cold: no data cache, no runs to reuse
    machine = describe_machine()
    load_before = os.getloadavg()[0]
    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fakescope", "demo", "--out", str(out)], check=True)
    wall = time.perf_counter() - clock
    load_after = os.getloadavg()[0]
    stages = json.loads((out / TIMINGS_FILE).read_text())["stage_seconds"]
    gan = sum(s for name, s in stages.items() if "GAN" in name)  # training and measuring it
    quality = json.loads((out / "gan" / FLOOR_COMPARISON_FILE).read_text())
    met = wall <= DEMO_GOAL_S and gan <= GAN_GOAL_S
    row = (
        f"| {started:%Y-%m-%d %H:%M} | {machine['cpu']}, {machine['logical_cores']} cores "
        f"| {'yes' if machine['native_bf16'] else 'no'} | {load_before:.1f} / {load_after:.1f} "
        f"| {wall:.0f} | {gan:.0f} | {quality['fd_over_floor']:.2f} "
        f"| {quality['fake']['diversity']:.2f} | {'met' if met else 'not met'} |\n"
    )
    if not args.results.is_file():
        args.results.write_text(
            "# The demo's time from a cold cache\n\n"
            "`python benchmarks/demo_time.py` (runs `fakescope demo` in a fresh folder; fp32 "
            "unless the CPU has native bf16). Each run's stage seconds are in "
            "`demo_time.jsonl`.\n\n" + HEADER
        )
    args.results.write_text(with_row(args.results.read_text(), row))
    record = {"started": started.isoformat(), "cpu": machine["cpu"],
              "cores": machine["logical_cores"], "native_bf16": machine["native_bf16"],
              "load": [load_before, load_after],
              "wall_s": round(wall, 1), "gan_stage_s": gan, "stages": stages,
              "gan_quality": quality}
    with args.results.with_suffix(".jsonl").open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    print(row, end="")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
