"""Metadata beside the pixels: PNG text chunks, JPEG comments and APP segments, WebP chunks,
XMP (IPTC digital source type, creator tool, AI fields) and EXIF (camera, software).

The containers are walked by hand over bytes already in memory, with every length checked
against the data and the limits before anything is copied, decompressed or parsed: a lying
length ends the walk with a `limit` entry, a text chunk over the limit is named but not read,
zlib streams are inflated to at most the limit, XML is parsed by defusedxml with DTDs refused
and EXIF by Pillow. A reader that fails adds an `error` entry; the others still run.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree
from PIL import ExifTags, Image

from fakescope.provenance.classify import (
    looks_like_generation_parameters,
    software_signal,
    source_type_name,
    source_type_signal,
    text_signal,
)
from fakescope.provenance.evidence import (
    CAMERA,
    ERROR,
    GENERATED,
    INFO,
    LIMIT,
    Evidence,
    ProvenanceLimits,
    clean,
    error_line,
    human_bytes,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_JPEG_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXTENSION_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
EXIF_HEADER = b"Exif\x00\x00"
PNG_XMP_KEYWORD = "XML:com.adobe.xmp"

# EXIF fields that a camera writes about a capture (besides Make and Model).
CAPTURE_TAGS: dict[int, str] = {
    ExifTags.Base.ExposureTime: "ExposureTime",
    ExifTags.Base.FNumber: "FNumber",
    ExifTags.Base.ISOSpeedRatings: "ISO",
    ExifTags.Base.FocalLength: "FocalLength",
    ExifTags.Base.DateTimeOriginal: "DateTimeOriginal",
    ExifTags.Base.LensMake: "LensMake",
    ExifTags.Base.LensModel: "LensModel",
}
CAMERA_IDENTITY = ("Make", "Model")
# Free-text EXIF fields where generators leave their parameters (A1111 uses UserComment).
TEXT_TAGS: dict[int, str] = {
    ExifTags.Base.ImageDescription: "ImageDescription",
    ExifTags.Base.UserComment: "UserComment",
    ExifTags.Base.XPComment: "XPComment",
}
# XMP properties read, by local name (any namespace, as writers vary).
XMP_SOURCE_TYPE = "digitalsourcetype"
XMP_SOFTWARE = {"creatortool", "softwareagent"}
XMP_AI_FIELDS = {"aisystemused", "aisystemversionused", "aipromptinformation",
                 "aipromptwritername"}  # IPTC 2025.1 generative-AI properties


@dataclass(frozen=True)
class Block:
    """One metadata block found in a container: its kind (text, xmp, exif) and bytes."""

    kind: str
    source: str
    key: str
    data: bytes


class Collector:
    """Evidence of one file, at most `limits.max_evidence` entries (the rest are counted)."""

    def __init__(self, limits: ProvenanceLimits) -> None:
        self.limits = limits
        self.items: list[Evidence] = []
        self.dropped = 0

    def add(self, source: str, field: str, value: str, signal: str) -> None:
        # Limits and errors get their own allowance, so a flood of fields cannot hide them.
        problem = signal in (LIMIT, ERROR)
        if sum((e.signal in (LIMIT, ERROR)) == problem for e in self.items) >= (
            self.limits.max_evidence
        ):
            self.dropped += 1
            return
        self.items.append(Evidence(source, clean(field, 60), clean(value), signal))

    def guarded(self, source: str, read: Callable[[], None]) -> None:
        """Run one reader; whatever it raises becomes an error entry, never an exception."""
        try:
            read()
        except Exception as err:  # hostile input may break any parser in any way
            self.add(source, "reader", error_line(err), ERROR)

    def finish(self) -> list[Evidence]:
        if self.dropped:
            self.items.append(Evidence("file", "evidence", f"{self.dropped} more entries not "
                                       "listed", LIMIT))
        return self.items


# --- containers -------------------------------------------------------------------------------


def _inflate(data: bytes, limit: int) -> tuple[bytes, bool]:
    """zlib-inflate at most `limit` + 1 bytes (a zlib bomb stops there); (bytes, over limit)."""
    out = zlib.decompressobj().decompress(data, limit + 1)
    return out[:limit], len(out) > limit


def png_blocks(data: bytes, limits: ProvenanceLimits, found: Collector) -> Iterator[Block]:
    """Text (tEXt, zTXt, iTXt), XMP (iTXt XML:com.adobe.xmp) and EXIF (eXIf) chunks."""
    pos, count = len(PNG_SIGNATURE), 0
    while pos + 8 <= len(data):
        count += 1
        if count > limits.max_segments:
            found.add("png", "chunks", f"over {limits.max_segments} chunks; the rest not read",
                      LIMIT)
            return
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        start, end = pos + 8, pos + 8 + length
        if not kind.isalpha():
            found.add("png", "chunk", f"malformed chunk type at byte {pos}; stopped", ERROR)
            return
        name = kind.decode("ascii")
        if end + 4 > len(data):
            found.add("png", name, f"chunk of {human_bytes(length)} runs past the end of the "
                      "file; stopped", LIMIT)
            return
        if name in ("tEXt", "zTXt", "iTXt", "eXIf"):
            yield from _png_chunk(name, data, start, end, limits, found)
        elif name == "IEND":
            return
        pos = end + 4  # skip the CRC


def _png_chunk(
    name: str, data: bytes, start: int, end: int, limits: ProvenanceLimits, found: Collector
) -> Iterator[Block]:
    if name == "eXIf":
        if end - start > limits.max_exif_bytes:
            found.add("png", "eXIf", f"{human_bytes(end - start)} over the "
                      f"{human_bytes(limits.max_exif_bytes)} limit; not read", LIMIT)
        else:
            yield Block("exif", "exif", "eXIf", data[start:end])
        return
    head = data[start : min(end, start + 80)]  # keyword (1-79 bytes) and its NUL
    if b"\x00" not in head:
        found.add("png-text", name, "no keyword terminator; skipped", ERROR)
        return
    keyword = head.split(b"\x00", 1)[0].decode("latin-1")
    body_start = start + len(keyword) + 1
    compressed = name == "zTXt"
    encoding = "latin-1"
    if name == "zTXt":
        body_start += 1  # compression method
    elif name == "iTXt":
        flags = data[body_start : body_start + 2]
        compressed = len(flags) == 2 and flags[0] == 1
        # language tag and translated keyword, each NUL-terminated
        rest = data[body_start + 2 : min(end, body_start + 2 + 1024)]
        parts = rest.split(b"\x00", 2)
        if len(parts) < 3:
            found.add("png-text", keyword, "malformed iTXt header; skipped", ERROR)
            return
        body_start += 2 + len(parts[0]) + len(parts[1]) + 2
        encoding = "utf-8"
    is_xmp = keyword == PNG_XMP_KEYWORD
    limit = limits.max_xmp_bytes if is_xmp else limits.max_text_bytes
    size = end - body_start
    if compressed:
        text, over = _inflate(data[body_start:end], limit)
    else:
        over = size > limit
        text = b"" if over else data[body_start:end]
    if over:
        shown = human_bytes(size) + (" compressed" if compressed else "")
        found.add("png-text", keyword, f"{shown}, over the {human_bytes(limit)} limit; not read",
                  LIMIT)
        text = b""
    if is_xmp:
        if text:
            yield Block("xmp", "xmp", keyword, text)
    else:
        yield Block("text", "png-text", keyword, text.decode(encoding, errors="replace").encode())


def jpeg_blocks(data: bytes, limits: ProvenanceLimits, found: Collector) -> Iterator[Block]:
    """COM comments, APP1 EXIF and APP1 XMP segments, up to the start of the scan."""
    pos, count = 2, 0
    while pos + 4 <= len(data):
        count += 1
        if count > limits.max_segments:
            found.add("jpeg", "segments", f"over {limits.max_segments} segments; the rest not "
                      "read", LIMIT)
            return
        if data[pos] != 0xFF:
            found.add("jpeg", "segment", f"no marker at byte {pos}; stopped", ERROR)
            return
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length field
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no metadata follows here
            return
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        start, end = pos + 4, pos + 2 + length
        if length < 2 or end > len(data):
            found.add("jpeg", f"segment 0x{marker:02X}", "length runs past the end of the "
                      "file; stopped", LIMIT)
            return
        segment = data[start:end]
        if marker == 0xFE:
            yield Block("text", "jpeg-comment", "comment", segment)
        elif marker == 0xE1 and segment.startswith(EXIF_HEADER):
            yield Block("exif", "exif", "APP1", segment)
        elif marker == 0xE1 and segment.startswith(XMP_JPEG_HEADER):
            yield Block("xmp", "xmp", "APP1", segment[len(XMP_JPEG_HEADER) :])
        elif marker == 0xE1 and segment.startswith(XMP_EXTENSION_HEADER):
            found.add("xmp", "extended XMP", "present; not read", INFO)
        pos = end


def webp_blocks(data: bytes, limits: ProvenanceLimits, found: Collector) -> Iterator[Block]:
    """EXIF and XMP chunks of a RIFF/WebP file."""
    pos, count = 12, 0
    while pos + 8 <= len(data):
        count += 1
        if count > limits.max_segments:
            found.add("webp", "chunks", f"over {limits.max_segments} chunks; the rest not read",
                      LIMIT)
            return
        kind, length = struct.unpack("<4sI", data[pos : pos + 8])
        start, end = pos + 8, pos + 8 + length
        if end > len(data):
            found.add("webp", clean(kind.decode("latin-1")), f"chunk of {human_bytes(length)} "
                      "runs past the end of the file; stopped", LIMIT)
            return
        limit = {b"EXIF": limits.max_exif_bytes, b"XMP ": limits.max_xmp_bytes}.get(kind)
        if limit is not None:
            label = kind.decode("ascii").strip()
            if length > limit:
                found.add("webp", label, f"{human_bytes(length)} over the {human_bytes(limit)} "
                          "limit; not read", LIMIT)
            else:
                yield Block("exif" if kind == b"EXIF" else "xmp", label.lower(), label,
                            data[start:end])
        pos = end + (length & 1)  # chunks are padded to even sizes
    return


def container_blocks(data: bytes, limits: ProvenanceLimits, found: Collector) -> Iterator[Block]:
    if data.startswith(PNG_SIGNATURE):
        yield from png_blocks(data, limits, found)
    elif data.startswith(b"\xff\xd8"):
        yield from jpeg_blocks(data, limits, found)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        yield from webp_blocks(data, limits, found)
    elif data[:4] in (b"II*\x00", b"MM\x00*"):
        # A TIFF file is itself an EXIF structure; Pillow reads only the IFDs from it.
        yield Block("exif", "exif", "TIFF", data)


# --- XMP --------------------------------------------------------------------------------------


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _element_text(element: Any) -> list[str]:
    """An XMP property's value: its text, or the items of its rdf:Seq/Bag/Alt."""
    text = (element.text or "").strip()
    if text:
        return [text]
    return [t.strip() for item in element.iter() if _local(item.tag) == "li"
            for t in [item.text or ""] if t.strip()]


def read_xmp(packet: bytes, source: str, found: Collector) -> None:
    """IPTC digital source type, IPTC AI fields, creator tool and history software agents."""
    packet = packet.strip(b"\x00 \t\r\n")
    try:
        root = SafeElementTree.fromstring(packet, forbid_dtd=True)
    except DefusedXmlException as err:
        found.add(source, "XMP", f"refused: {type(err).__name__} (DTDs and entities are not "
                  "allowed)", ERROR)
        return
    except SafeElementTree.ParseError as err:
        found.add(source, "XMP", f"not well-formed XML ({clean(str(err), 80)})", ERROR)
        return
    seen: set[tuple[str, str]] = set()

    def add(name: str, value: str) -> None:
        key = _local(name)
        value = value.strip()
        if not value or (key, value) in seen:
            return
        seen.add((key, value))
        if key == XMP_SOURCE_TYPE:
            found.add(source, "DigitalSourceType", source_type_name(value),
                      source_type_signal(value))
        elif key in XMP_AI_FIELDS:
            found.add(source, name.rsplit("}", 1)[-1], value, GENERATED)
        elif key in XMP_SOFTWARE:
            found.add(source, "CreatorTool" if key == "creatortool" else "softwareAgent", value,
                      software_signal(value))

    for element in root.iter():
        for attribute, value in element.attrib.items():
            add(attribute, value)
        tag = element.tag if isinstance(element.tag, str) else ""
        if _local(tag) in XMP_AI_FIELDS | XMP_SOFTWARE | {XMP_SOURCE_TYPE}:
            for value in _element_text(element):
                add(tag, value)


# --- EXIF -------------------------------------------------------------------------------------


def _exif_text(value: Any, tag: int) -> str:
    """EXIF values as text: UserComment's 8-byte charset prefix and XP* UTF-16 handled."""
    if isinstance(value, bytes):
        if tag == ExifTags.Base.XPComment:
            return value.decode("utf-16-le", errors="replace").rstrip("\x00")
        if tag == ExifTags.Base.UserComment and len(value) >= 8:
            head, body = value[:8], value[8:]
            if head.startswith(b"UNICODE"):
                # big or little endian: ASCII text has its zero bytes first in big endian
                big = body[0:1] == b"\x00" if body else True
                return body.decode("utf-16-be" if big else "utf-16-le", errors="replace")
            return body.decode("utf-8", errors="replace").rstrip("\x00 ")
        return value.decode("utf-8", errors="replace").rstrip("\x00")
    if isinstance(value, tuple):
        return " ".join(_exif_text(v, tag) for v in value[:8])
    return str(value)


def _exposure_text(value: Any) -> str:
    """Exposure time as cameras show it: 1/250 for a fraction of a second, 2.5 for longer."""
    try:
        seconds = float(value)
        inverse = 1 / seconds
    except (TypeError, ValueError, ZeroDivisionError):
        return _exif_text(value, ExifTags.Base.ExposureTime)
    if 0 < seconds < 1 and abs(inverse - round(inverse)) <= 0.01 * inverse:
        return f"1/{round(inverse)}"
    return f"{seconds:g}"


def read_exif(raw: bytes, found: Collector) -> None:
    """Camera identity and capture settings, Software, GPS presence, generator text."""
    exif = Image.Exif()
    exif.load(raw)
    if not len(exif):
        return
    base = dict(exif)
    sub = dict(exif.get_ifd(ExifTags.IFD.Exif))
    identity: dict[int, str] = {ExifTags.Base.Make: "Make", ExifTags.Base.Model: "Model"}
    for tag, name in identity.items():
        if base.get(tag):
            found.add("exif", name, _exif_text(base[tag], tag), CAMERA)
    for tag, name in CAPTURE_TAGS.items():
        value = sub.get(tag, base.get(tag))
        if value not in (None, "", b""):
            exposure = tag == ExifTags.Base.ExposureTime
            text = _exposure_text(value) if exposure else _exif_text(value, tag)
            found.add("exif", name, text, CAMERA)
    if base.get(ExifTags.Base.Software):
        software = _exif_text(base[ExifTags.Base.Software], ExifTags.Base.Software)
        found.add("exif", "Software", software, software_signal(software))
    if exif.get_ifd(ExifTags.IFD.GPSInfo):
        found.add("exif", "GPS", "present (coordinates not shown)", INFO)
    for tag, name in TEXT_TAGS.items():
        value = sub.get(tag, base.get(tag))
        if value in (None, "", b""):
            continue
        text = _exif_text(value, tag)[:65536]
        if looks_like_generation_parameters(text):
            found.add("exif", name, text, GENERATED)


# --- all of it --------------------------------------------------------------------------------


def read_metadata(data: bytes, limits: ProvenanceLimits | None = None) -> list[Evidence]:
    """Evidence from every metadata block of an image file's bytes (PNG, JPEG, WebP, TIFF)."""
    limits = limits or ProvenanceLimits()
    found = Collector(limits)
    blocks: list[Block] = []
    found.guarded("file", lambda: blocks.extend(container_blocks(data, limits, found)))
    for block in blocks:
        if block.kind == "text":
            text = block.data.decode("utf-8", errors="replace")
            found.add(block.source, block.key, text, text_signal(block.key, text))
        elif block.kind == "xmp":
            if len(block.data) > limits.max_xmp_bytes:
                found.add(block.source, "XMP", f"{human_bytes(len(block.data))} over the "
                          f"{human_bytes(limits.max_xmp_bytes)} limit; not read", LIMIT)
                continue
            read = functools.partial(read_xmp, block.data, block.source, found)
            found.guarded(block.source, read)
        elif block.kind == "exif":
            found.guarded("exif", functools.partial(read_exif, block.data, found))
    return found.finish()
