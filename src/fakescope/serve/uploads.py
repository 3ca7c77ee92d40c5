"""Reading multipart uploads into memory under byte limits, never onto the disk.

Starlette's own form parser spools files over 1 MiB to temporary files. This reader keeps every
part in memory and stops at the first byte past a limit, so neither a lying Content-Length nor
an endless body costs more than the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from fakescope.errors import FakescopeError

# Boundary lines and part headers around each part's data; generous for long file names.
PART_OVERHEAD_BYTES = 16 * 1024
EXTRA_PARTS = 4  # form fields besides the files (tolerated, ignored)
MAX_FILENAME_CHARS = 255


class RequestError(FakescopeError):
    """A request the server refuses: its HTTP status and a one-line reason for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Upload:
    """One part of a multipart body: its form field, the client's file name, its bytes."""

    field: str
    filename: str
    data: bytes


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int
    max_files: int

    def describe(self) -> str:
        per_file = f"{human_bytes(self.max_file_bytes)} per image"
        return per_file if self.max_files == 1 else f"{per_file}, {self.max_files} images"

    @property
    def max_parts(self) -> int:
        return self.max_files + EXTRA_PARTS

    @property
    def max_body_bytes(self) -> int:
        return self.max_files * self.max_file_bytes + self.max_parts * PART_OVERHEAD_BYTES


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def safe_filename(raw: bytes) -> str:
    """The last path component of a client's file name, printable and of bounded length."""
    name = raw.decode("utf-8", errors="replace")
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:MAX_FILENAME_CHARS] or "upload"


def multipart_boundary(content_type: str | None) -> bytes:
    media, options = parse_options_header(content_type or "")
    if media != b"multipart/form-data":
        raise RequestError(415, "send the image as multipart/form-data (form field 'file')")
    boundary = options.get(b"boundary")
    if not boundary:
        raise RequestError(400, "multipart/form-data without a boundary")
    return boundary


def check_declared_length(content_length: str | None, limits: UploadLimits) -> None:
    """Refuse a body whose declared length is already over the limit, before reading it."""
    if content_length is None:
        return
    if not content_length.strip().isdigit():
        raise RequestError(400, f"invalid Content-Length '{content_length[:40]}'")
    if int(content_length) > limits.max_body_bytes:
        raise RequestError(413, f"request of {human_bytes(int(content_length))} is over the "
                           f"limit ({limits.describe()})")


@dataclass
class _PartCollector:
    """python-multipart callbacks that gather parts in memory and enforce the per-part limits."""

    limits: UploadLimits
    uploads: list[Upload] = field(default_factory=list)
    finished: bool = False
    _header_name: bytearray = field(default_factory=bytearray)
    _header_value: bytearray = field(default_factory=bytearray)
    _disposition: bytes = b""
    _data: bytearray = field(default_factory=bytearray)
    _field: str = ""
    _filename: str = ""

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        if len(self.uploads) >= self.limits.max_parts:
            raise RequestError(413, f"too many files: at most {self.limits.max_files} per request")
        self._disposition = b""
        self._data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if bytes(self._header_name).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name = bytearray()
        self._header_value = bytearray()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise RequestError(400, "a multipart part has no form field name")
        self._field = options[b"name"].decode("utf-8", errors="replace")
        self._filename = safe_filename(options.get(b"filename", b""))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if len(self._data) + (end - start) > self.limits.max_file_bytes:
            raise RequestError(
                413, f"{self._filename} is over the {human_bytes(self.limits.max_file_bytes)} "
                "upload limit"
            )
        self._data += data[start:end]

    def on_part_end(self) -> None:
        self.uploads.append(Upload(self._field, self._filename, bytes(self._data)))

    def on_end(self) -> None:
        self.finished = True


async def read_uploads(
    content_type: str | None,
    content_length: str | None,
    body: AsyncIterator[bytes],
    limits: UploadLimits,
) -> list[Upload]:
    """Every part of a multipart/form-data body, read in memory; RequestError on a bad body."""
    boundary = multipart_boundary(content_type)
    check_declared_length(content_length, limits)
    collector = _PartCollector(limits)
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > limits.max_body_bytes:
                raise RequestError(413, f"request body is over the limit ({limits.describe()})")
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as err:
        raise RequestError(400, f"malformed multipart body ({err})") from err
    if not collector.finished:
        raise RequestError(400, "malformed multipart body (it ends before its closing boundary)")
    return collector.uploads


def files_in(uploads: list[Upload], field_name: str, max_count: int) -> list[Upload]:
    """The uploads sent under `field_name`: 422 when there are none, 413 when too many."""
    found = [u for u in uploads if u.field == field_name]
    if not found:
        raise RequestError(422, f"missing form field '{field_name}' with the image")
    if len(found) > max_count:
        raise RequestError(413, f"too many files: at most {max_count} per request")
    return found
