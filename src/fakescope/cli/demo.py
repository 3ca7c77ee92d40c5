"""`fakescope demo`: synthetic faces -> GAN -> fakes -> detectors -> evaluation -> report."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from fakescope.cli.argtypes import device, output_folder, port, seed
from fakescope.config import merge_overrides
from fakescope.formatting import format_value
from fakescope.workflows.recommended import SERVE_PORT


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo", help="run the whole pipeline on synthetic faces (about 5 minutes on 2 cores)"
    )
    demo.add_argument("--out", default=None, type=output_folder,
                      help="output folder (default runs/demo)")
    demo.add_argument("--config", default=None, help="a demo preset (default: the demo preset)")
    demo.add_argument("--seed", type=seed, default=None)
    demo.add_argument("--device", default=None, type=device, help="auto | cpu | cuda")
    demo.add_argument(
        "--quick",
        action="store_true",
        help="the demo_quick preset: every stage in one to two minutes, at sizes too "
        "small for meaningful numbers",
    )
    demo.add_argument(
        "--serve", action="store_true",
        help="afterwards, serve the recommended detector (else the best) on the web page"
    )
    demo.add_argument("--port", type=port, default=SERVE_PORT, help="port for --serve")
    demo.add_argument("--quiet", action="store_true",
                      help="no progress bars or log lines: stage names and the results only")
    demo.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any DemoConfig field, e.g. --set faces=400 (a flag and a --set of "
        "the same key must agree)",
    )
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from fakescope.config import load_config
    from fakescope.workflows.demo import DemoConfig, run_demo, stage_count

    preset = args.config or ("demo_quick" if args.quick else "demo")
    flags: dict[str, Any] = {"out": args.out, "seed": args.seed, "device": args.device}
    config = load_config(DemoConfig, preset, merge_overrides(flags, args.set))
    level = logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    step, stage_total = 0, stage_count(config)

    def announce(stage: str) -> None:
        nonlocal step
        step += 1
        print(f"[{step}/{stage_total}] {stage}", file=sys.stderr, flush=True)

    result = run_demo(config, progress=not args.quiet, announce=announce)
    q = result.gan_quality
    print(f"\nGAN against {q['images']} held-out faces: {q['fd_name']} {q['fake']['fd']:.1f} "
          f"(real-vs-real floor {q['floor']['fd']:.1f}, {q['fd_over_floor']:.2f}x), "
          f"diversity ratio {q['fake']['diversity']:.2f}")
    columns = ("model", "accuracy", "precision", "recall", "f1", "roc_auc", "eer", "threshold")
    print("\n" + "  ".join(f"{c:>18}" for c in columns))
    for row in result.table:
        print("  ".join(f"{format_value(row.get(c)):>18}" for c in columns))
    total = sum(result.seconds.values())
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    print(f"\nstages took {total:.0f} s: {stages}")
    print(f"report: {result.report}")
    print(f"best detector on this test split: {result.best_checkpoint}")
    if config.recommended in config.detector_names():
        print(f"recommended detector, the one --serve serves (it ranks fakes of generators it "
              f"never saw best: docs/cross-generator.md): {result.served_checkpoint}")
    if args.serve:
        from fakescope.cli import main

        served = str(result.served_checkpoint)
        return main(["serve", "--checkpoint", served, "--port", str(args.port)])
    return 0

