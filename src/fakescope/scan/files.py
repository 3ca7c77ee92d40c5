"""Reading one file of a scan: its bytes once, for the size, the SHA-256, the provenance and the
picture the detector sees.

A file whose bytes equal an earlier file's (found by the scan's hash pass, `scan.hashes`) is
read and hashed only: its reading names the first file, and the writer copies that file's
score, provenance and error onto its row.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fakescope.data.images import BadImageError, decode_image
from fakescope.data.transforms import InputSpec
from fakescope.inference.predict import model_input
from fakescope.provenance import ProvenanceLimits, read_provenance_bytes
from fakescope.scan.hashes import Duplicate

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
    duplicate of an earlier file of the scan, named in `duplicate_of`)."""

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
    first: Duplicate | None = None,
) -> Reading:
    """Read, hash and decode one file; a file that cannot be read or decoded gets its one-line
    reason in `error` (and what could be read: size, hash, provenance). A file with a `first`
    (an earlier file with its bytes) is a duplicate when its hash still matches: nothing else
    is read from it."""
    started = time.perf_counter()
    reading = Reading(path)
    try:
        reading.size = Path(path).stat().st_size
        if Path(path).is_dir():
            reading.error = f"{path}: no image files in this folder"
        elif reading.size > limits.max_file_bytes:
            reading.error = f"{path}: {reading.size} bytes, over the {limits.max_file_bytes} limit"
        else:
            _read_bytes(reading, settings, limits, first)
    except FileNotFoundError:
        reading.error = f"{path}: file not found"
    except OSError as err:
        reading.error = f"{path}: {err.strerror or type(err).__name__}"
    reading.seconds = time.perf_counter() - started
    return reading


def _read_bytes(
    reading: Reading, settings: InputSettings, limits: ProvenanceLimits, first: Duplicate | None
) -> None:  # fmt: skip
    with open(reading.path, "rb") as handle:
        data = handle.read()
    reading.sha256 = hashlib.sha256(data).hexdigest()
    if first is not None and first.sha256 == reading.sha256:  # not changed since the hash pass
        reading.duplicate_of = first.path
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


def read_files(
    paths: Sequence[str],
    settings: InputSettings,
    limits: ProvenanceLimits | None = None,
    duplicates: Mapping[str, Duplicate] | None = None,
) -> list[Reading]:
    """Readings of files in order; `duplicates` names, for a file whose bytes repeat an earlier
    file's, that file (see `read_file`)."""
    limits = limits or ProvenanceLimits()
    duplicates = duplicates or {}
    return [read_file(path, settings, limits, duplicates.get(path)) for path in paths]
