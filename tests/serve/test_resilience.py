"""A live `fakescope serve` on loopback withstands clients that stall or crowd it: half-sent
headers and idle connections are dropped and never count against the concurrency limit, stalled
uploads get 408, and a bounded load of 2,000 requests gets no 5xx, `/api/health` answering
throughout."""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from serve.conftest import serve_process

HEADER_TIMEOUT_S, UPLOAD_TIMEOUT_S, LIMIT = 2.0, 2.0, 8


@pytest.fixture(scope="module")
def guarded_server(
    tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("resilience") / "server.log"
    flags = ("--header-timeout-s", str(HEADER_TIMEOUT_S), "--upload-timeout-s",
             str(UPLOAD_TIMEOUT_S), "--limit-concurrency", str(LIMIT), "--keep-alive-s", "1")
    with serve_process(tiny_checkpoint, log, *flags) as url:
        yield url


def connect(url: str, first_bytes: bytes = b"") -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def is_open(sock: socket.socket) -> bool:
    """Nothing to read yet: the server has neither answered nor closed the connection."""
    readable, _, _ = select.select([sock], [], [], 0)
    return not readable


def wait_for_answer(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    """What the server sends until it closes the connection, and how long that took. A reset
    is a close too: a server that closes with the client's unread bytes still queued (the
    trickled header bytes) makes the kernel send RST instead of FIN."""
    started = time.monotonic()
    sock.settimeout(limit_s)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open over {limit_s} s")
    finally:
        sock.close()
    return received, time.monotonic() - started


def well_formed_requests_succeed(url: str, image: bytes, n: int = 5) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(n):
            assert client.get("/api/health").status_code == 200
            files = {"file": ("a.png", image, "image/png")}
            assert client.post("/api/predict", files=files).status_code == 200


PARTIAL_HEADERS = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"


def test_connections_that_stall_in_their_headers_are_dropped(guarded_server: str) -> None:
    half_sent = connect(guarded_server, PARTIAL_HEADERS)
    silent = connect(guarded_server)
    trickle = connect(guarded_server, b"GET /api/health HTTP/1.1\r\n")
    started = time.monotonic()
    while is_open(trickle) and time.monotonic() - started < 3 * HEADER_TIMEOUT_S:
        trickle.sendall(b"X")  # bytes keep coming, but the headers never end
        time.sleep(0.2)
    for sock in (half_sent, silent, trickle):
        received, _ = wait_for_answer(sock, 3 * HEADER_TIMEOUT_S)
        assert received == b""
    assert time.monotonic() - started < 3 * HEADER_TIMEOUT_S


def test_stalled_uploads_get_408_while_others_are_served(
    guarded_server: str, image_bytes: Callable[..., bytes]
) -> None:
    head = (b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50000\r\n"
            b"Content-Type: multipart/form-data; boundary=XyZ\r\n\r\n--XyZ\r\n"
            b'Content-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n\x89PNG')
    stalled = [connect(guarded_server, head) for _ in range(LIMIT // 2)]
    well_formed_requests_succeed(guarded_server, image_bytes())
    for sock in stalled:
        received, _ = wait_for_answer(sock, UPLOAD_TIMEOUT_S + 2 * HEADER_TIMEOUT_S + 5)
        assert received.startswith(b"HTTP/1.1 408"), received[:80]


def test_more_idle_connections_than_the_limit_block_no_one(
    guarded_server: str, image_bytes: Callable[..., bytes]
) -> None:
    crowd = [connect(guarded_server, PARTIAL_HEADERS if i % 2 else b"") for i in range(3 * LIMIT)]
    well_formed_requests_succeed(guarded_server, image_bytes())
    assert all(is_open(sock) for sock in crowd)  # they were all there during the requests
    for sock in crowd:
        assert wait_for_answer(sock, 3 * HEADER_TIMEOUT_S)[0] == b""


async def _load(url: str, image: bytes, total: int, in_flight: int) -> Counter[str]:
    """`total` requests (health, models and predictions), `in_flight` at a time."""
    statuses: Counter[str] = Counter()
    queue = iter(range(total))
    limits = httpx.Limits(max_connections=in_flight)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def worker() -> None:
            for i in queue:
                kind = "health " if i % 4 == 0 else ""
                if kind:
                    response = await client.get("/api/health")
                elif i % 8 == 1:
                    response = await client.get("/api/models")
                else:
                    files = {"file": ("a.png", image, "image/png")}
                    response = await client.post("/api/predict", files=files)
                statuses[f"{kind}{response.status_code}"] += 1

        await asyncio.gather(*(worker() for _ in range(in_flight)))
    return statuses


def test_a_bounded_loopback_load_gets_no_server_errors(
    guarded_server: str, image_bytes: Callable[..., bytes]
) -> None:
    stallers = [connect(guarded_server, PARTIAL_HEADERS) for _ in range(2 * LIMIT)]
    started = time.monotonic()
    statuses = asyncio.run(_load(guarded_server, image_bytes(size=(64, 64)), 2000, LIMIT))
    seconds = time.monotonic() - started
    assert statuses == {"health 200": 500, "200": 1500}, statuses
    print(f"2,000 requests in {seconds:.1f} s ({2000 / seconds:.0f}/s), {LIMIT} in flight")
    for sock in stallers:
        sock.close()


def test_the_limit_counts_requests_in_progress_and_spares_health() -> None:
    from fakescope.serve.server import InFlightLimit

    release = asyncio.Event()

    async def slow_app(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["path"] == "/slow":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def call(app: InFlightLimit, path: str) -> tuple[int, dict[bytes, bytes]]:
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        await app({"type": "http", "path": path}, release.wait, send)
        return sent[0]["status"], dict(sent[0]["headers"])

    async def scenario() -> None:
        app = InFlightLimit(slow_app, limit=1)
        busy = asyncio.create_task(call(app, "/slow"))
        await asyncio.sleep(0.01)
        status, headers = await call(app, "/api/predict")
        assert status == 503 and headers[b"retry-after"] == b"1"
        assert (await call(app, "/api/health"))[0] == 200  # never refused
        release.set()
        assert (await busy)[0] == 200 and app.in_flight == 0
        assert (await call(app, "/api/predict"))[0] == 200

    asyncio.run(scenario())
