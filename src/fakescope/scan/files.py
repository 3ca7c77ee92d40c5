"""Reading one file of a scan: its bytes once, for the size, the SHA-256, the provenance and the
picture the detector sees.

Within a shard, a file whose bytes equal an earlier one's is neither decoded nor scored again:
its reading names the first file, and the writer copies that file's score onto its row.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fakescope.data.images import BadImageError, decode_image
from fakescope.data.transforms import InputSpec
from fakescope.inference.predict import model_input
from fakescope.provenance import ProvenanceLimits, read_provenance_bytes

PROVENANCE_COLUMNS = ("provenance", "provenance_basis", "provenance_c2pa", "provenance_evidence")


@dataclass(frozen=True)
class InputSettings:
    """How a picture becomes the detector's input (the checkpoint's spec and the scan's flags)."""

    spec: InputSpec
    face_crop: bool = False
    face_margin: float = 0.25
    native: bool = False  # scored unresized, on tiles (`fakescope.inference.tiles`)


@dataclass
class Reading:
    """One file's reading; `pixels` is None when there is nothing to score (an error, or a
    duplicate of an earlier file of the shard, named in `duplicate_of`)."""

    path: str
    size: int | None = None
    sha256: str | None = None
    pixels: np.ndarray | None = None
    face_box: str | None = None  # JSON of the face crop's box, when one was taken
    provenance: dict[str, str] = field(default_factory=dict)
    duplicate_of: str | None = None
    error: str | None = None
    seconds: float = 0.0


def read_file(
    path: str,
    settings: InputSettings,
    limits: ProvenanceLimits,
    earlier: dict[str, Reading] | None = None,
) -> Reading:
    """Read, hash and decode one file; a file that cannot be read or decoded gets its one-line
    reason in `error` (and what could be read: size, hash, provenance). A file whose hash is in
    `earlier` (readings by hash) is a duplicate: nothing is decoded, the first file is named."""
    started = time.perf_counter()
    reading = Reading(path)
    try:
        reading.size = Path(path).stat().st_size
        if Path(path).is_dir():
            reading.error = f"{path}: no image files in this folder"
        elif reading.size > limits.max_file_bytes:
            reading.error = f"{path}: {reading.size} bytes, over the {limits.max_file_bytes} limit"
        else:
            _read_bytes(reading, settings, limits, earlier or {})
    except FileNotFoundError:
        reading.error = f"{path}: file not found"
    except OSError as err:
        reading.error = f"{path}: {err.strerror or type(err).__name__}"
    reading.seconds = time.perf_counter() - started
    return reading


def _read_bytes(
    reading: Reading, settings: InputSettings, limits: ProvenanceLimits,
    earlier: dict[str, Reading],
) -> None:  # fmt: skip
    with open(reading.path, "rb") as handle:
        data = handle.read()
    reading.sha256 = hashlib.sha256(data).hexdigest()
    first = earlier.get(reading.sha256)
    if first is not None:  # same bytes: same provenance, same picture, same error
        reading.duplicate_of = first.path
        reading.provenance = first.provenance
        if first.error is not None:
            reading.error = f"{reading.path}: {first.error.split(': ', 1)[-1]}"
        return
    reading.provenance = read_provenance_bytes(data, reading.path, limits).columns()
    try:
        image = decode_image(data)
    except BadImageError as err:
        reading.error = f"{reading.path}: {str(err).split(': ', 1)[-1]}"
        return
    pixels, box = model_input(
        image, settings.spec, settings.face_crop, settings.face_margin, settings.native
    )
    reading.pixels = pixels
    reading.face_box = json.dumps(box.to_dict()) if box is not None else None


def read_shard_files(
    paths: Sequence[str], settings: InputSettings, limits: ProvenanceLimits | None = None
) -> list[Reading]:
    """Readings of a shard's files in order; identical bytes are decoded once."""
    limits = limits or ProvenanceLimits()
    first_by_hash: dict[str, Reading] = {}
    readings: list[Reading] = []
    for path in paths:
        reading = read_file(path, settings, limits, first_by_hash)
        if reading.sha256 is not None:
            first_by_hash.setdefault(reading.sha256, reading)
        readings.append(reading)
    return readings
