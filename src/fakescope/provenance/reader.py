"""Reading the provenance of a file or of bytes: C2PA manifest, metadata, verdict.

    provenance = read_provenance("photo.jpg")
    provenance.verdict      # declared-generated | declared-edited | camera-metadata | no-provenance
    provenance.evidence     # what each field said, with its source and basis

A second opinion beside a detector's score, never part of it: the detector judges the pixels,
this reads what the file says about itself.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakescope.errors import BadFileError, DataError
from fakescope.provenance.c2pa_reader import C2paSummary, read_c2pa
from fakescope.provenance.evidence import (
    ERROR,
    LIMIT,
    Evidence,
    ProvenanceLimits,
    error_line,
    human_bytes,
)
from fakescope.provenance.metadata import read_metadata
from fakescope.provenance.verdict import NO_PROVENANCE, decide, summary

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif", ".bmp",
                            ".avif", ".heic", ".heif"})
COLUMNS = ("provenance", "provenance_basis", "provenance_c2pa", "provenance_evidence")


@dataclass(frozen=True)
class Provenance:
    """What one file says about its origin. `verdict` is None only when the file could not be
    read at all (`error` says why)."""

    path: str
    verdict: str | None
    basis: str = ""  # what the verdict rests on: a C2PA manifest's state, or unsigned metadata
    summary: str = ""
    c2pa: C2paSummary | None = None
    evidence: list[Evidence] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "verdict": self.verdict,
            "basis": self.basis,
            "summary": self.summary,
            "c2pa": self.c2pa.to_dict() if self.c2pa else None,
            "evidence": [e.to_dict() for e in self.evidence],
            "error": self.error,
        }

    def key_evidence(self) -> list[Evidence]:
        """Evidence that points somewhere (or failed), without the neutral entries."""
        return [e for e in self.evidence if e.signal != "info"]

    def columns(self) -> dict[str, str]:
        """Flat columns for tables and CSV (`COLUMNS`)."""
        return {
            "provenance": self.verdict or "error",
            "provenance_basis": self.basis,
            "provenance_c2pa": self.c2pa.state if self.c2pa else "",
            "provenance_evidence": "; ".join(e.short() for e in self.key_evidence()[:6])
            or (self.error or ""),
        }


def read_provenance_bytes(
    data: bytes,
    name: str = "upload",
    limits: ProvenanceLimits | None = None,
    trust_anchors: str | None = None,
    truncated_from: int | None = None,
) -> Provenance:
    """The provenance of a file's bytes. Never raises on hostile data: each reader's failure
    is an `error` entry. `truncated_from`: the file's real size when `data` is only its start
    (metadata is then read from the start and the C2PA manifest is not checked)."""
    limits = limits or ProvenanceLimits()
    evidence: list[Evidence] = []
    c2pa: C2paSummary | None = None
    if truncated_from is not None or len(data) > limits.max_file_bytes:
        size = truncated_from or len(data)
        note = (f"{human_bytes(size)} over the {human_bytes(limits.max_file_bytes)} limit: "
                "metadata read from its start, C2PA not checked")
        evidence.append(Evidence("file", "size", note, LIMIT))
        data = data[: limits.max_file_bytes]
    else:
        try:
            c2pa, found = read_c2pa(data, limits, trust_anchors)
        except Exception as err:  # read_c2pa catches its own; this is the last line
            c2pa, found = None, [Evidence("c2pa", "reader", error_line(err), ERROR)]
        evidence += found
    try:
        evidence += read_metadata(data, limits)
    except Exception as err:
        evidence.append(Evidence("file", "reader", error_line(err), ERROR))
    verdict, basis, supporting = decide(evidence)
    return Provenance(name, verdict, basis, summary(verdict, basis, supporting, evidence), c2pa,
                      evidence)


def read_provenance(
    path: str | Path, limits: ProvenanceLimits | None = None, trust_anchors: str | None = None
) -> Provenance:
    """The provenance of one file, read at most `limits.max_file_bytes` into memory."""
    limits = limits or ProvenanceLimits()
    try:
        with open(path, "rb") as handle:
            data = handle.read(limits.max_file_bytes + 1)
            size = len(data)
            if size > limits.max_file_bytes:
                size = max(size, handle.seek(0, 2))
    except OSError as err:
        reason = "file not found" if isinstance(err, FileNotFoundError) else error_line(err)
        return Provenance(str(path), None, error=f"{path}: {reason}")
    truncated = size if size > limits.max_file_bytes else None
    return read_provenance_bytes(data, str(path), limits, trust_anchors, truncated)


def read_many(
    paths: Iterable[str | Path],
    limits: ProvenanceLimits | None = None,
    trust_anchors: str | None = None,
) -> list[Provenance]:
    return [read_provenance(p, limits, trust_anchors) for p in paths]


def expand_paths(patterns: Sequence[str]) -> list[Path]:
    """Files as given, folders as the image files inside them (recursively, sorted), globs as
    their matches; a pattern matching nothing is kept, so its row can say it is missing. A
    folder given by name that cannot be listed or holds no image files is a DataError (there is
    nothing to read in it: most likely the wrong folder)."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        given = path.exists() or not glob.has_magic(pattern)
        matches = [path] if given else [
            Path(m) for m in sorted(glob.glob(pattern, recursive=True))]
        for hit in matches or [path]:
            if hit.is_dir():
                images = _images_in(hit)
                if given and not images:
                    raise DataError(f"{hit}: no image files in this folder")
                found += images
            else:
                found.append(hit)
    return found


def _images_in(folder: Path) -> list[Path]:
    """The image files under `folder`, sorted; a folder in it that cannot be listed is a
    DataError (it would otherwise pass for one without images)."""
    def unlistable(err: OSError) -> None:
        reason = (err.strerror or str(err)).lower()
        raise DataError(f"{err.filename}: {reason} (cannot list this folder)")

    found: list[Path] = []
    for dirpath, _, filenames in os.walk(folder, onerror=unlistable):
        found += [Path(dirpath) / name for name in filenames
                  if Path(name).suffix.lower() in IMAGE_SUFFIXES]
    return sorted(p for p in found if p.is_file())


def load_trust_anchors(path: str | Path | None) -> str | None:
    """PEM trust anchors from a file (None for none); ValueError when it holds no PEM."""
    if path is None:
        return None
    text = Path(path).read_text(encoding="ascii", errors="replace")
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise BadFileError(f"{path}: no PEM certificate in it")
    return text


def to_json(provenances: Sequence[Provenance]) -> str:
    return json.dumps([p.to_dict() for p in provenances], indent=2) + "\n"


__all__ = [
    "COLUMNS",
    "NO_PROVENANCE",
    "Provenance",
    "expand_paths",
    "load_trust_anchors",
    "read_many",
    "read_provenance",
    "read_provenance_bytes",
    "to_json",
]
