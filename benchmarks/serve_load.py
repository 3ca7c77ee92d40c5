"""Bounded load test of a detector server on loopback: p50/p95/p99 latency, requests per
second, errors. A command-line front for `fakescope.bench.load` (which `fakescope bench --only
serve` also uses, against a plain baseline server).

Starts `fakescope serve` in a subprocess on 127.0.0.1 (a random-weight checkpoint of --model
unless --checkpoint is given; weights do not change the cost of a forward pass), keeps
--concurrency requests in flight for --duration seconds (or --max-requests), then stops the
server. Pass --url to load a server that is already running.

    python benchmarks/serve_load.py --model dcgan_disc64 --concurrency 8 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import httpx

from fakescope.bench.load import (
    LoadResult,
    face_jpegs,
    fakescope_serve_command,
    free_port,
    local_server,
    run_load,
)
from fakescope.bench.models import random_detector, serving_checkpoint
from fakescope.bench.settings import ModelSpec
from fakescope.models.registry import build_detector

__all__ = ["face_jpegs", "main", "run_load"]  # tests/serve/test_load.py drives these


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
            if args.checkpoint:
                checkpoint = Path(args.checkpoint)
            else:
                size = build_detector(args.model).input_spec.size
                spec = ModelSpec(args.model, size)
                checkpoint = serving_checkpoint(random_detector(spec), spec, Path(folder),
                                                args.onnx)
            port = free_port()
            with local_server(fakescope_serve_command(checkpoint, port, serve_args),
                              port) as (url, pid):
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
