"""The reliability probe's F6: a PNG of 200,000 text chunks held a request for 13-17 s and four
of them made an ordinary prediction wait 34 s. Such files now get a one-line 413 at once, and
the server's other requests keep their latency."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient
from hostilefiles import png_many_text_chunks

HOSTILE_AT_ONCE = 4


def test_the_chunk_bomb_gets_a_one_line_413(client: TestClient) -> None:
    response = client.post(
        "/api/predict", files={"file": ("bomb.png", png_many_text_chunks(), "image/png")}
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error.startswith("bomb.png: more than 1,024 PNG metadata chunks") and "\n" not in error


def test_batch_refuses_the_bomb_alone(client: TestClient, image_bytes: Callable[..., bytes]
                                      ) -> None:
    files = [("files", ("bomb.png", png_many_text_chunks(), "image/png")),
             ("files", ("ok.png", image_bytes(), "image/png"))]
    results = client.post("/api/predict/batch", files=files).json()["results"]
    assert results[0]["status"] == 413 and results[1]["prediction"] is not None


def test_normal_requests_keep_their_latency_beside_bombs(
    live_server: str, image_bytes: Callable[..., bytes]
) -> None:
    bomb = png_many_text_chunks()
    normal = image_bytes("JPEG", size=(96, 96))

    def post(name: str, data: bytes) -> tuple[int, float]:
        started = time.perf_counter()
        response = httpx.post(f"{live_server}/api/predict", timeout=60,
                              files={"file": (name, data, "application/octet-stream")})
        return response.status_code, time.perf_counter() - started

    post("warm.jpg", normal)
    with ThreadPoolExecutor(HOSTILE_AT_ONCE + 1) as pool:
        bombs = [pool.submit(post, "bomb.png", bomb) for _ in range(HOSTILE_AT_ONCE)]
        ordinary = pool.submit(post, "face.jpg", normal)
        answers = [b.result() for b in bombs]
        status, latency = ordinary.result()
    assert status == 200
    assert all(code == 413 for code, _ in answers), answers
    # Before: 13-17 s per bomb, 34 s for the ordinary request. The bound leaves room for a
    # busy shared test machine (uploading 5 MB four times over loopback included).
    assert latency < 5.0 and max(seconds for _, seconds in answers) < 5.0, (latency, answers)
