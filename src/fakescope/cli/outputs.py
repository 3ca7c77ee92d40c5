"""Where a command's output goes, and the one rule for every file a command writes.

Flags that name an output always take a value (`--out FILE`), and flags without a value
(`--json`, `--csv`) never take one, so no input path typed after a flag can be read as an
output: `fakescope predict --json a.jpg b.jpg` prints JSON for both images. `--json`/`--csv`
put the rows on stdout in that format instead of the table; `--out FILE` (repeatable) also
writes them to FILE, as JSON or CSV by its suffix.

A command refuses (one line, exit 2, before any work) to write over one of its inputs, or over
an existing image file unless it writes images itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from fakescope.config import ConfigError
from fakescope.formatting import text_bytes

ROW_FORMATS = ("json", "csv")


def add_row_outputs(parser: argparse.ArgumentParser, rows: str) -> None:
    """`--json`, `--csv` and `--out FILE` for a command that writes one row per input."""
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true",
                         help=f"print the {rows} as JSON instead of the table")
    formats.add_argument("--csv", action="store_true",
                         help=f"print the {rows} as CSV instead of the table")
    parser.add_argument("--out", metavar="FILE", action="append", default=[],
                        help=f"also write the {rows} to FILE, a .json or .csv file (repeatable; "
                        "never over an input or an image)")


@dataclass(frozen=True)
class RowOutput:
    stdout: str | None  # json or csv; None: the table
    files: tuple[tuple[Path, str], ...]  # each file and its format (json or csv, its suffix)


def row_output(args: argparse.Namespace, inputs: Iterable[Path]) -> RowOutput:
    """The checked choice of `add_row_outputs`' flags; ConfigError for an output file that
    would replace an input or an image, or that is not named .json or .csv."""
    inputs = list(inputs)
    files = []
    for name in args.out:
        target = Path(name)
        suffix = target.suffix.lower().lstrip(".")
        if suffix not in ROW_FORMATS:
            raise ConfigError(f"--out {name}: name a .json or .csv file (its suffix says the "
                              "format)")
        check_output_file("--out", target, inputs)
        files.append((target, suffix))
    return RowOutput("json" if args.json else "csv" if args.csv else None, tuple(files))


def refuse_data_files_as_inputs(patterns: Iterable[str]) -> None:
    """Before `--json FILE` became `--out FILE`, a .json or .csv path among the inputs was
    an output; say so instead of reading it as an image."""
    for pattern in patterns:
        if Path(pattern).suffix.lower().lstrip(".") in ROW_FORMATS:
            raise ConfigError(f"{pattern} is not an image; to write the rows to a file use "
                              f"--out {pattern} (--json and --csv take no file name)")


def check_output_file(
    flag: str, target: Path, inputs: Iterable[Path], writes_images: bool = False
) -> None:
    """ConfigError when writing `target` would replace an input, a folder, or (unless the
    command `writes_images`) an existing image file."""
    if not target.exists():
        return
    if target.is_dir():
        raise ConfigError(f"{flag} {target}: is a folder; give a file name")
    for given in inputs:
        if given.exists() and os.path.samefile(given, target):
            raise ConfigError(f"{flag} {target}: is one of this command's inputs; refusing to "
                              "write over it")
    if not writes_images and _is_image(target):
        raise ConfigError(f"{flag} {target}: is an existing image file; refusing to write over "
                          "it (give another file name)")


def _is_image(path: Path) -> bool:
    from PIL import Image, UnidentifiedImageError

    from fakescope.data.images import is_image_name

    if is_image_name(path):
        return True
    try:
        with Image.open(path):
            return True
    except Image.DecompressionBombError:
        return True
    except (UnidentifiedImageError, OSError):
        return False


def write_rows(output: RowOutput, render: Callable[[str], str]) -> None:
    """The rows, rendered by `render(format)`, into each output file (atomically) and onto
    stdout when --json/--csv asked for them there."""
    from fakescope.runs import atomic_write_bytes

    for path, form in output.files:
        atomic_write_bytes(path, text_bytes(render(form)))
    if output.stdout is not None:
        sys.stdout.write(render(output.stdout))
        sys.stdout.flush()
