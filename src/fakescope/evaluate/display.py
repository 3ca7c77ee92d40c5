"""How probabilities and thresholds are shown to people: never "0 %" or "100 %" unless exact.

A detector's P(fake) of 0.99996 is not certainty, and a threshold of 0.99997 is not "flag
nothing"; rounding either to "100.0 %" misleads. `format_probability` shows one decimal, more
where one would round to 0 or 100, and at the limit says "<0.01 %" or ">99.99 %". The web page
(`serve/static/app.js`, `percent`) follows the same rule.
"""

from __future__ import annotations

import math

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
