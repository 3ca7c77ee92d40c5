"""One benchmark run: the faces, then each chosen area's suite, into one report."""

from __future__ import annotations

import importlib
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


def run_bench(
    settings: BenchSettings,
    areas: Sequence[str],
    work: Path,
    data: Path | None = None,
    device: str = "auto",
    command: str = "fakescope bench",
    log: Callable[[str], None] = lambda line: None,
    on_row: Callable[[Row], None] = lambda row: None,
) -> BenchReport:
    """Measure `areas` on the faces in `data` (else synthetic ones drawn into `work`), using
    `work` as scratch space; `log` gets a line before each measurement, `on_row` each row."""
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
    for area in areas:
        suite = importlib.import_module(f"fakescope.bench.suites.{area}")
        descriptions[area] = suite.describe(settings)
        for row in suite.measure(context):
            rows.append(row)
            on_row(row)
    return BenchReport(
        machine=describe_machine(), command=command, started=started,
        seconds=time.perf_counter() - clock, load_before=load_before, load_after=load_average(),
        data=faces.describe(), rounds=settings.rounds, areas=descriptions, rows=rows,
    )  # fmt: skip
