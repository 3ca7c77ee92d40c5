"""A bound on the work a decoder spends on a file's structure, checked before decoding.

Pillow parses PNG chunks, JPEG header segments and GIF extension blocks in Python, one at a
time: a 6 MB PNG of 200,000 text chunks costs seconds of CPU (and of the GIL) before a pixel
is read. Real pictures carry a few dozen such pieces. This walks the file's framing without
decoding anything, stops at the first piece past the limit, and refuses the file in one line.
"""

from __future__ import annotations

from fakescope.errors import FakescopeError

# Pieces of metadata (chunks, segments, blocks) a file may carry; cameras and editors write
# tens. Walking this many costs milliseconds; Pillow's own parsing of them about as much.
MAX_METADATA_PIECES = 1024
# Pixel-data chunks (PNG IDAT/fdAT) may be many in a large file, but not many per byte:
# encoders write 8-64 KiB each, so more than one per 4 KiB past the first ones is hostile.
BYTES_PER_DATA_CHUNK = 4096
PNG_DATA_CHUNKS = (b"IDAT", b"fdAT")


class TooMuchStructure(FakescopeError):
    """Raised inside the walk; `structure_problem` turns it into its one-line reason."""


def _refuse(what: str, limit: int) -> TooMuchStructure:
    return TooMuchStructure(f"more than {limit:,} {what}; refused to bound decoding time")


def _check_png(raw: bytes) -> None:
    data_limit = MAX_METADATA_PIECES + len(raw) // BYTES_PER_DATA_CHUNK
    metadata = data = 0
    position = 8
    while position + 8 <= len(raw):
        length = int.from_bytes(raw[position : position + 4], "big")
        kind = raw[position + 4 : position + 8]
        if kind in PNG_DATA_CHUNKS:
            data += 1
            if data > data_limit:
                raise _refuse("PNG pixel-data chunks for its size", data_limit)
        else:
            metadata += 1
            if metadata > MAX_METADATA_PIECES:
                raise _refuse("PNG metadata chunks", MAX_METADATA_PIECES)
        if kind == b"IEND":
            return
        position += 12 + length  # length, type, body, CRC


def _check_jpeg(raw: bytes) -> None:
    """Segments before the first scan (Pillow reads those; libjpeg reads the rest in C)."""
    segments = 0
    position = 2
    while position + 4 <= len(raw):
        if raw[position] != 0xFF:
            return  # not a marker: damaged, which the decoder reports
        marker = raw[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        segments += 1
        if segments > MAX_METADATA_PIECES:
            raise _refuse("JPEG header segments", MAX_METADATA_PIECES)
        if marker == 0xDA or marker == 0xD9:  # start of scan, end of image
            return
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            position += 2
            continue
        position += 2 + int.from_bytes(raw[position + 2 : position + 4], "big")


def _check_gif(raw: bytes) -> None:
    """Extension blocks and their sub-blocks before the first picture."""
    if len(raw) < 13:
        return
    flags = raw[10]
    position = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    pieces = 0
    while position < len(raw) and raw[position] == 0x21:  # extension introducer
        position += 2  # introducer and label
        while position < len(raw):
            pieces += 1
            if pieces > MAX_METADATA_PIECES:
                raise _refuse("GIF extension blocks", MAX_METADATA_PIECES)
            size = raw[position]
            position += 1 + size
            if size == 0:
                break


def structure_problem(raw: bytes) -> str | None:
    """Why `raw` carries more framing than a decoder should walk, or None when it does not."""
    try:
        if raw.startswith(b"\x89PNG\r\n\x1a\n"):
            _check_png(raw)
        elif raw.startswith(b"\xff\xd8"):
            _check_jpeg(raw)
        elif raw.startswith((b"GIF87a", b"GIF89a")):
            _check_gif(raw)
    except TooMuchStructure as err:
        return str(err)
    return None
