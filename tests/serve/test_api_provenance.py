"""Provenance beside the detector's result in the API: C2PA states, generator metadata,
hostile metadata bounded (and fuzzed), a time limit per upload, and turned off."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from provenancefiles import encode, jpeg_with_exif, png_with_text, sign, tamper, xmp_packet

from fakescope.models.registry import LoadedDetector
from fakescope.serve import provenance as serve_provenance
from fakescope.serve.app import create_app
from fakescope.serve.settings import ServeSettings

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
BOMB = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;'
        b'&a;&a;&a;&a;&a;&a;">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>')


def post(client: TestClient, data: bytes, name: str = "picture.jpg") -> httpx.Response:
    return client.post("/api/predict", files={"file": (name, data, "application/octet-stream")})


@pytest.fixture(scope="module")
def signed() -> bytes:
    pytest.importorskip("c2pa")
    return sign(encode("JPEG"), "JPEG")


def test_signed_upload_gets_provenance_beside_the_detector(
    client: TestClient, signed: bytes
) -> None:
    response = post(client, signed)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] in ("real", "fake") and 0.0 <= body["probability_fake"] <= 1.0
    provenance = body["provenance"]
    assert provenance["verdict"] == "declared-generated"
    assert provenance["basis"] == "C2PA manifest, signature valid, signer not on a trust list"
    assert provenance["c2pa"]["state"] == "valid-untrusted"
    assert provenance["c2pa"]["signer"] == "fakescope test signer (fakescope tests)"
    assert "claim, not proof" in provenance["summary"]
    assert provenance["error"] is None


def test_tampered_and_plain_uploads(client: TestClient, signed: bytes) -> None:
    tampered = post(client, tamper(signed, "JPEG")).json()["provenance"]
    assert tampered["c2pa"]["state"] == "invalid"
    assert "assertion.dataHash.mismatch" in tampered["c2pa"]["failures"]
    assert post(client, encode("PNG"), "plain.png").json()["provenance"]["verdict"] == (
        "no-provenance")
    camera = post(client, jpeg_with_exif()).json()["provenance"]
    assert camera["verdict"] == "camera-metadata" and camera["c2pa"] is None


def test_batch_items_carry_their_own_provenance(client: TestClient) -> None:
    files = [
        ("files", ("a.png", png_with_text({"parameters": "Steps: 20, Sampler: Euler"}), "x/y")),
        ("files", ("notes.txt", b"not a picture", "text/plain")),
        ("files", ("c.jpg", encode("JPEG", xmp=xmp_packet("digitalCapture")), "x/y")),
    ]
    results = client.post("/api/predict/batch", files=files).json()["results"]
    assert results[0]["provenance"]["verdict"] == "declared-generated"
    assert results[1]["provenance"] is None and results[1]["status"] == 415
    assert results[2]["provenance"]["verdict"] == "camera-metadata"


def test_hostile_metadata_is_bounded_and_reported(client: TestClient) -> None:
    huge = png_with_text({"parameters": "x" * (6 * 1024 * 1024)})
    started = time.perf_counter()
    body = post(client, huge, "huge.png").json()
    assert time.perf_counter() - started < 5.0
    signals = {(e["field"], e["signal"]) for e in body["provenance"]["evidence"]}
    assert ("parameters", "limit") in signals
    bomb = post(client, encode("JPEG", xmp=BOMB)).json()["provenance"]
    assert [e["signal"] for e in bomb["evidence"]] == ["error"]
    assert bomb["verdict"] == "no-provenance"


@pytest.fixture
def slow_reader(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = serve_provenance.read_provenance_bytes

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(serve_provenance, "read_provenance_bytes", slow)
    yield


def test_a_slow_read_never_holds_the_request(
    make_client: Callable[..., TestClient], slow_reader: None
) -> None:
    client = make_client(provenance_timeout_s=0.2)
    started = time.perf_counter()
    body = post(client, encode("PNG"), "slow.png").json()
    assert time.perf_counter() - started < 1.2
    assert body["label"] in ("real", "fake")
    assert body["provenance"]["verdict"] is None
    assert body["provenance"]["error"] == "provenance not read: it took over 0.2 s"


def test_provenance_can_be_turned_off(make_client: Callable[..., TestClient]) -> None:
    body = post(make_client(provenance=False), encode("PNG"), "a.png").json()
    assert body["provenance"] is None


@pytest.fixture(scope="module")
def fuzz_client(loaded: LoadedDetector) -> Iterator[TestClient]:
    app = create_app(loaded, ServeSettings(max_upload_bytes=64 * 1024, max_pixels=1_000_000))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def seeds(signed: bytes) -> list[bytes]:
    return [
        signed,
        sign(encode("PNG"), "PNG"),
        png_with_text({"parameters": "Steps: 20", "XML:com.adobe.xmp": xmp_packet().decode()},
                      compressed=True),
        jpeg_with_exif(comment=b"a comment"),
        encode("WEBP", xmp=xmp_packet()),
    ]


@FUZZ
@given(which=st.integers(0, 4), edits=st.lists(
    st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=12),
    cut=st.integers(min_value=0, max_value=128))
def test_damaged_metadata_never_fails_the_server(
    fuzz_client: TestClient, seeds: list[bytes], which: int, edits: list[tuple[int, int]],
    cut: int,
) -> None:  # fmt: skip
    data = bytearray(seeds[which])
    for position, value in edits:
        data[position % len(data)] = value
    response = post(fuzz_client, bytes(data[: max(1, len(data) - cut)]))
    assert response.status_code in (200, 400, 413, 415), response.text
    if response.status_code == 200:
        assert response.json()["provenance"]["verdict"] in (
            "declared-generated", "declared-edited", "camera-metadata", "no-provenance")
