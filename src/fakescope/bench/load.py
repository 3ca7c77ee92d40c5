"""HTTP load on a detector server over loopback, and servers started for the length of a block.

`run_load` keeps a fixed number of `POST /api/predict` uploads in flight with an async httpx
client for a time (or a request count) and reports requests per second, latency percentiles,
errors and, for a local server, its CPU time per request read from /proc: other jobs on a
shared machine stretch latency but not the CPU time the server spends.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from fakescope.data.synth import draw_face

STARTUP_TIMEOUT_S = 120.0


@dataclass
class LoadResult:
    concurrency: int
    duration_s: float
    requests: int
    errors: int
    statuses: dict[str, int]
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    server_cpu_ms: float | None  # per request; None when the server is not a local process
    client_cpu_ms: float


def face_jpegs(count: int, size: int) -> list[bytes]:
    """Distinct synthetic face photos, JPEG-encoded as a browser would upload them."""
    images = []
    for seed in range(count):
        buffer = io.BytesIO()
        draw_face(np.random.default_rng(seed), size).save(buffer, format="JPEG", quality=90)
        images.append(buffer.getvalue())
    return images


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process from /proc (Linux); None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return float(np.percentile(np.asarray(sorted_values), q))


async def run_load(
    url: str, images: list[bytes], concurrency: int, duration_s: float,
    max_requests: int | None = None, server_pid: int | None = None, warmup_requests: int = 10,
) -> LoadResult:  # fmt: skip
    """Keep `concurrency` POST /api/predict requests in flight until time or count runs out."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:

        async def post(index: int) -> int:
            files = {"file": (f"face{index}.jpg", images[index % len(images)], "image/jpeg")}
            return (await client.post("/api/predict", files=files)).status_code

        await asyncio.gather(*(post(i) for i in range(warmup_requests)))
        server_cpu_before = process_cpu_seconds(server_pid) if server_pid else None
        client_cpu_before = time.process_time()
        started = time.perf_counter()
        deadline = started + duration_s
        issued = 0

        def more() -> bool:
            return time.perf_counter() < deadline and (max_requests is None
                                                       or issued < max_requests)

        async def worker() -> None:
            nonlocal issued
            while more():
                issued += 1
                sent = time.perf_counter()
                try:
                    status = str(await post(issued))
                except httpx.HTTPError as err:
                    status = type(err).__name__
                statuses[status] += 1
                latencies.append((time.perf_counter() - sent) * 1000.0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - client_cpu_before
        server_cpu_after = process_cpu_seconds(server_pid) if server_pid else None
    ordered = sorted(latencies)
    count = max(1, len(latencies))
    server_cpu = None
    if server_cpu_before is not None and server_cpu_after is not None:
        server_cpu = round((server_cpu_after - server_cpu_before) * 1000.0 / count, 2)
    return LoadResult(
        concurrency=concurrency,
        duration_s=round(elapsed, 2),
        requests=len(latencies),
        errors=sum(n for status, n in statuses.items() if status != "200"),
        statuses=dict(statuses),
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(percentile(ordered, 50), 1),
        p95_ms=round(percentile(ordered, 95), 1),
        p99_ms=round(percentile(ordered, 99), 1),
        mean_ms=round(statistics.fmean(ordered), 1) if ordered else float("nan"),
        server_cpu_ms=server_cpu,
        client_cpu_ms=round(client_cpu * 1000.0 / count, 2),
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def python_command(*args: str) -> list[str]:
    """This interpreter running `fakescope` with `args` (works from a checkout, uninstalled)."""
    return [sys.executable, "-c", "import sys; from fakescope.cli import main; "
            "sys.exit(main(sys.argv[1:]))", *args]  # fmt: skip


def fakescope_serve_command(
    checkpoint: Path, port: int, serve_args: Sequence[str] = ()
) -> list[str]:
    return python_command(
        "serve", "--checkpoint", str(checkpoint), "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", *serve_args,
    )  # fmt: skip


def _wait_until_healthy(server: subprocess.Popen, url: str, deadline: float) -> None:
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with code {server.returncode}")
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server on {url} did not answer within "
                               f"{STARTUP_TIMEOUT_S:.0f} s")
        time.sleep(0.2)


@contextmanager
def local_servers(commands: Sequence[tuple[list[str], int]]) -> Iterator[list[tuple[str, int]]]:
    """Run each (command, port), a server listening on 127.0.0.1:port, for the length of the
    block: [(URL, pid)] once every one answers GET /api/health. They start side by side (each
    spends seconds importing) and are stopped on leaving."""
    servers: list[subprocess.Popen] = []
    try:
        for command, _ in commands:  # stdout holds a banner only; errors go to stderr
            servers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        urls = [f"http://127.0.0.1:{port}" for _, port in commands]
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        for server, url in zip(servers, urls, strict=True):
            _wait_until_healthy(server, url, deadline)
        yield [(url, server.pid) for url, server in zip(urls, servers, strict=True)]
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@contextmanager
def local_server(command: list[str], port: int) -> Iterator[tuple[str, int]]:
    """One server as `local_servers` runs them: (URL, pid)."""
    with local_servers([(command, port)]) as ((url, pid),):
        yield url, pid
