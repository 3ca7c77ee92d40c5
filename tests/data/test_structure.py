"""Files whose framing alone would cost a decoder seconds are refused in one line, in
milliseconds, before Pillow walks them; real pictures of any size still decode."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from hostilefiles import SLOW_FRAMING
from PIL import Image

from fakescope.data.images import DecodeBudgetError, decode_image, load_image
from fakescope.data.structure import MAX_METADATA_PIECES, structure_problem


@pytest.fixture(scope="module")
def slow_files() -> dict[str, bytes]:
    return {name: build() for name, build in SLOW_FRAMING.items()}


@pytest.mark.parametrize("kind", sorted(SLOW_FRAMING))
def test_slow_framing_is_refused_fast(slow_files: dict[str, bytes], kind: str) -> None:
    started = time.process_time()
    with pytest.raises(DecodeBudgetError, match="refused to bound decoding time") as info:
        decode_image(slow_files[kind])
    assert time.process_time() - started < 0.5  # Pillow spent 0.6-3 CPU-s on each
    assert "\n" not in str(info.value)


def test_a_file_on_disk_names_itself(tmp_path: Path, slow_files: dict[str, bytes]) -> None:
    path = tmp_path / "chunks.png"
    path.write_bytes(slow_files["png_text_chunks"])
    with pytest.raises(DecodeBudgetError, match=r"chunks\.png: more than 1,024 PNG metadata"):
        load_image(path)


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("PNG", {}), ("JPEG", {"progressive": True}), ("JPEG", {"quality": 95}), ("GIF", {}),
     ("WEBP", {}), ("TIFF", {})],
)
def test_large_real_pictures_pass(fmt: str, options: dict[str, object]) -> None:
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8), "RGB")
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    assert structure_problem(buffer.getvalue()) is None
    assert decode_image(buffer.getvalue()).size == (1600, 1200)


def test_a_few_hundred_text_chunks_pass() -> None:
    from hostilefiles import png_many_text_chunks

    assert structure_problem(png_many_text_chunks(MAX_METADATA_PIECES - 10)) is None
    assert structure_problem(png_many_text_chunks(MAX_METADATA_PIECES + 10)) is not None
