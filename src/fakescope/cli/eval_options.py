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
from collections.abc import Sequence
from typing import Any

from fakescope.config import ConfigError, load_config, merge_overrides
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
    flags: dict[str, Any],
    uses: Sequence[str],
    base: EvalOptions | None = None,
    sets: Sequence[str] | None = None,
) -> EvalOptions:
    """The command's options: `base` (default `EvalOptions()`) < `--config` < `flags` (None:
    not given) and the `--set` strings (`sets`, default `args.overrides`). An override of an
    option outside `uses` (top-level names) is refused."""
    overrides = merge_overrides(flags, list(args.overrides if sets is None else sets))
    options = load_config(EvalOptions, args.config, overrides, base=base)  # unknown keys first
    unused = [key for key in overrides if key.split(".")[0] not in uses]
    if unused:
        raise ConfigError(f"{args.command} has no use for the option '{unused[0]}' (it uses "
                          f"{', '.join(uses)})")
    return options


def is_option(text: str) -> bool:
    """Whether a `--set key=value` names an `EvalOptions` field (xgen's `--set` also takes
    detector config keys for its training runs)."""
    return text.split("=", 1)[0].strip().split(".")[0] in OPTION_NAMES
