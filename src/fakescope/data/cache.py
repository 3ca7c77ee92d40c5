"""Decode-once cache: a dataset materialised at its training resolution as a uint8 memmap.

Layout of one cache entry, `<cache_dir>/<dataset id>-<settings key>-<files key>/`::

    images.u8     N x S x S x 3 uint8, row i = file i (sorted) after decode, face crop, resize
    index.json    keys, shape, file paths, rows that failed to decode, original image sizes

The settings key hashes the size, resize mode and face crop; the files key hashes every source
file's path, size and modification time. Editing, adding or removing a file, or changing a
setting, gives a new entry and the cache is rebuilt. An entry is built in a temporary folder and
renamed into place only when complete, so a crash mid-write leaves no half-written entry that a
later run could trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.data.decode import DecodeResult, decode_all
from fakescope.data.layouts import Sample
from fakescope.data.transforms import InputSpec
from fakescope.formatting import text_bytes

CACHE_FORMAT_VERSION = 1


@dataclass
class CacheEntry:
    """An opened cache: the memmap and which of its rows hold a decoded image."""

    folder: Path
    images: np.memmap
    paths: list[Path]
    bad: dict[int, str]  # row -> reason
    sizes: list[tuple[int, int]]
    faces_found: int
    faces_missing: int
    rebuilt: bool

    def row_of(self) -> dict[Path, int]:
        return {p: i for i, p in enumerate(self.paths)}


def settings_key(spec: InputSpec, face_margin: float | None) -> str:
    settings = {
        "v": CACHE_FORMAT_VERSION,
        "size": spec.size,
        "resize": spec.resize,
        "face": face_margin,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]


def files_key(paths: list[Path]) -> str:
    """A digest of every file's identity: path, size and modification time.

    Labels and splits are left out on purpose: another seed or split of the same files reuses
    the same cache.
    """
    digest = hashlib.sha256()
    for path in paths:
        try:
            stat = path.stat()
            identity = f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
        except OSError:
            identity = f"{path}\0missing\n"
        digest.update(text_bytes(identity))
    return digest.hexdigest()[:16]


def dataset_id(source: str) -> str:
    return hashlib.sha256(text_bytes(str(Path(source).resolve()))).hexdigest()[:12]


def _open_entry(folder: Path, rebuilt: bool) -> CacheEntry:
    index = json.loads((folder / "index.json").read_text())
    n, size = index["count"], index["size"]
    images = np.memmap(folder / "images.u8", dtype=np.uint8, mode="r", shape=(n, size, size, 3))
    return CacheEntry(
        folder=folder,
        images=images,
        paths=[Path(p) for p in index["paths"]],
        bad={int(k): v for k, v in index["bad"].items()},
        sizes=[tuple(s) for s in index["sizes"]],
        faces_found=index["faces_found"],
        faces_missing=index["faces_missing"],
        rebuilt=rebuilt,
    )


def _write_index(
    folder: Path,
    key: str,
    spec: InputSpec,
    paths: list[Path],
    result: DecodeResult,
    face_margin: float | None,
) -> None:
    index: dict[str, Any] = {
        "format_version": CACHE_FORMAT_VERSION,
        "key": key,
        "count": len(paths),
        "size": spec.size,
        "resize": spec.resize,
        "face_margin": face_margin,
        "paths": [str(p) for p in paths],
        "bad": {str(i): reason for i, reason in sorted(result.bad)},
        "sizes": result.sizes,
        "faces_found": result.faces_found,
        "faces_missing": result.faces_missing,
    }
    (folder / "index.json").write_text(json.dumps(index))


def load_or_build_cache(
    samples: list[Sample],
    spec: InputSpec,
    cache_dir: str | Path,
    source: str,
    face_margin: float | None = None,
    workers: int | None = None,
    progress: Callable[[Iterator[DecodeResult], int], Iterator[DecodeResult]] | None = None,
) -> CacheEntry:
    """Open the cache entry for these samples' files and settings, building it first if needed.

    An older entry of the same dataset (`source`) with the same settings is removed once the new
    one is in place; entries at other sizes stay (a GAN at 64 and a detector at 224 coexist).
    """
    cache_dir = Path(cache_dir)
    paths = sorted({s.path for s in samples})
    family = f"{dataset_id(source)}-{settings_key(spec, face_margin)}"
    key = files_key(paths)
    final = cache_dir / f"{family}-{key}"
    if (final / "index.json").is_file():
        return _open_entry(final, rebuilt=False)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{family}-{key}-", dir=cache_dir))
    try:
        array_path = tmp / "images.u8"
        shape = (len(paths), spec.size, spec.size, 3)
        # Create the full-size file up front; workers write disjoint rows into it.
        np.memmap(array_path, dtype=np.uint8, mode="w+", shape=shape).flush()
        result = decode_all(paths, spec, array_path, face_margin, workers, progress)
        _write_index(tmp, key, spec, paths, result, face_margin)
        with open(array_path, "rb+") as handle:
            os.fsync(handle.fileno())
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "index.json").is_file():  # not a concurrent build of the same entry
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for old in cache_dir.glob(f"{family}-*"):
        if old != final and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return _open_entry(final, rebuilt=True)
