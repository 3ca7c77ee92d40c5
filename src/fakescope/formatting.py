"""How values are shown: the one formatter for people (tables, reports, logs) and for CSV files.

Undefined values (a metric with one class present, a field not measured) are None everywhere in
fakescope, never NaN: `format_value` shows them as a dash, `csv_cell` as an empty cell.

Probabilities and thresholds are never "0 %" or "100 %" unless exact: a detector's P(fake) of
0.99996 is not certainty, and a threshold of 0.99997 is not "flag nothing"; rounding either to
"100.0 %" misleads. `format_probability` shows one decimal, more where one would round to 0 or
100, and at the limit says "<0.01 %" or ">99.99 %". The web page (`serve/static/app.js`,
`percent`) follows the same rule.

File names are kept as the operating system gives them. On Linux a name need not be UTF-8;
Python holds its undecodable bytes as lone surrogates ("\\udcff"), which a strict UTF-8 encoder
refuses. Every text fakescope writes goes through `text_bytes`, which turns them back into the
name's own bytes: a CSV row or a cache key holds the exact name (read it back with
`errors="surrogateescape"`, or as bytes), and JSON, which is written as ASCII, holds the
"\\udcff" escape, which `json.loads` turns back into the same `str` (`os.fsencode` gives the
bytes). Where only Unicode will do (a figure's text), `display_text` shows each such byte as
"\\xff".
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MAX_DECIMALS = 2


def format_probability(value: float | None, max_decimals: int = MAX_DECIMALS) -> str:
    """A probability in [0, 1] as a percentage: "50.0 %", "99.97 %", ">99.99 %", "0 %"."""
    if value is None or not math.isfinite(value):
        return "-"
    if value <= 0.0:
        return "0 %"
    if value >= 1.0:
        return "100 %"
    percent = 100.0 * value
    for decimals in range(1, max_decimals + 1):
        shown = round(percent, decimals)
        if 0.0 < shown < 100.0:
            return f"{shown:.{decimals}f} %"
    floor = 10.0**-max_decimals
    return f"<{floor:.{max_decimals}f} %" if percent < 50 else f">{100 - floor:.{max_decimals}f} %"


def format_number(value: float, digits: int = 4) -> str:
    """A metric with `digits` significant digits, more where that would show a value short of
    1 (a probability, a threshold, an AUC) as exactly "1"."""
    for extra in range(5):
        shown = f"{value:.{digits + extra}g}"
        if float(shown) != 1.0 or value == 1.0:
            return shown
    return f"{value:.{digits + 4}f}"


def format_value(value: Any, missing: str = "-") -> str:
    """A table cell for people: `missing` for None (undefined), a float by `format_number`,
    anything else as text."""
    if value is None or value == "":
        return missing
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def format_measurement(value: float) -> str:
    """A timing or throughput: three significant figures or so, with thousands separators."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def text_bytes(text: str) -> bytes:
    """UTF-8, with a file name's undecodable bytes (surrogate escapes) written as themselves."""
    return text.encode("utf-8", "surrogateescape")


def display_text(text: str) -> str:
    """Text for a picture or a terminal that cannot show a name's undecodable bytes: each as
    "\\xNN"."""
    return text_bytes(text).decode("utf-8", "backslashreplace")


def csv_cell(value: Any) -> str:
    """A CSV cell: empty for None (undefined), anything else as text; a float as the shortest
    text that reads back as the same number, since CSV files are read by programs."""
    if value is None:
        return ""
    return str(value)


def csv_text(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any]], header: bool = True
) -> str:
    """The one CSV writer: a header of `columns` (unless appending to a file that has one),
    then each row's cells by `csv_cell` (a missing key is an empty cell)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def csv_bytes(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any]], header: bool = True
) -> bytes:
    """`csv_text` as a file's bytes (`text_bytes`)."""
    return text_bytes(csv_text(columns, rows, header))


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain-text table with aligned columns; floats with 4 significant digits (more where a
    value short of 1 would read as 1)."""

    cells = [[format_value(v) for v in row] for row in rows]
    widths = [max([len(str(h)), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)
