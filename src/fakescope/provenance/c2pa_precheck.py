"""Whether c2pa-python could report anything for a file's bytes, decided without its parser.

Most files carry no C2PA manifest, and parsing each one costs more than scoring it. This check
says "no" only when the parser's answer is known to be "no manifest" (`(None, [])` from
`read_c2pa`); any doubt is a "maybe", which only costs the parser's time.

It mirrors c2pa-rs (0.91): the container is detected from the leading bytes; a JPEG is walked
by img-parts up to its first scan (SOS) or EOI, and a truncated walk is an error, as are a JPEG
with no segments and one that ends with its scan header; a PNG's chunks are walked to IEND, and
a chunk running past the end, or no IEND, is an error. A manifest lives in a JUMBF box labelled
`c2pa` (JPEG APP11) or a `caBX` chunk (PNG); without one, the XMP's `dcterms:provenance` may
point to a remote manifest. So a JPEG or PNG whose structure walks cleanly and whose bytes hold
none of those names cannot give anything else; a fuzz test holds the two paths equal.
Other formats always go to the parser.
"""

from __future__ import annotations

# Bytes without which no manifest is found: a JUMBF box or its `c2pa` label, a PNG manifest
# chunk, or the XMP key of a remote manifest.
MANIFEST_NAMES = (b"c2pa", b"jumb", b"caBX", b"provenance")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG markers that img-parts reads with a length and without entropy data after them
# (APPn, SOFn with DHT, DQT, DRI, COM); SOS (0xDA) ends its walk. Anything else: ask the parser.
JPEG_LENGTH_MARKERS = frozenset([*range(0xE0, 0xF0), *range(0xC0, 0xD0), 0xDB, 0xDD, 0xFE])
MAX_SEGMENTS = 1024  # past this the walk gives up and the parser decides


def may_hold_manifest(data: bytes) -> bool:
    """False only when c2pa-python is known to find no manifest (and no error) in `data`."""
    if any(name in data for name in MANIFEST_NAMES):
        return True
    if data[:3] == b"\xff\xd8\xff":
        return not _jpeg_walks_to_scan(data)
    if data[:8] == PNG_SIGNATURE:
        return not _png_walks_to_end(data)
    return True


def _jpeg_walks_to_scan(data: bytes) -> bool:
    """The segments run back to back from SOI to the first SOS or EOI, all inside `data`."""
    position, size = 2, len(data)
    for count in range(MAX_SEGMENTS):
        if position + 1 >= size or data[position] != 0xFF:
            return False
        marker = data[position + 1]
        if marker == 0xD9:  # EOI: a JPEG with no segment at all is an error to c2pa
            return count > 0
        if marker != 0xDA and marker not in JPEG_LENGTH_MARKERS:
            return False
        if position + 4 > size:
            return False
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2 or position + 2 + length > size:
            return False
        if marker == 0xDA:  # c2pa fails on a scan header with nothing after it
            return position + 2 + length < size
        position += 2 + length
    return False


def _png_walks_to_end(data: bytes) -> bool:
    """The chunks run back to back from the signature to IEND, all inside `data`."""
    position, size = len(PNG_SIGNATURE), len(data)
    for _ in range(MAX_SEGMENTS):
        if position + 12 > size:
            return False
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        if not kind.isalpha():  # ASCII letters; c2pa wants a UTF-8 name
            return False
        position += 12 + length
        if position > size:
            return False
        if kind == b"IEND":
            return True
    return False
