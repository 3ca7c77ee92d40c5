"""Hostile files: oversized and malformed metadata, zlib and XML bombs, lying lengths, damaged
manifests and random damage to signed files are bounded and reported, never raised, and fast."""

from __future__ import annotations

import time
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from provenancefiles import (
    encode,
    jpeg_with_exif,
    png_chunk,
    png_with_raw_chunks,
    png_with_text,
    sign,
    xmp_packet,
)

from fakescope.provenance import VERDICTS, ProvenanceLimits, read_provenance, read_provenance_bytes

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow on corrupt EXIF
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1 else b"&lol;" * 10)
               for i in range(1, 10))
    + b']><x:xmpmeta xmlns:x="adobe:ns:meta/">&lol9;</x:xmpmeta>'
)
EXTERNAL_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                   b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&e;</x:xmpmeta>')


def timed(data: bytes, **kwargs: object) -> tuple[object, float]:
    start = time.perf_counter()
    result = read_provenance_bytes(data, **kwargs)  # type: ignore[arg-type]
    return result, time.perf_counter() - start


def signals(result: object, c2pa: bool = False) -> dict[str, str]:
    """source:field -> signal; without the C2PA entries unless `c2pa` (on a damaged container
    c2pa reports that it could not parse the file)."""
    return {f"{e.source}:{e.field}": e.signal for e in result.evidence  # type: ignore[attr-defined]
            if c2pa or e.source != "c2pa"}


def test_a_huge_text_chunk_is_named_but_not_read() -> None:
    data = png_with_text({"parameters": "x" * (24 * 1024 * 1024)})
    result, seconds = timed(data)
    limit = [e for e in result.evidence if e.signal == "limit"]  # type: ignore[attr-defined]
    assert limit and "over the 256 KiB limit; not read" in limit[0].value
    assert result.verdict == "declared-generated"  # type: ignore[attr-defined]
    assert seconds < 2.0


def test_a_zlib_bomb_is_inflated_only_up_to_the_limit() -> None:
    bomb = zlib.compress(b"\x00" * (64 * 1024 * 1024), 9)  # 64 MiB in 64 KiB
    text = png_chunk(b"zTXt", b"Comment\x00\x00" + bomb)
    xmp = png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + bomb)
    result, seconds = timed(png_with_raw_chunks(text, xmp))
    values = [e.value for e in result.evidence if e.signal == "limit"]  # type: ignore[attr-defined]
    assert len(values) == 2 and all("compressed, over the" in v for v in values)
    assert seconds < 2.0


@pytest.mark.parametrize("packet", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_xml_bombs_and_external_entities_are_refused(packet: bytes) -> None:
    result, seconds = timed(encode("JPEG", xmp=packet))
    (entry,) = result.evidence  # type: ignore[attr-defined]
    assert entry.signal == "error" and entry.value.startswith("refused: DTDForbidden")
    assert "root:" not in entry.value
    assert seconds < 1.0


def test_oversized_and_deeply_nested_xmp() -> None:
    big = png_with_text({"XML:com.adobe.xmp": "<a>" + "b" * (2 * 1024 * 1024) + "</a>"})
    assert signals(read_provenance_bytes(big)) == {"png-text:XML:com.adobe.xmp": "limit"}
    deep = '<x:xmpmeta xmlns:x="adobe:ns:meta/">' + "<a>" * 100_000 + "</a>" * 100_000
    data = png_with_text({"XML:com.adobe.xmp": deep + "</x:xmpmeta>"}, compressed=True)
    result, seconds = timed(data)
    assert result.verdict == "no-provenance"  # type: ignore[attr-defined]
    assert seconds < 2.0
    broken = read_provenance_bytes(encode("JPEG", xmp=xmp_packet()[:-40]))
    assert signals(broken) == {"xmp:XMP": "error"}


def test_lying_lengths_stop_the_walk() -> None:
    png = png_with_raw_chunks(png_chunk(b"tEXt", b"parameters\x00steps", length=2**31 - 1))
    assert signals(read_provenance_bytes(png)) == {"png:tEXt": "limit"}
    jpeg = b"\xff\xd8\xff\xfe\xff\xf0short comment"
    assert signals(read_provenance_bytes(jpeg)) == {"jpeg:segment 0xFE": "limit"}
    webp = b"RIFF\x00\x00\x00\x00WEBPXMP \xff\xff\xff\x7f<x/>"
    assert signals(read_provenance_bytes(webp)) == {"webp:XMP": "limit"}


def test_many_chunks_and_many_entries_are_capped() -> None:
    chunks = [png_chunk(b"tEXt", b"k%d\x00v" % i) for i in range(200)]
    result = read_provenance_bytes(png_with_raw_chunks(*chunks),
                                   limits=ProvenanceLimits(max_segments=100, max_evidence=10))
    assert len(result.evidence) == 12
    assert result.evidence[0].value == "over 100 chunks; the rest not read"
    assert result.evidence[-1].value == "89 more entries not listed"


def test_garbage_exif_is_an_error_entry_at_most() -> None:
    app1 = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + b"\xab" * 64
    jpeg = b"\xff\xd8\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + b"\xff\xd9"
    result = read_provenance_bytes(jpeg)
    assert result.verdict in VERDICTS
    assert set(signals(result).values()) <= {"error"}


def test_a_damaged_manifest_is_an_error_entry() -> None:
    pytest.importorskip("c2pa")
    signed = bytearray(sign(encode("JPEG"), "JPEG"))
    start = signed.index(b"jumb")
    signed[start + 40 : start + 200] = b"\x00" * 160
    result = read_provenance_bytes(bytes(signed))
    assert result.c2pa is not None and result.c2pa.state in ("error", "invalid")
    assert result.verdict in VERDICTS


def test_files_over_the_byte_limit_are_read_from_their_start(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg_with_exif() + b"\x00" * 4096)
    result = read_provenance(path, ProvenanceLimits(max_file_bytes=4096))
    assert result.c2pa is None
    assert signals(result)["file:size"] == "limit"
    assert result.verdict == "camera-metadata"  # EXIF sits at the start
    missing = read_provenance(tmp_path / "nope.png")
    assert missing.verdict is None and missing.error and "file not found" in missing.error


@pytest.fixture(scope="module")
def seeds() -> list[bytes]:
    pytest.importorskip("c2pa")
    return [
        sign(encode("JPEG"), "JPEG"),
        sign(encode("PNG"), "PNG"),
        png_with_text({"parameters": "Steps: 20, Sampler: Euler", "XML:com.adobe.xmp":
                       xmp_packet().decode()}, compressed=True),
        jpeg_with_exif(comment=b"hello"),
        encode("WEBP", xmp=xmp_packet(), exif=jpeg_with_exif()[6:200]),
    ]


@FUZZ
@given(which=st.integers(0, 4), edits=st.lists(
    st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=16),
    cut=st.integers(min_value=0, max_value=256))
def test_damaged_files_never_raise(seeds: list[bytes], which: int,
                                   edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seeds[which])
    for position, value in edits:
        data[position % len(data)] = value
    result, seconds = timed(bytes(data[: max(1, len(data) - cut)]))
    assert result.verdict in VERDICTS  # type: ignore[attr-defined]
    assert seconds < 2.0


@FUZZ
@given(data=st.binary(max_size=2048), magic=st.sampled_from(
    [b"\x89PNG\r\n\x1a\n", b"\xff\xd8", b"RIFF\x00\x00\x00\x00WEBP", b"II*\x00", b"MM\x00*"]))
def test_random_bytes_behind_a_signature(data: bytes, magic: bytes) -> None:
    assert read_provenance_bytes(magic + data).verdict in VERDICTS
