"""`fakescope data inspect`: what a dataset folder holds, before any training touches it."""

from __future__ import annotations

import time
from pathlib import Path

from fakescope.data.decode import decode_all
from fakescope.data.layouts import read_layout
from fakescope.data.pipeline import DataReport, count_by_split, size_statistics, tqdm_progress


def inspect_dataset(
    path: str | Path, layout: str = "auto", workers: int | None = None, progress: bool = False
) -> DataReport:
    """Detect the layout, count images per split and class, decode every file to find bad ones
    and measure image sizes. Splits show as `none` where the layout has none (training then
    draws a deterministic stratified split)."""
    started = time.perf_counter()
    name, samples = read_layout(path, layout)
    result = decode_all(
        [s.path for s in samples],
        spec=None,
        workers=workers,
        progress=tqdm_progress("decoding") if progress else None,
    )
    bad_rows = {i for i, _ in result.bad}
    good = [s for i, s in enumerate(samples) if i not in bad_rows]
    return DataReport(
        root=str(path),
        layout=name,
        counts=count_by_split(good),
        bad_files=[(str(samples[i].path), reason) for i, reason in sorted(result.bad)],
        image_sizes=size_statistics(result.sizes),
        seconds=time.perf_counter() - started,
    )


def format_report(report: DataReport, max_bad: int = 20) -> str:
    """The report as a few aligned lines for a terminal."""
    lines = [f"dataset: {report.root}", f"layout:  {report.layout}"]
    lines.append(f"{'split':<8}{'real':>10}{'fake':>10}{'total':>10}")
    total_real = total_fake = 0
    for split, counts in report.counts.items():
        real, fake = counts.get("real", 0), counts.get("fake", 0)
        total_real, total_fake = total_real + real, total_fake + fake
        lines.append(f"{split:<8}{real:>10}{fake:>10}{real + fake:>10}")
    lines.append(f"{'all':<8}{total_real:>10}{total_fake:>10}{total_real + total_fake:>10}")
    if "none" in report.counts:
        lines.append("no splits in this layout: training draws a deterministic stratified split")
    sizes = report.image_sizes
    if sizes:
        w, h = sizes["width"], sizes["height"]
        common = ", ".join(f"{c['size']} ({c['count']})" for c in sizes["most_common"])
        lines.append(
            f"image sizes: width {w['min']}-{w['max']} (median {w['median']:g}), "
            f"height {h['min']}-{h['max']} (median {h['median']:g}); most common {common}"
        )
    if report.faces is not None:
        lines.append(
            f"faces: {report.faces['found']} found, {report.faces['missing']} kept uncropped"
        )
    lines.append(f"bad files: {len(report.bad_files)}")
    for bad_path, reason in report.bad_files[:max_bad]:
        lines.append(f"  {bad_path}: {reason.split(': ', 1)[-1]}")
    if len(report.bad_files) > max_bad:
        lines.append(f"  ... and {len(report.bad_files) - max_bad} more (see --json)")
    lines.append(f"read in {report.seconds:.1f} s")
    return "\n".join(lines)
