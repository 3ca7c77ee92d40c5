"""One benchmark run: the faces, then each chosen area's suite, into one report.

An area whose optional packages are missing (a suite's `REQUIRES`) is reported as not run, in
one line that names them, before any measuring starts; an area that fails while measuring is
reported with its one-line reason, and the other areas go on. `on_area` sees the report after
every area, so a long run writes what it has finished as it goes.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from fakescope.bench import AREAS
from fakescope.bench.context import BenchContext, training_devices
from fakescope.bench.dataset import faces_folder, synthetic_faces
from fakescope.bench.machine import describe_machine, load_average, timestamp
from fakescope.bench.settings import BenchSettings
from fakescope.bench.table import BenchReport, Row
from fakescope.config import ConfigError
from fakescope.errors import failure_line

# Optional modules each area needs beyond the runtime install (checked without importing the
# suite, which would fail on the first of them), and what installs them.
REQUIRES: dict[str, tuple[str, ...]] = {"serve": ("httpx", "fastapi", "uvicorn", "multipart")}
INSTALL_HINTS = {"httpx": "fakescope[serve]", "fastapi": "fakescope[serve]",
                 "uvicorn": "fakescope[serve]", "multipart": "fakescope[serve]"}


def parse_areas(text: str | None) -> list[str]:
    """`data,gan` -> ["data", "gan"] in the order of AREAS; None or "" -> every area."""
    if not text:
        return list(AREAS)
    asked = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [area for area in asked if area not in AREAS]
    if unknown or not asked:
        raise ConfigError(
            f"--only: unknown area '{unknown[0] if unknown else text}' "
            f"(choose from {', '.join(AREAS)})"
        )
    return [area for area in AREAS if area in asked]


def missing_requirements(requires: Sequence[str]) -> str | None:
    """Why an area cannot run here (the modules it needs that are not installed), or None."""
    missing = [name for name in requires if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    hints = sorted({INSTALL_HINTS.get(name, name) for name in missing})
    return (f"not run: needs {', '.join(missing)} (pip install "
            f"{' '.join(repr(h) for h in hints)})")


def run_bench(
    settings: BenchSettings,
    areas: Sequence[str],
    work: Path,
    data: Path | None = None,
    device: str = "auto",
    command: str = "fakescope bench",
    log: Callable[[str], None] = lambda line: None,
    on_row: Callable[[Row], None] = lambda row: None,
    on_area: Callable[[BenchReport], None] = lambda report: None,
) -> BenchReport:
    """Measure `areas` on the faces in `data` (else synthetic ones drawn into `work`), using
    `work` as scratch space; `log` gets a line before each measurement, `on_row` each row,
    `on_area` the report so far after each area (finished or failed)."""
    if settings.rounds < 1:
        raise ConfigError(f"--rounds must be at least 1, got {settings.rounds}")
    devices = training_devices(device)
    load_before, started, clock = load_average(), timestamp(), time.perf_counter()
    if data is not None:
        faces = faces_folder(data)
    else:
        log(f"drawing {settings.images} synthetic faces ({settings.image_side} px)")
        faces = synthetic_faces(work / "faces", settings.images, settings.image_side)
    context = BenchContext(settings, faces, work, devices, log)
    rows: list[Row] = []
    descriptions: dict[str, str] = {}
    failed: dict[str, str] = {}
    for area in areas:  # said before the first measurement, not after minutes of them
        reason = missing_requirements(REQUIRES.get(area, ()))
        if reason is not None:
            failed[area] = reason
            log(f"{area}: {reason}")
    machine = describe_machine()

    def report() -> BenchReport:
        return BenchReport(
            machine=machine, command=command, started=started,
            seconds=time.perf_counter() - clock, load_before=load_before,
            load_after=load_average(), data=faces.describe(), rounds=settings.rounds,
            areas=dict(descriptions), rows=list(rows), failed=dict(failed),
        )  # fmt: skip

    for area in (a for a in areas if a not in failed):
        try:
            suite = importlib.import_module(f"fakescope.bench.suites.{area}")
            descriptions[area] = suite.describe(settings)
            for row in suite.measure(context):
                rows.append(row)
                on_row(row)
        except Exception as err:  # the other areas' rows stand; this one says why it stopped
            failed[area] = f"failed: {failure_line(err)}"
            log(f"{area}: {failed[area]}")
        on_area(report())
    return report()
