"""The C2PA fast path (`c2pa_precheck`): files that cannot hold a manifest skip c2pa-python's
parser, and every file reads the same with the fast path as with the parser forced."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import provenancefiles as made
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fakescope.provenance import c2pa_reader, read_provenance_bytes
from fakescope.provenance.c2pa_precheck import may_hold_manifest

c2pa = pytest.importorskip("c2pa")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow on corrupt EXIF
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
REMOTE_URL = "http://127.0.0.1:9/m.c2pa"
REMOTE_XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
              b'02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dcterms="http://purl.'
              b'org/dc/terms/" dcterms:provenance="https://example.invalid/m.c2pa"/></rdf:RDF>'
              b"</x:xmpmeta>")


def both(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """`read_provenance_bytes(data)` with the fast path, and with the parser forced."""
    fast = read_provenance_bytes(data).to_dict()
    original = c2pa_reader.may_hold_manifest
    c2pa_reader.may_hold_manifest = lambda _data: True  # type: ignore[assignment]
    try:
        forced = read_provenance_bytes(data).to_dict()
    finally:
        c2pa_reader.may_hold_manifest = original
    return fast, forced


def pillow(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (90, 30, 200)).save(buffer, format=fmt)
    return buffer.getvalue()


def corpus() -> dict[str, bytes]:
    """The files the provenance and hostile-input tests build, and variants of them."""
    from hostilefiles import damaged_images, jpeg_many_comments, png_many_text_chunks

    files = {f"plain.{fmt.lower()}": made.encode(fmt) for fmt in ("JPEG", "PNG", "WEBP")}
    files |= {f"pillow.{fmt.lower()}": pillow(fmt) for fmt in ("TIFF", "GIF", "BMP")}
    for fmt in ("JPEG", "PNG", "WEBP"):
        signed = made.sign(made.encode(fmt), fmt)
        files |= {f"signed.{fmt}": signed, f"stripped.{fmt}": made.stripped(signed)}
        if fmt != "WEBP":
            files[f"tampered.{fmt}"] = made.tamper(signed, fmt)
    for fmt in ("JPEG", "PNG"):
        files[f"remote.{fmt}"] = made.sign(made.encode(fmt), fmt, remote_url=REMOTE_URL)
    files["xmp_provenance.jpg"] = made.encode("JPEG", xmp=REMOTE_XMP)
    files["xmp_provenance.png"] = made.png_with_text({"XML:com.adobe.xmp": REMOTE_XMP.decode()})
    files["xmp.jpg"] = made.encode("JPEG", xmp=made.xmp_packet())
    files["exif.jpg"] = made.jpeg_with_exif(comment=b"hello")
    files["text.png"] = made.png_with_text({"parameters": "Steps: 20", "XML:com.adobe.xmp":
                                            made.xmp_packet().decode()}, compressed=True)
    files["webp_xmp_exif.webp"] = made.encode("WEBP", xmp=made.xmp_packet(),
                                              exif=made.jpeg_with_exif()[6:200])
    files["lying_length.png"] = made.png_with_raw_chunks(
        made.png_chunk(b"tEXt", b"parameters\x00steps", length=2**31 - 1))
    files["lying_comment.jpg"] = b"\xff\xd8\xff\xfe\xff\xf0short comment"
    files["no_segments.jpg"] = b"\xff\xd8\xff\xd9"
    files["empty_cabx.png"] = made.png_with_raw_chunks(made.png_chunk(b"caBX", b"\x00" * 32))
    files["many_comments_100.jpg"] = jpeg_many_comments(100)
    files["many_comments_2000.jpg"] = jpeg_many_comments(2000)  # past the walk's cap
    files["many_chunks_100.png"] = png_many_text_chunks(100)
    files["many_chunks_2000.png"] = png_many_text_chunks(2000)
    damaged = bytearray(files["signed.JPEG"])
    damaged[damaged.index(b"jumb") + 40 :][:160] = b"\x00" * 160
    files["damaged_manifest.jpg"] = bytes(damaged)
    files |= damaged_images()
    jpeg = files["plain.jpeg"]
    scan = jpeg.index(b"\xff\xda")
    scan_end = scan + 2 + int.from_bytes(jpeg[scan + 2 : scan + 4], "big")
    files |= {f"cut at scan header {delta:+d}.jpg": jpeg[: scan_end + delta]
              for delta in (-1, 0, 1)}
    for name, data in list(files.items()):
        if name.startswith(("plain", "exif", "text")):
            files[f"{name} cut"] = data[: len(data) * 2 // 3]
            files[f"{name} headers only"] = data[:40]
    return files


CORPUS = corpus()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corpus_file_reads_the_same_with_the_fast_path(name: str) -> None:
    fast, forced = both(CORPUS[name])
    assert fast == forced


def test_the_corpus_exercises_both_paths_and_every_outcome() -> None:
    """A corpus of only "maybe" files would test nothing; of only plain ones, too little."""
    skipped = [name for name, data in CORPUS.items() if not may_hold_manifest(data)]
    assert {"plain.jpeg", "plain.png", "exif.jpg", "many_comments_100.jpg"} <= set(skipped)
    states = {(read_provenance_bytes(data).c2pa or c2pa_reader.C2paSummary("none", "")).state
              for data in CORPUS.values()}
    assert {"none", "valid-untrusted", "invalid", "remote", "error"} <= states
    assert read_provenance_bytes(CORPUS["xmp_provenance.jpg"]).c2pa.state == "remote"  # type: ignore[union-attr]


@pytest.fixture
def parser_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real: Callable[..., Any] = c2pa.Reader.try_create

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1].getvalue())
        return real(*args, **kwargs)

    monkeypatch.setattr(c2pa.Reader, "try_create", spy)
    return calls


def test_the_parser_is_not_called_for_plain_files(parser_calls: list[bytes]) -> None:
    for name in ("plain.jpeg", "plain.png", "exif.jpg", "text.png"):
        result = read_provenance_bytes(CORPUS[name])
        assert result.c2pa is None
    assert parser_calls == []
    assert read_provenance_bytes(CORPUS["signed.JPEG"]).c2pa is not None
    assert parser_calls == [CORPUS["signed.JPEG"]]


SEEDS = [CORPUS[name] for name in ("plain.jpeg", "plain.png", "exif.jpg", "text.png",
                                   "webp_xmp_exif.webp", "many_comments_100.jpg")]


@FUZZ
@given(which=st.integers(0, len(SEEDS) - 1), edits=st.lists(
    st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8),
    cut=st.integers(min_value=0, max_value=400), keep=st.none() | st.integers(1, 1000))
def test_damaged_plain_files_read_the_same_with_the_fast_path(
    which: int, edits: list[tuple[int, int]], cut: int, keep: int | None
) -> None:
    """Flipped bytes, and the file cut short: near its end, or inside its headers (`keep`)."""
    data = bytearray(SEEDS[which])
    for position, value in edits:
        data[position % len(data)] = value
    fast, forced = both(bytes(data[: keep or max(1, len(data) - cut)]))
    assert fast == forced


@FUZZ
@given(data=st.binary(max_size=512), magic=st.sampled_from(
    [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
     b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"]))
def test_random_bytes_behind_a_signature_read_the_same(data: bytes, magic: bytes) -> None:
    fast, forced = both(magic + data)
    assert fast == forced


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_many_damaged_plain_files_the_fast_path_skips_read_as_no_manifest(seed: int) -> None:
    """25,000 seeded damages a seed (byte changes, cuts, many of them near a segment or chunk
    boundary, trailing junk): every file the pre-check skips gets (None, []) from the parser."""
    import random

    from hostilefiles import jpeg_many_comments, png_many_text_chunks

    seeds = [*SEEDS[:4], made.encode("JPEG", quality=50, progressive=True),
             made.encode("PNG", image=made.picture((300, 300))), jpeg_many_comments(20),
             png_many_text_chunks(20)]
    rng = random.Random(seed)
    skipped, differing = 0, []
    for _ in range(25_000):
        data = bytearray(rng.choice(seeds))
        head = min(len(data), 700)
        for _ in range(rng.randint(0, 4)):
            where = rng.randrange(head) if rng.random() < 0.8 else rng.randrange(len(data))
            data[where] = rng.choice([0, 0xFF, 0xD9, 0xDA, rng.randrange(256)])
        if rng.random() < 0.5:
            data = data[: rng.randrange(1, len(data) + 1)]
        elif rng.random() < 0.5:
            marks = [i for i in range(min(len(data), 2000))
                     if data[i] == 0xFF or data[i : i + 4].isalpha()]
            if marks:
                data = data[: max(1, rng.choice(marks) + rng.randint(-3, 6))]
        if rng.random() < 0.1:
            data += bytes(rng.randrange(256) for _ in range(rng.randrange(20)))
        if may_hold_manifest(bytes(data)):
            continue
        skipped += 1
        original = c2pa_reader.may_hold_manifest
        c2pa_reader.may_hold_manifest = lambda _data: True  # type: ignore[assignment]
        try:
            if c2pa_reader.read_c2pa(bytes(data)) != (None, []):
                differing.append(bytes(data[:64]))
        finally:
            c2pa_reader.may_hold_manifest = original
    assert skipped > 5_000  # the fast path was taken often enough to mean something
    assert differing == []
