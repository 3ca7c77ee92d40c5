"""One scan from start to summary: list and shard the inputs, skip the finished shards, run the
rest through the Ray pipeline, and summarise the whole table."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fakescope.config import ConfigError
from fakescope.inference.predict import BACKENDS
from fakescope.models.registry import LoadedDetector
from fakescope.provenance import ProvenanceLimits
from fakescope.scan.files import InputSettings
from fakescope.scan.hashes import Duplicate, file_digest, find_duplicates
from fakescope.scan.ledger import ScanFolder
from fakescope.scan.pipeline import (
    StreamSettings,
    check_actors,
    default_actors,
    model_bytes,
    scored_batches,
)
from fakescope.scan.session import Cluster, ray_session
from fakescope.scan.sources import Shard, cut_shards, expand_sources, paths_fingerprint
from fakescope.scan.summary import write_summary
from fakescope.scan.writer import FIRST_COLUMNS, ShardCollector, Verdicts

DEFAULT_SHARD_SIZE = 256


@dataclass(frozen=True)
class ScanJob:
    """What to scan, with which checkpoint, into which folder, and how."""

    sources: tuple[str, ...]
    checkpoint: str
    out: str
    shard_size: int = DEFAULT_SHARD_SIZE
    batch_size: int | None = None  # None: each scoring actor probes for the fastest
    backend: str = "auto"
    onnx_model: str | None = None
    face_crop: bool = False
    cluster: Cluster = field(default_factory=Cluster)
    progress: bool = False


@dataclass(frozen=True)
class ScanResult:
    out: Path
    shards: int
    skipped: int  # finished by an earlier run into the same folder
    written: int
    rows: int
    seconds: float
    backend: str
    summary: dict[str, Any]
    files: list[Path]


def job_from_folder(out: str | Path, **overrides: Any) -> ScanJob:
    """The job recorded in a scan folder (for --resume without repeating the inputs)."""
    plan = ScanFolder(out).required_plan()
    recorded = {k: plan[k] for k in ("checkpoint", "shard_size", "face_crop")}
    return ScanJob(sources=tuple(plan["sources"]), out=str(out), **{**recorded, **overrides})


def _duplicates(folder: ScanFolder, paths: list[str]) -> dict[str, Duplicate]:
    """The scan's repeated files: the hash pass, or its record from an earlier run."""
    recorded = folder.duplicates()
    if recorded is None:
        recorded = find_duplicates(paths, ProvenanceLimits().max_file_bytes)
        folder.record_duplicates(recorded)
    return recorded


def _collector(
    folder: ScanFolder, pending: list[Shard], verdicts: Verdicts,
    duplicates: dict[str, Duplicate],
) -> ShardCollector:  # fmt: skip
    """The collector of the pending shards, with the rows of the first files their duplicates
    name that an earlier run already wrote."""
    referenced = {d.path for d in duplicates.values()}
    pending_paths = {p for shard in pending for p in shard.paths}
    finished = folder.finished_rows(referenced - pending_paths, FIRST_COLUMNS)
    return ShardCollector(folder, pending, verdicts, referenced, finished)


def _score(
    job: ScanJob, loaded: LoadedDetector, folder: ScanFolder, paths: list[str],
    pending: list[Shard],
) -> str:  # fmt: skip
    """Read, score and write the pending shards on Ray; returns the backend that scored."""
    from fakescope.inference.predict import Predictor
    from fakescope.inference.tiles import is_native

    inputs = InputSettings(loaded.input_spec, job.face_crop, native=is_native(loaded.model))
    verdicts = Predictor(loaded, backend="torch").prediction
    with ThreadPoolExecutor(1) as background:
        hashing = background.submit(_duplicates, folder, paths)  # while Ray starts
        with ray_session(job.cluster, job.progress) as ray:
            resources = ray.cluster_resources()
            device = job.cluster.device
            if device == "auto":
                device = "cuda" if resources.get("GPU", 0) > 0 else "cpu"
            onnx = model_bytes(loaded, job.checkpoint, job.backend, device, job.onnx_model)
            cpus = resources.get("CPU", 1)
            threads = job.cluster.actor_threads
            actors = job.cluster.actors or default_actors(
                cpus, device, resources.get("GPU", 0), threads)  # fmt: skip
            check_actors(actors, threads, cpus, device)
            stream = StreamSettings(
                inputs, Path(job.checkpoint).read_bytes(), onnx, job.batch_size, device, actors,
                threads,
            )  # fmt: skip
            duplicates = hashing.result()
            collector = _collector(folder, pending, verdicts, duplicates)
            for rows in scored_batches(ray, pending, stream, duplicates):
                collector.add(rows)
    if collector.pending:
        missing = ", ".join(s.name for s in list(collector.pending.values())[:3])
        raise RuntimeError(f"the pipeline ended with shards unwritten: {missing}")
    return "torch" if onnx is None else "onnx"


def run_scan(job: ScanJob) -> ScanResult:
    """Scan `job.sources` into `job.out`; shards an earlier run finished there are kept. A Ray
    the caller started is used (and left running), else one is started for the scan."""
    started = time.perf_counter()
    if job.backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{job.backend}' (use {', '.join(BACKENDS)})")
    if job.batch_size is not None and job.batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {job.batch_size}")
    from fakescope.models.registry import load_detector

    paths = expand_sources(job.sources)
    shards = list(cut_shards(paths, job.shard_size))
    loaded = load_detector(job.checkpoint)
    folder = ScanFolder(job.out)
    folder.open({
        "sources": list(job.sources), "checkpoint": str(Path(job.checkpoint).resolve()),
        "checkpoint_sha256": file_digest(job.checkpoint).hex(), "paths": len(paths),
        "listing_sha256": paths_fingerprint(paths), "shard_size": job.shard_size,
        "shards": len(shards), "face_crop": job.face_crop,
    })  # fmt: skip
    finished = folder.finished()
    pending = [s for s in shards if s.index not in finished]
    backend = _score(job, loaded, folder, paths, pending) if pending else "none"
    summary, files = write_summary(folder, settings={**asdict(job), "cluster": asdict(job.cluster)})
    return ScanResult(
        folder.out, len(shards), len(finished), len(pending), summary["rows"],
        time.perf_counter() - started, backend, summary, files,
    )  # fmt: skip

