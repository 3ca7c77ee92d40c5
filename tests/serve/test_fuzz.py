"""Fuzzing the upload endpoints with hypothesis: whatever the bytes, the answer is a 200 or a
4xx with a one-line JSON error, never a 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakescope.models.registry import LoadedDetector
from fakescope.serve.app import create_app
from fakescope.serve.security import SIGNATURES
from fakescope.serve.settings import ServeSettings

# Pillow warns about the oddities it meets in hostile files; they are the point here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
MAGICS = [b"RIFF\0\0\0\0WEBP" if name == "WEBP" else magic for _, magic, name in SIGNATURES]


@pytest.fixture(scope="module")
def fuzz_client(loaded: LoadedDetector) -> Iterator[TestClient]:
    app = create_app(loaded, ServeSettings(max_upload_bytes=64 * 1024, max_pixels=1_000_000))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def seeds(image_bytes: Callable[..., bytes]) -> list[bytes]:
    return [image_bytes(fmt, size=(24, 20), seed=1) for fmt in FORMATS]


def check(response: httpx.Response, allowed: set[int]) -> None:
    assert response.status_code in allowed, (response.status_code, response.text)
    body = response.json()
    if response.status_code != 200:
        assert body["error"] and "\n" not in body["error"]


def upload(client: TestClient, data: bytes, name: str = "fuzz.bin") -> httpx.Response:
    return client.post("/api/predict", files={"file": (name, data, "application/octet-stream")})


@FUZZ
@given(data=st.binary(max_size=4096))
def test_any_bytes(fuzz_client: TestClient, data: bytes) -> None:
    check(upload(fuzz_client, data), {200, 400, 413, 415})


@FUZZ
@given(magic=st.sampled_from(MAGICS), tail=st.binary(max_size=2048))
def test_bytes_behind_a_real_signature(fuzz_client: TestClient, magic: bytes, tail: bytes) -> None:
    check(upload(fuzz_client, magic + tail), {200, 400, 413})


@FUZZ
@given(which=st.integers(0, len(FORMATS) - 1), edits=st.lists(
    st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=12),
    cut=st.integers(min_value=0, max_value=64))
def test_damaged_real_images(fuzz_client: TestClient, seeds: list[bytes], which: int,
                             edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seeds[which])
    for position, value in edits:
        data[position % len(data)] = value
    check(upload(fuzz_client, bytes(data[: len(data) - cut])), {200, 400, 413, 415})


@FUZZ
@given(boundary=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
                        max_size=70),
       body=st.binary(max_size=2048))
def test_raw_multipart_bodies(fuzz_client: TestClient, boundary: str, body: bytes) -> None:
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    response = fuzz_client.post("/api/predict/batch", content=body, headers=headers)
    check(response, {200, 400, 413, 415, 422})


@FUZZ
@given(name=st.text(max_size=300))
def test_any_file_name_comes_back_harmless(fuzz_client: TestClient, seeds: list[bytes],
                                           name: str) -> None:
    response = upload(fuzz_client, seeds[1], name=name)
    check(response, {200})
    echoed = response.json()["filename"]
    assert "/" not in echoed and "\\" not in echoed and echoed.isprintable()
    assert 0 < len(echoed) <= 255
