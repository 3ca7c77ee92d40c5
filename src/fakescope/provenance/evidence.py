"""What one metadata field says about where a picture came from, and the limits every reader
keeps to on hostile files."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from fakescope.config import ConfigError

MIB = 1024 * 1024

# What a piece of evidence points to.
GENERATED = "generated"  # declares generated (or partly generated) content
EDITED = "edited"  # declares edits, or editing software
CAMERA = "camera"  # camera capture data, or a declared capture
INFO = "info"  # read, but says nothing either way (e.g. a title, a manifest's state)
LIMIT = "limit"  # over a size limit or truncated: reported and not (fully) read
ERROR = "error"  # a reader failed on this file; the others still ran
SIGNALS = (GENERATED, EDITED, CAMERA, INFO, LIMIT, ERROR)

# How far a claim can be relied on: plain metadata, or a C2PA manifest in one of its states.
UNSIGNED = "unsigned"

MAX_VALUE_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class ProvenanceLimits:
    """Byte and count bounds applied before anything is parsed, so that a 100 MB text chunk, a
    zlib bomb or an XML bomb costs at most these amounts."""

    max_file_bytes: int = 64 * MIB  # beyond it: metadata from the first bytes only, no C2PA
    max_text_bytes: int = 256 * 1024  # one text chunk or comment (after decompression)
    max_xmp_bytes: int = 1 * MIB  # one XMP packet (after decompression)
    max_exif_bytes: int = 1 * MIB  # one EXIF block
    max_segments: int = 4096  # chunks or segments walked in one file
    max_evidence: int = 64  # entries kept per file
    max_manifest_mb: int = 8  # C2PA manifest store, decompressed

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")


@dataclass(frozen=True)
class Evidence:
    """One field read from a file. `value` is clipped and cleaned of control characters, since
    it comes from an untrusted file and ends up in tables, JSON and web pages."""

    source: str  # where: c2pa, xmp, png-text, jpeg-comment, exif, webp, file
    field: str  # which field: digitalSourceType, parameters, Make, ...
    value: str  # what it says
    signal: str  # one of SIGNALS
    basis: str = UNSIGNED  # unsigned, or the state of the C2PA manifest it comes from

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def short(self) -> str:
        """`source:field=value` in a few words, for one table cell."""
        value = self.value if len(self.value) <= 40 else self.value[:39] + "…"
        return f"{self.source}:{self.field}={value}" if value else f"{self.source}:{self.field}"


def clean(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """One line of printable text of at most `limit` characters."""
    text = _CONTROL.sub(" ", text.replace("\r", " ").replace("\n", " ").replace("\t", " "))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def error_line(err: BaseException) -> str:
    """An exception as one short line: type and message."""
    message = clean(str(err), 160)
    return f"{type(err).__name__}: {message}" if message else type(err).__name__
