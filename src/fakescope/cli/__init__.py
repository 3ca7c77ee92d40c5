"""The `fakescope` command: parse arguments, call one library function, print its result.

Each submodule listed in `COMMAND_MODULES` adds its subcommands with `register(subparsers)`;
the handler it sets (`set_defaults(handler=...)`) receives the parsed arguments.
"""

from __future__ import annotations

import argparse
import importlib
import io
import sys
import traceback
from collections.abc import Sequence

from fakescope import __version__
from fakescope.cli.errors import (
    BUG,
    BUG_REPORT,
    EXIT_CODES,
    USER_ERROR,
    USER_ERRORS,
    format_error,
    signal_exit_code,
)
from fakescope.errors import StoppedBySignal

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
    "fakescope.cli.catalog",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakescope",
        description="Generate, detect, evaluate and serve deepfake face images.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"fakescope {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _keep_file_names_bytes()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("fakescope: interrupted", file=sys.stderr)
        return signal_exit_code("SIGINT")
    except StoppedBySignal as err:
        print(f"fakescope: {format_error(err)}", file=sys.stderr)
        return signal_exit_code(err.signal)
    except USER_ERRORS as err:
        print(f"fakescope: error: {format_error(err)}", file=sys.stderr)
        return USER_ERROR
    except Exception:
        traceback.print_exc()
        print(BUG_REPORT, file=sys.stderr)
        return BUG


def _keep_file_names_bytes() -> None:
    """A file name that is not UTF-8 goes to stdout as its own bytes (as `ls` prints it, and as
    fakescope's CSV files hold it: `formatting.text_bytes`), not as a UnicodeEncodeError."""
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper) and stream.encoding.lower().replace("-", "") == "utf8":
        stream.reconfigure(errors="surrogateescape")


if __name__ == "__main__":
    sys.exit(main())
