"""argparse `type=` functions that check a flag's value where it is parsed.

A value out of range (`--batch-size 0`, `--quality 500`, `--device tpu`, `--prefix ../x`) is
then a usage error, one line and exit 2, before anything is loaded or written, instead of a
traceback or silent nonsense later.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from pathlib import Path

from fakescope.config import SEED_LIMIT

DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
DEVICE_HELP = "auto, cpu, cuda or cuda:N"


def _parse(kind: type[int] | type[float], text: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"'{text}' is not {noun}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
    return value


def int_between(low: int, high: int | None = None) -> Callable[[str], int]:
    """A whole number from `low` to `high` (no upper end when None)."""

    def check(text: str) -> int:
        value = int(_parse(int, text))
        if value < low or (high is not None and value > high):
            span = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {span}, got {text}")
        return value

    return check


def float_between(low: float, high: float | None = None, low_open: bool = False
                  ) -> Callable[[str], float]:
    """A finite number from `low` (excluded when `low_open`) to `high` (no upper end when None)."""

    def check(text: str) -> float:
        value = float(_parse(float, text))
        below = value <= low if low_open else value < low
        if below or (high is not None and value > high):
            start = f"above {low:g}" if low_open else f"at least {low:g}"
            span = start if high is None else f"{start} and at most {high:g}"
            raise argparse.ArgumentTypeError(f"must be {span}, got {text}")
        return value

    return check


positive_int = int_between(1)
count = int_between(0)
seed = int_between(0, SEED_LIMIT)
port = int_between(0, 65535)  # 0: any free port
positive_float = float_between(0.0, low_open=True)
non_negative_float = float_between(0.0)
probability = float_between(0.0, 1.0)


def device(text: str) -> str:
    """auto, cpu, mps, cuda or cuda:N; whether that device is present is checked on use."""
    if not DEVICE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"'{text}' is not a device: use {DEVICE_HELP}")
    return text


def output_folder(text: str) -> str:
    """A folder to write into: refused when a file (an image, say) already has that name."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is an existing file, not a folder; refusing "
                                         "to write into it")
    return text


def file_name(text: str) -> str:
    """A bare file name (or name prefix): no folder part, so nothing lands outside --out."""
    if not text or text in (".", "..") or "/" in text or "\\" in text or "\0" in text:
        raise argparse.ArgumentTypeError(f"'{text}' must be a file name, not a path")
    return text
