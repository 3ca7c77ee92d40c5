"""Every kind of file a scraped face folder holds: decoded to RGB, or refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from imagefiles import make_image
from PIL import Image

from fakescope.data.images import BadImageError, decode_image, load_image


@pytest.mark.parametrize(
    ("mode", "fmt", "suffix"),
    [
        ("L", None, ".png"),
        ("P", None, ".png"),
        ("RGBA", None, ".png"),
        ("LA", None, ".png"),
        ("I;16", None, ".png"),
        ("CMYK", "JPEG", ".jpg"),
        ("RGB", None, ".webp"),
        ("1", None, ".bmp"),
    ],
)
def test_every_mode_becomes_rgb(tmp_path: Path, mode: str, fmt: str | None, suffix: str) -> None:
    path = make_image(tmp_path / f"x{suffix}", (20, 10), mode=mode, fmt=fmt)
    img = load_image(path)
    assert img.mode == "RGB" and img.size == (20, 10)


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(tmp_path / "t.png")
    assert load_image(tmp_path / "t.png").getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_keeps_its_range(tmp_path: Path) -> None:
    array = np.full((4, 4), 65535, dtype=np.uint16)
    Image.fromarray(array).save(tmp_path / "w.png")
    assert load_image(tmp_path / "w.png").getpixel((0, 0)) == (255, 255, 255)


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (30, 10), (0, 128, 0))
    exif = img.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").size == (10, 30)


def test_bad_files_raise_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello, not a picture")
    good = make_image(tmp_path / "good.jpg", (64, 64))
    (tmp_path / "cut.jpg").write_bytes(good.read_bytes()[:300])
    for name, reason in (
        ("empty.jpg", "empty file"),
        ("text.jpg", "not an image"),
        ("cut.jpg", "cut.jpg: "),
        ("missing.jpg", "file not found"),
    ):
        with pytest.raises(BadImageError, match=reason) as info:
            load_image(tmp_path / name)
        assert "\n" not in str(info.value)


def test_decompression_bomb_is_refused() -> None:
    # A tiny PNG header claiming 100k x 100k pixels.
    import io
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    with pytest.raises(BadImageError, match="pixels"):
        decode_image(io.BytesIO(png).getvalue())
