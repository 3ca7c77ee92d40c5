"""`fakescope scan`: score folders, globs or manifests into Parquet, on Ray (the scale extra).

Nothing heavy is imported at the top: torch and ray are imported by the command itself.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

from fakescope.cli.argtypes import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    scan = subparsers.add_parser(
        "scan", help="score many images into Parquet part files, resumably, on Ray "
        "(pip install 'fakescope[scale]')",
    )  # fmt: skip
    scan.add_argument("sources", nargs="*", metavar="SOURCE",
                      help="folders, globs, or manifests (.csv/.parquet with a 'path' column)")
    scan.add_argument("--checkpoint", help="detector checkpoint (.pt)")
    scan.add_argument("--out", required=True, metavar="DIR",
                      help="output folder: parts/, ledger.jsonl, summary.json, summary.html; a "
                      "rerun into it resumes")
    scan.add_argument("--resume", action="store_true",
                      help="continue the scan recorded in --out (SOURCE and --checkpoint may "
                      "then be left out)")
    scan.add_argument("--shard-size", type=positive_int, help="images per shard (default 256)")
    scan.add_argument("--batch-size", type=positive_int,
                      help="images per scoring batch (default: each scoring actor times "
                      "16/32/64/128 on its first pictures and keeps the fastest)")
    scan.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                      help="auto (default): ONNX Runtime on CPUs (the export beside the "
                      "checkpoint, or one made in memory), PyTorch on GPUs")
    scan.add_argument("--onnx-model", metavar="FILE", help="run this ONNX export")
    scan.add_argument("--face-crop", action="store_true", help="crop the largest face first")
    scan.add_argument("--workers", type=positive_int,
                      help="CPUs of the local Ray the command starts (default: all cores)")
    scan.add_argument("--address", help="join a Ray cluster instead: auto or ray://host:port")
    scan.add_argument("--actors", type=positive_int,
                      help="actors that read and score (default: one per CPU, one per GPU)")
    scan.add_argument("--actor-threads", type=positive_int, default=1,
                      help="CPUs each actor takes and scores with (default 1)")
    scan.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                      help="the scoring actors' device (auto: cuda when the cluster has GPUs)")
    scan.add_argument("--quiet", action="store_true", help="no progress output")
    scan.set_defaults(handler=_scan)


def _scan(args: argparse.Namespace) -> int:
    from fakescope.config import ConfigError
    from fakescope.scan.ledger import ScanFolder
    from fakescope.scan.session import Cluster, ray_session, require_ray

    require_ray()
    if args.resume and not args.sources:
        ScanFolder(args.out).required_plan()
    elif not args.sources or not args.checkpoint:
        raise ConfigError("scan needs SOURCE... and --checkpoint (or --resume with --out)")
    cluster = Cluster(address=args.address, workers=args.workers, actors=args.actors,
                      actor_threads=args.actor_threads, device=args.device)
    with ThreadPoolExecutor(1) as pool:  # PyTorch and the scan's code load while Ray starts
        loading = pool.submit(importlib.import_module, "fakescope.scan.job")
        with ray_session(cluster, not args.quiet):
            return _run(args, cluster, loading.result())


def _run(args: argparse.Namespace, cluster: Any, scan: ModuleType) -> int:
    settings = {"batch_size": args.batch_size, "backend": args.backend,
                "onnx_model": args.onnx_model, "cluster": cluster, "progress": not args.quiet}
    if args.resume and not args.sources:
        job = scan.job_from_folder(args.out, **settings)
    else:
        job = scan.ScanJob(tuple(args.sources), args.checkpoint, args.out,
                           args.shard_size or scan.DEFAULT_SHARD_SIZE, face_crop=args.face_crop,
                           **settings)  # fmt: skip
    result = scan.run_scan(job)
    summary = result.summary
    print(f"{result.rows} images in {result.shards} shards ({result.skipped} finished before, "
          f"{result.written} now) in {result.seconds:.1f} s with {result.backend}; "
          f"{summary['errors']} failed, {summary['duplicates_scored_once']} duplicates")
    print("verdicts: " + ", ".join(f"{k} {v}" for k, v in summary["counts"]["verdict"].items()))
    print(f"wrote {result.out / 'parts'} and {', '.join(str(f) for f in result.files)}",
          file=sys.stderr if args.quiet else sys.stdout)
    return 0
