"""The `fakescope` command: parse arguments, call one library function, print its result.

Each submodule listed in `COMMAND_MODULES` adds its subcommands with `register(subparsers)`;
the handler it sets (`set_defaults(handler=...)`) receives the parsed arguments.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from fakescope import __version__
from fakescope.cli.errors import BUG_REPORT, USER_ERRORS, format_error

COMMAND_MODULES = (
    "fakescope.cli.data",
    "fakescope.cli.demo",
    "fakescope.cli.gan",
    "fakescope.cli.detect",
    "fakescope.cli.evaluate",
    "fakescope.cli.scan",
    "fakescope.cli.xgen",
    "fakescope.cli.provenance",
    "fakescope.cli.serve",
    "fakescope.cli.export",
    "fakescope.cli.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakescope",
        description="Generate, detect, evaluate and serve deepfake face images.",
    )
    parser.add_argument("--version", action="version", version=f"fakescope {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("fakescope: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        print(f"fakescope: error: {format_error(err)}", file=sys.stderr)
        return 2
    except Exception:
        traceback.print_exc()
        print(BUG_REPORT, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
