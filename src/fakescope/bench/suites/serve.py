"""Serving: requests per second under concurrent uploads, a paper's plain demo server against
`fakescope serve`, both on loopback with the same detector checkpoint."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from fakescope.bench.context import BenchContext
from fakescope.bench.load import (
    LoadResult,
    fakescope_serve_command,
    free_port,
    local_servers,
    process_cpu_seconds,
    run_load,
)
from fakescope.bench.models import calibrated_detector, serving_checkpoint
from fakescope.bench.settings import BenchSettings
from fakescope.bench.table import Row, comparison_row
from fakescope.bench.timing import Side, alternate

CALIBRATION_FACES = 32
UPLOADS = 16  # distinct JPEGs the clients cycle through


def describe(s: BenchSettings) -> str:
    return (
        f"{s.serve_concurrency} uploads in flight (async httpx on the same machine) for "
        f"{s.serve_seconds:g} s per turn, `POST /api/predict` with the dataset's own JPEGs; one "
        "checkpoint (random weights, BatchNorm statistics re-estimated on the faces) for both. "
        "Baseline: a minimal FastAPI + uvicorn app that decodes with PIL, preprocesses with "
        "torchvision and runs the PyTorch model eagerly inside the handler, one image per "
        "forward pass (`fakescope.bench.plain_server`), with torch's default thread count, and "
        "again with one thread (\"vs plain server on 1 thread\"). fakescope: `fakescope serve` "
        "with the checkpoint's ONNX export beside it (micro-batching worker, onnxruntime). "
        "CPU ratio: server process CPU time per request."
    )


def plain_server_command(checkpoint: Path, port: int, threads: int | None) -> list[str]:
    command = [sys.executable, "-m", "fakescope.bench.plain_server", "--checkpoint",
               str(checkpoint), "--port", str(port)]  # fmt: skip
    return command + (["--threads", str(threads)] if threads else [])


def _server_clock(pid: int) -> Callable[[], float]:
    return lambda: process_cpu_seconds(pid) or 0.0  # 0: no /proc, so no CPU ratio


class _Server:
    """One server under load: its turns and warm-up as a `Side`, and every window's result."""

    def __init__(self, name: str, url: str, pid: int, uploads: list[bytes],
                 settings: BenchSettings) -> None:
        self.name, self.url, self.pid = name, url, pid
        self.uploads, self.settings = uploads, settings
        self.results: list[LoadResult] = []

    def window(self) -> int:
        s = self.settings
        result = asyncio.run(run_load(self.url, self.uploads, s.serve_concurrency,
                                      s.serve_seconds, server_pid=self.pid, warmup_requests=0))
        if result.errors:
            raise RuntimeError(f"the {self.name} failed {result.errors} of {result.requests} "
                               f"requests: {result.statuses}")
        self.results.append(result)
        return result.requests

    def warmup(self) -> None:
        s = self.settings
        asyncio.run(run_load(self.url, self.uploads, s.serve_concurrency, 0.0,
                             warmup_requests=s.serve_warmup_requests))

    def side(self) -> Side:
        return Side(self.window, self.warmup, _server_clock(self.pid))

    def latencies(self) -> list[dict[str, float]]:
        return [{"p50": r.p50_ms, "p95": r.p95_ms, "p99": r.p99_ms} for r in self.results]


def measure(ctx: BenchContext) -> Iterator[Row]:
    s = ctx.settings
    model = s.serve_model
    folder = ctx.work / "serve"
    folder.mkdir(parents=True, exist_ok=True)
    loaded = calibrated_detector(model, ctx.data.paths(CALIBRATION_FACES))
    checkpoint = serving_checkpoint(loaded, model, folder, onnx=True)
    uploads = [path.read_bytes() for path in ctx.data.paths(UPLOADS)]
    ports = [free_port() for _ in range(3)]
    commands = [
        (plain_server_command(checkpoint, ports[0], None), ports[0]),
        (plain_server_command(checkpoint, ports[1], 1), ports[1]),
        (fakescope_serve_command(checkpoint, ports[2]), ports[2]),
    ]
    ctx.log(f"serving {model.label}: starting the servers")
    with local_servers(commands) as started:
        plain, plain_one, ours = (
            _Server(name, url, pid, uploads, s)
            for name, (url, pid) in zip(
                ("plain server", "plain server on 1 thread", "fakescope server"), started,
                strict=True,
            )
        )  # fmt: skip
        (info,) = httpx.get(f"{ours.url}/api/models").json()["models"]
        for baseline, suffix in ((plain, ""), (plain_one, " vs plain server on 1 thread")):
            what = f"requests/s, {model.label}, {s.serve_concurrency} in flight{suffix}"
            ctx.log(f"serving {what}: {s.rounds} rounds of {s.serve_seconds:g} s")
            first = len(ours.results)
            comparison = alternate(baseline.side(), ours.side(), s.rounds)
            details = {
                "concurrency": s.serve_concurrency, "window_s": s.serve_seconds,
                "fakescope_backend": info["backend"],
                "latency_ms": {"baseline": baseline.latencies(),
                               "fakescope": ours.latencies()[first:]},
            }  # fmt: skip
            key = f"serve/{'1-thread/' if suffix else ''}{model.name}"
            yield comparison_row("serve", key, what, "req/s", comparison, details)
