"""Decoding many files in parallel worker processes, tolerating bad ones.

Used twice: to materialise the decode-once cache (each worker writes its rows straight into the
memory-mapped array) and by `data inspect` (sizes only). A file that fails to decode is reported
with its one-line reason and never stops the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fakescope.data.faces import FaceCropper
from fakescope.data.images import BadImageError, load_image
from fakescope.data.transforms import InputSpec, preprocess
from fakescope.speed import usable_cores

CHUNK = 64


@dataclass
class DecodeResult:
    """What decoding a chunk of files found."""

    bad: list[tuple[int, str]] = field(default_factory=list)  # (index, reason)
    sizes: list[tuple[int, int]] = field(default_factory=list)  # original (width, height)
    faces_found: int = 0
    faces_missing: int = 0

    def merge(self, other: DecodeResult) -> None:
        self.bad.extend(other.bad)
        self.sizes.extend(other.sizes)
        self.faces_found += other.faces_found
        self.faces_missing += other.faces_missing


@dataclass(frozen=True)
class DecodeTask:
    paths: tuple[str, ...]
    start: int  # row of paths[0] in the output array
    spec: InputSpec | None  # None: only check and measure, write nothing
    array_path: str | None = None
    total: int = 0
    face_margin: float | None = None  # None: no face crop


def decode_chunk(task: DecodeTask) -> DecodeResult:
    """Decode `task.paths`; with a spec, write each preprocessed image into its memmap row."""
    result = DecodeResult()
    out = None
    if task.spec is not None and task.array_path is not None:
        size = task.spec.size
        out = np.memmap(
            task.array_path, dtype=np.uint8, mode="r+", shape=(task.total, size, size, 3)
        )
    cropper = FaceCropper(margin=task.face_margin) if task.face_margin is not None else None
    for offset, path in enumerate(task.paths):
        index = task.start + offset
        try:
            img = load_image(path)
        except BadImageError as err:
            result.bad.append((index, str(err)))
            continue
        result.sizes.append(img.size)
        if out is not None and task.spec is not None:
            out[index] = preprocess(img, task.spec, cropper)
    if cropper is not None:
        result.faces_found, result.faces_missing = cropper.found, cropper.missing
    if out is not None:
        out.flush()
    return result


def default_workers() -> int:
    return min(usable_cores(), 8)


def decode_all(
    paths: Sequence[Path],
    spec: InputSpec | None,
    array_path: Path | None = None,
    face_margin: float | None = None,
    workers: int | None = None,
    progress: Callable[[Iterator[DecodeResult], int], Iterator[DecodeResult]] | None = None,
) -> DecodeResult:
    """Decode every path (in `workers` processes when there are enough files to pay for them)."""
    tasks = [
        DecodeTask(
            paths=tuple(str(p) for p in paths[start : start + CHUNK]),
            start=start,
            spec=spec,
            array_path=str(array_path) if array_path else None,
            total=len(paths),
            face_margin=face_margin,
        )
        for start in range(0, len(paths), CHUNK)
    ]
    workers = workers or default_workers()
    total = DecodeResult()
    if workers <= 1 or len(tasks) <= 1:
        results: Iterator[DecodeResult] = map(decode_chunk, tasks)
        for r in progress(results, len(tasks)) if progress else results:
            total.merge(r)
        return total
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(decode_chunk, tasks)
        for r in progress(results, len(tasks)) if progress else results:
            total.merge(r)
    return total
