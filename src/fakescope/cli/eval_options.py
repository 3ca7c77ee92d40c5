"""`--config` and `--set` of the evaluation commands: one `EvalOptions` from its defaults (or the
command's own), an options file, the flags and `--set key=value`, as `train` loads its config.

A flag is a named `--set`: `--batch-size 8` and `--set batch_size=8` are the same override, and
giving both with different values is an error. A command refuses a `--set` of an option it has
no use for (`compare --set calibration.rule=eer`), so nothing is silently ignored; an options
file may hold more, so one file can serve every command.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import replace

from fakescope.config import ConfigError, given, load_config, parse_override, with_flags
from fakescope.evaluate.options import EvalOptions

OPTIONS_HELP = ("evaluation options file (YAML: device, batch_size, seed, progress, split, "
                "calibration, conditions, ...; see docs/evaluation.md)")
OPTION_NAMES = tuple(f.name for f in dataclasses.fields(EvalOptions))


def add_options_args(parser: argparse.ArgumentParser, example: str = "batch_size=8") -> None:
    parser.add_argument("--config", metavar="FILE", help=OPTIONS_HELP)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help=f"any evaluation option, e.g. --set {example} (repeatable; must "
                        "agree with a flag of the same option)")


def load_options(
    args: argparse.Namespace,
    flags: Callable[[EvalOptions], EvalOptions],
    uses: Sequence[str],
    base: EvalOptions | None = None,
    sets: Sequence[str] | None = None,
) -> EvalOptions:
    """The command's options: `base` (default `EvalOptions()`) < `--config` < the `--set`
    strings (`sets`, default `args.overrides`), then `flags`, which applies the command's own
    flags with `dataclasses.replace` (a flag that changes what a `--set` gave is an error). A
    `--set` of an option outside `uses` (top-level names) is refused."""
    sets = list(args.overrides if sets is None else sets)
    options = with_flags(load_config(EvalOptions, args.config, base=base), sets, flags)
    unused = [key for key, _ in map(parse_override, sets) if key.split(".")[0] not in uses]
    if unused:
        raise ConfigError(f"{args.command} has no use for the option '{unused[0]}' (it uses "
                          f"{', '.join(uses)})")
    return options


def scoring_flags(args: argparse.Namespace) -> Callable[[EvalOptions], EvalOptions]:
    """The flags every scoring command has that exist on `args` (device, batch size, seed,
    split, --quiet), applied to options."""
    def apply(o: EvalOptions) -> EvalOptions:
        return replace(
            o,
            device=given(getattr(args, "device", None), o.device),
            batch_size=given(getattr(args, "batch_size", None), o.batch_size),
            seed=given(getattr(args, "seed", None), o.seed),
            split=given(getattr(args, "split", None), o.split),
            progress=False if getattr(args, "quiet", False) else o.progress,
        )
    return apply


def is_option(text: str) -> bool:
    """Whether a `--set key=value` names an `EvalOptions` field (xgen's `--set` also takes
    detector config keys for its training runs)."""
    return text.split("=", 1)[0].strip().split(".")[0] in OPTION_NAMES
