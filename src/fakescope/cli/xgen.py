"""`fakescope xgen`: train detectors on some generator families, score them on every family."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from fakescope.cli.argtypes import (
    DEVICE_HELP,
    device,
    output_folder,
    positive_float,
    positive_int,
    seed,
)
from fakescope.cli.eval_options import OPTIONS_HELP, is_option, load_options
from fakescope.config import given
from fakescope.evaluate.choices import REAL_ANCHORED_RULE, XGEN_CONDITIONS, XGEN_MODES
from fakescope.evaluate.options import EvalOptions

# The evaluation options xgen reads; its other --set keys go to every detector training run.
USES = ("device", "batch_size", "seed", "progress", "calibration", "conditions")


def register(subparsers: argparse._SubParsersAction) -> None:
    xgen = subparsers.add_parser(
        "xgen",
        help="cross-generator matrix: train on one family (or all but one), score on every "
             "family, clean and degraded",
    )
    xgen.add_argument("--set-dir", required=True, help="a set built by `fakescope data multigen`")
    xgen.add_argument("--detectors", required=True,
                      help="comma-separated presets (built in) or registered detector names")
    xgen.add_argument("--out", default=None, type=output_folder,
                      help="output folder (default SET_DIR/xgen)")
    xgen.add_argument("--mode", default="single", choices=[*XGEN_MODES, "both"],
                      help="single: train on one family; loo: on all but one")
    xgen.add_argument("--train-families", default=None,
                      help="comma-separated families to train on (single) or hold out (loo); "
                           "default all")
    xgen.add_argument("--conditions",
                      help=f"comma-separated, from {', '.join(XGEN_CONDITIONS)} (default all)")
    xgen.add_argument("--epochs", type=positive_int, default=None,
                      help="train.epochs for every run")
    xgen.add_argument("--minutes", type=positive_float, default=None,
                      help="train.max_minutes for every run")
    xgen.add_argument("--threshold",
                      help="rule for the stored threshold, fitted on validation (eer, f1, "
                      f"fpr:X; calibration.rule; default {REAL_ANCHORED_RULE}: at most 5 %% of "
                      "the reals called fake)")
    xgen.add_argument("--seed", type=seed, help="default 0")
    xgen.add_argument("--device", type=device, help=DEVICE_HELP + " (default auto)")
    xgen.add_argument("--config", metavar="FILE", help=OPTIONS_HELP)
    xgen.add_argument("--set", dest="overrides", action="append", default=[],
                      metavar="KEY=VALUE",
                      help="an evaluation option (e.g. --set batch_size=8), or a detector config "
                      "key for every training run (e.g. --set train.lr=0.001); repeatable")
    xgen.set_defaults(handler=_xgen)


def _names(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _xgen(args: argparse.Namespace) -> int:
    from fakescope.evaluate.options import xgen_options
    from fakescope.evaluate.xgen import XgenSpec, xgen_markdown
    from fakescope.report.xgen import keep_xgen, write_xgen
    from fakescope.workflows.xgen import run_xgen

    def flags(o: EvalOptions) -> EvalOptions:
        conditions = _names(args.conditions)
        return dataclasses.replace(
            o, device=given(args.device, o.device), seed=given(args.seed, o.seed),
            calibration=dataclasses.replace(
                o.calibration, rule=given(args.threshold, o.calibration.rule)),
            conditions=o.conditions if conditions is None else tuple(conditions),
        )  # fmt: skip

    options = load_options(
        args,
        flags,
        USES,
        dataclasses.replace(xgen_options(), progress=sys.stderr.isatty()),
        sets=[text for text in args.overrides if is_option(text)],
    )
    out = Path(args.out) if args.out else Path(args.set_dir) / "xgen"
    spec = XgenSpec(
        set_dir=Path(args.set_dir),
        detectors=_names(args.detectors) or [],
        out=out,
        modes=["single", "loo"] if args.mode == "both" else [args.mode],
        train_families=_names(args.train_families),
        overrides=[text for text in args.overrides if not is_option(text)],
        epochs=args.epochs,
        minutes=args.minutes,
        options=options,
    )
    result = run_xgen(spec, on_update=lambda partial: keep_xgen(partial, out))
    written = write_xgen(result, out)
    print(xgen_markdown(result).split("\n\n")[0])
    failed = [run for run in result.runs if "error" in run]
    for run in failed:
        print(f"failed {run['detector']} on {run['train_set']}: {run['error']}", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in written))
    return 1 if failed else 0  # some runs failed; the others' results are written
