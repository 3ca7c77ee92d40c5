"""Image type from the bytes, the pixel (bomb) guard, damaged files, the API key check."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

import pytest

from fakescope.serve.security import api_key_matches, decode_upload, sniff_image_format
from fakescope.serve.uploads import RequestError, Upload

FORMATS = ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"]


def refused(upload: Upload, max_pixels: int = 10**7) -> RequestError:
    with pytest.raises(RequestError) as caught:
        decode_upload(upload, max_pixels)
    assert "\n" not in caught.value.message
    assert upload.filename in caught.value.message
    return caught.value


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header (with a valid CRC) claims `width` x `height` and whose data is tiny."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_supported_type_is_recognised_and_decoded(
    fmt: str, image_bytes: Callable[..., bytes]
) -> None:
    data = image_bytes(fmt, size=(30, 20))
    assert sniff_image_format(data) == fmt
    image = decode_upload(Upload("file", "whatever.name", data), max_pixels=600)
    assert (image.mode, image.size) == ("RGB", (30, 20))


@pytest.mark.parametrize("data", [
    b"", b"hello, world", b"%PDF-1.7\n", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    b"RIFF\x24\x00\x00\x00WAVEfmt ", b"GIF90a", b"\xff\xd8", b"PK\x03\x04",
])
def test_other_bytes_are_not_taken_for_images(data: bytes) -> None:
    assert sniff_image_format(data) is None


def test_the_type_comes_from_the_bytes_not_the_name(image_bytes: Callable[..., bytes]) -> None:
    assert refused(Upload("file", "photo.jpg", b"#!/bin/sh\nrm -rf /\n")).status == 415
    image = decode_upload(Upload("file", "notes.txt", image_bytes("PNG")), max_pixels=10**6)
    assert image.size == (48, 40)


def test_a_header_claiming_too_many_pixels_is_refused_before_decoding() -> None:
    bomb = png_claiming(8_000, 8_000)  # under Pillow's own guard, over ours
    assert len(bomb) < 200
    error = refused(Upload("file", "bomb.png", bomb), max_pixels=40_000_000)
    assert error.status == 413 and "8000x8000" in error.message


def test_pillows_own_bomb_error_is_a_413_too() -> None:
    # Over twice Pillow's MAX_IMAGE_PIXELS: Image.open itself refuses it.
    assert refused(Upload("file", "b.png", png_claiming(20_000, 20_000)), 10**12).status == 413


def test_the_pixel_limit_is_configurable(image_bytes: Callable[..., bytes]) -> None:
    data = image_bytes("PNG", size=(48, 40))
    assert refused(Upload("file", "a.png", data), max_pixels=48 * 40 - 1).status == 413
    assert decode_upload(Upload("file", "a.png", data), max_pixels=48 * 40).size == (48, 40)


@pytest.mark.parametrize("fmt", FORMATS)
def test_damaged_files_are_400(fmt: str, image_bytes: Callable[..., bytes]) -> None:
    data = image_bytes(fmt, size=(64, 64))
    assert refused(Upload("file", "cut.img", data[: len(data) // 2])).status == 400


def test_empty_and_magic_only_files_are_400() -> None:
    assert refused(Upload("file", "empty.png", b"")).status == 400
    assert refused(Upload("file", "magic.png", b"\x89PNG\r\n\x1a\n")).status == 400


def test_a_header_that_lies_about_its_data_is_400() -> None:
    assert refused(Upload("file", "liar.png", png_claiming(64, 64))).status == 400


def test_api_key_comparison() -> None:
    assert api_key_matches("s3cret", "s3cret")
    assert not api_key_matches("s3cre", "s3cret")
    assert not api_key_matches(None, "s3cret")
    assert not api_key_matches("", "s3cret")
