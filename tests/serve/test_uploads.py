"""The in-memory multipart reader: limits, lying lengths, malformed bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import pytest

from fakescope.serve.uploads import (
    PART_OVERHEAD_BYTES,
    RequestError,
    Upload,
    UploadLimits,
    files_in,
    read_uploads,
    safe_filename,
)

BOUNDARY = "testboundary42"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(parts: Iterable[tuple[str, str | None, bytes]]) -> bytes:
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


async def chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def read(body: bytes, limits: UploadLimits, content_type: str = CONTENT_TYPE,
         content_length: str | None = "auto") -> list[Upload]:
    length = str(len(body)) if content_length == "auto" else content_length
    return asyncio.run(read_uploads(content_type, length, chunks(body), limits))


def status_of(body: bytes, limits: UploadLimits, **kwargs: str | None) -> int:
    with pytest.raises(RequestError) as caught:
        read(body, limits, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in caught.value.message
    return caught.value.status


LIMITS = UploadLimits(max_file_bytes=5000, max_files=2)


def test_parts_are_read_whole_and_in_order() -> None:
    first, second = bytes(range(256)) * 10, b"\r\n--not-a-boundary\r\n" * 3
    uploads = read(multipart([("files", "a.png", first), ("files", "b.jpg", second),
                              ("note", None, b"hi")]), LIMITS)
    assert [(u.field, u.filename, u.data) for u in uploads] == [
        ("files", "a.png", first), ("files", "b.jpg", second), ("note", "upload", b"hi"),
    ]


@pytest.mark.parametrize(("raw", "expected"), [
    (b"../../etc/passwd", "passwd"),
    (b"C:\\Users\\me\\face.png", "face.png"),
    (b"bad\x00name\x1b.png", "badname.png"),
    (b"", "upload"),
    ("visage-\u00e9t\u00e9.jpg".encode(), "visage-\u00e9t\u00e9.jpg"),
    (b"x" * 1000, "x" * 255),
])
def test_client_file_names_are_reduced_to_a_safe_last_component(raw: bytes, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    async def must_not_be_read() -> AsyncIterator[bytes]:
        raise AssertionError("the body was read")
        yield b""  # makes this an async generator

    with pytest.raises(RequestError) as caught:
        asyncio.run(read_uploads(CONTENT_TYPE, str(LIMITS.max_body_bytes + 1),
                                 must_not_be_read(), LIMITS))
    assert caught.value.status == 413


def test_a_lying_client_is_stopped_after_the_limit() -> None:
    consumed = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal consumed
        yield f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n".encode()
        while True:
            consumed += 4096
            yield b"\0" * 4096

    with pytest.raises(RequestError) as caught:
        asyncio.run(read_uploads(CONTENT_TYPE, "100", endless(), LIMITS))
    assert caught.value.status == 413
    assert consumed <= LIMITS.max_body_bytes + 4096


def test_one_file_over_the_per_file_limit_is_refused() -> None:
    body = multipart([("file", "big.png", b"x" * (LIMITS.max_file_bytes + 1))])
    assert len(body) < LIMITS.max_body_bytes  # only the per-file limit can catch it
    assert status_of(body, LIMITS) == 413


def test_exactly_at_the_limit_is_accepted() -> None:
    data = b"y" * LIMITS.max_file_bytes
    assert read(multipart([("file", "ok.png", data)]), LIMITS)[0].data == data


def test_too_many_parts_are_refused() -> None:
    parts = [("f", f"{i}.png", b"1") for i in range(LIMITS.max_parts + 1)]
    assert status_of(multipart(parts), UploadLimits(10**6, LIMITS.max_files)) == 413


def test_body_limit_leaves_room_for_part_headers() -> None:
    assert LIMITS.max_body_bytes >= LIMITS.max_files * LIMITS.max_file_bytes + PART_OVERHEAD_BYTES


@pytest.mark.parametrize(("content_type", "body", "length", "status"), [
    ("application/json", b"{}", "auto", 415),
    (None, b"", "auto", 415),
    ("multipart/form-data", b"", "auto", 400),  # no boundary
    (CONTENT_TYPE, b"", "auto", 400),  # no parts, no closing boundary
    (CONTENT_TYPE, b"just some bytes", "auto", 400),
    (CONTENT_TYPE, multipart([("file", "a.png", b"abc")])[:-10], "auto", 400),  # cut short
    (CONTENT_TYPE, multipart([("file", "a.png", b"abc")]), "12x", 400),
    (CONTENT_TYPE, multipart([("file", "a.png", b"abc")]), "-5", 400),
])
def test_malformed_requests_get_a_4xx(content_type: str | None, body: bytes, length: str,
                                      status: int) -> None:
    assert status_of(body, LIMITS, content_type=content_type, content_length=length) == status


def test_a_part_without_a_field_name_is_refused() -> None:
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nabc\r\n"
            f"--{BOUNDARY}--\r\n").encode()
    assert status_of(body, LIMITS) == 400


def test_files_in_wants_the_field_and_at_most_max_count() -> None:
    uploads = [Upload("files", "a", b"1"), Upload("files", "b", b"2"), Upload("x", "c", b"3")]
    assert [u.filename for u in files_in(uploads, "files", 2)] == ["a", "b"]
    with pytest.raises(RequestError) as missing:
        files_in(uploads, "file", 1)
    assert missing.value.status == 422
    with pytest.raises(RequestError) as many:
        files_in(uploads, "files", 1)
    assert many.value.status == 413
