"""Bounded load test of `fakescope serve` on loopback: p50/p95/p99 latency, requests per second,
errors.

Starts `fakescope serve` in a subprocess on 127.0.0.1 (a random-weight checkpoint of --model
unless --checkpoint is given; weights do not change the cost of a forward pass), keeps
--concurrency requests in flight with an async httpx client for --duration seconds (or
--max-requests), then stops the server. Pass --url to load a server that is already running.

    python benchmarks/serve_load.py --model dcgan_disc64 --concurrency 8 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np

from fakescope.data.synth import draw_face
from fakescope.models.registry import build_detector, load_detector, save_detector

WARMUP_REQUESTS = 10


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
    # CPU time per request, which the other loads on a shared machine do not inflate:
    server_cpu_ms: float | None  # None when the server is not a local process
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


async def run_load(url: str, images: list[bytes], concurrency: int, duration_s: float,
                   max_requests: int | None = None, server_pid: int | None = None) -> LoadResult:
    """Keep `concurrency` POST /api/predict requests in flight until time or count runs out."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:

        async def post(index: int) -> int:
            files = {"file": (f"face{index}.jpg", images[index % len(images)], "image/jpeg")}
            return (await client.post("/api/predict", files=files)).status_code

        await asyncio.gather(*(post(i) for i in range(WARMUP_REQUESTS)))
        server_cpu_before = process_cpu_seconds(server_pid) if server_pid else None
        client_cpu_before = time.process_time()
        started = time.perf_counter()
        deadline = started + duration_s
        issued = 0

        async def worker() -> None:
            nonlocal issued
            def more() -> bool:
                return time.perf_counter() < deadline and (max_requests is None
                                                           or issued < max_requests)

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


def random_checkpoint(model: str, folder: Path, onnx: bool) -> Path:
    """A random-weight checkpoint of `model`, with its ONNX export beside it when `onnx`."""
    detector = build_detector(model)
    path = folder / f"{model}.pt"
    save_detector(path, detector, model, {}, detector.input_spec)
    if onnx:
        from fakescope.export.artifacts import default_onnx_path
        from fakescope.export.onnx_export import export_onnx

        export_onnx(load_detector(path), default_onnx_path(path))
    return path


@contextmanager
def local_server(checkpoint: Path, serve_args: list[str]) -> Iterator[tuple[str, int]]:
    """`fakescope serve` on a free loopback port for the length of the block: (URL, pid)."""
    port = free_port()
    command = [sys.executable, "-c", "import sys; from fakescope.cli import main; "
               "sys.exit(main(sys.argv[1:]))", "serve", "--checkpoint", str(checkpoint),
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *serve_args]
    server = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"fakescope serve exited with code {server.returncode}")
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("fakescope serve did not answer within 120 s")
            time.sleep(0.2)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="load this running server instead of starting one")
    parser.add_argument("--checkpoint", help="detector checkpoint to serve")
    parser.add_argument("--model", default="dcgan_disc64",
                        help="registered detector served with random weights when no checkpoint")
    parser.add_argument("--onnx", action="store_true",
                        help="export the random-weight model to ONNX beside its checkpoint, so "
                        "the server runs it with onnxruntime")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of measured load")
    parser.add_argument("--max-requests", type=int, help="stop after this many requests")
    parser.add_argument("--image-size", type=int, default=256, help="side of the uploaded JPEGs")
    parser.add_argument("--images", type=int, default=16, help="distinct images to cycle through")
    parser.add_argument("--json", help="also write the result to this JSON file")
    parser.add_argument("serve_args", nargs=argparse.REMAINDER,
                        help="after --, flags for fakescope serve (e.g. -- --threads 2)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    images = face_jpegs(args.images, args.image_size)
    serve_args = [a for a in args.serve_args if a != "--"]

    def measure(url: str, pid: int | None = None) -> LoadResult:
        return asyncio.run(run_load(url, images, args.concurrency, args.duration,
                                    args.max_requests, pid))

    if args.url:
        result = measure(args.url)
        model = args.url
    else:
        with tempfile.TemporaryDirectory() as folder:
            checkpoint = Path(args.checkpoint) if args.checkpoint else random_checkpoint(
                args.model, Path(folder), args.onnx)
            with local_server(checkpoint, serve_args) as (url, pid):
                (info,) = httpx.get(f"{url}/api/models").json()["models"]
                model = f"{info['name']} ({info['backend']})"
                result = measure(url, pid)
    report = {"model": model, "image_size": args.image_size, "serve_args": serve_args,
              **asdict(result)}
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
