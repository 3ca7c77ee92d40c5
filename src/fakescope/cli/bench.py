"""`fakescope bench`: the papers' plain pipelines and fakescope's, timed side by side here."""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

from fakescope.bench import AREAS
from fakescope.cli.argtypes import output_folder, positive_int
from fakescope.config import ConfigError, merge_overrides, override_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser(
        "bench",
        help="time the papers' plain pipelines and fakescope's side by side on this machine "
        "(about 8 minutes on 2 cores; --quick in well under one)",
    )
    bench.add_argument("--out", default="bench", type=output_folder,
                       help="folder for bench.md and bench.json "
                       "(default ./bench)")
    bench.add_argument("--only", metavar="AREAS",
                       help=f"comma-separated areas ({', '.join(AREAS)}; default all)")
    bench.add_argument("--quick", action="store_true",
                       help="tiny sizes and few steps (a smoke test; the figures mean little)")
    bench.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                       help="where the training areas run: auto = CPU, plus the GPU when "
                       "CUDA is present")
    bench.add_argument("--rounds", type=positive_int,
                       help="rounds per measurement (default 3, quick 2)")
    bench.add_argument("--images", type=positive_int,
                       help="synthetic faces to draw, half real, half fake (default 2000)")
    bench.add_argument("--data", help="reuse this folder of faces (real/ and fake/ subfolders) "
                       "instead of drawing synthetic ones")
    bench.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any bench setting (fakescope.bench.settings.BenchSettings), e.g. "
                       "--set gan_steps=5 (repeatable; must agree with --rounds/--images)")
    bench.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from fakescope.bench.machine import bf16_statement
    from fakescope.bench.runner import parse_areas, run_bench
    from fakescope.bench.settings import full_settings, quick_settings
    from fakescope.bench.table import Row, format_ratio
    from fakescope.formatting import format_measurement

    areas = parse_areas(args.only)
    overrides = merge_overrides({"rounds": args.rounds, "images": args.images}, args.set)
    if args.data and "images" in overrides:
        raise ConfigError("--images draws synthetic faces; it cannot be combined with --data")
    settings = override_settings(quick_settings() if args.quick else full_settings(), overrides)

    started = time.monotonic()

    def log(line: str) -> None:
        minutes, seconds = divmod(int(time.monotonic() - started), 60)
        print(f"[bench {minutes:2d}:{seconds:02d}] {line}", file=sys.stderr, flush=True)

    def show(row: Row) -> None:
        goal = "" if row.goal is None else f" (goal {format_ratio(row.goal)}: " \
            f"{'met' if row.met else 'NOT met'})"
        log(f"  {row.what}: baseline {format_measurement(row.baseline)}, fakescope "
            f"{format_measurement(row.fakescope)} {row.unit} -> {format_ratio(row.ratio)}{goal}")

    with tempfile.TemporaryDirectory(prefix="fakescope-bench-") as work:
        report = run_bench(settings, areas, Path(work), Path(args.data) if args.data else None,
                           args.device, _command_line(args), log, show)
    markdown, data = report.write(Path(args.out))
    print(report.table())
    print(f"\nbf16: {bf16_statement(bool(report.machine['native_bf16']))}")
    print(f"\nwrote {markdown} and {data}")
    return 0


def _command_line(args: argparse.Namespace) -> str:
    """The command as typed, rebuilt from the parsed flags (for the report)."""
    words = ["fakescope", "bench", "--out", args.out]
    words += ["--quick"] if args.quick else []
    for flag in ("only", "device", "rounds", "images", "data"):
        value = getattr(args, flag)
        if value is not None and not (flag == "device" and value == "auto"):
            words += [f"--{flag}", str(value)]
    for text in args.set:
        words += ["--set", text]
    return shlex.join(words)
