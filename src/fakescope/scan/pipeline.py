"""The scan on Ray Data: CPU tasks read the shards, an actor pool scores, the driver writes.

    shards -> map_batches(read_shard_batch)   CPU tasks, one shard per task: bytes, SHA-256,
                                              provenance, decoded model input
           -> map_batches(Scorer)             actors, each loading the detector once (ONNX
                                              Runtime, or PyTorch; a GPU when it has one)
           -> iter_batches in the driver      ShardCollector writes each shard once whole

Ray Data streams: blocks flow through the stages with backpressure, so memory holds the blocks
in flight, not the scan. Part files are written by the driver, so only the inputs (and nothing
of the output folder) need to be visible to the other machines of a cluster; the checkpoint
and its ONNX graph travel to the actors through Ray's object store.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from fakescope.config import ConfigError
from fakescope.errors import SetupError
from fakescope.models.registry import LoadedDetector
from fakescope.scan.files import PROVENANCE_COLUMNS, InputSettings, read_shard_files
from fakescope.scan.sources import Shard

logger = logging.getLogger(__name__)

MISSING_RAY = "fakescope scan needs Ray: pip install 'fakescope[scale]'"
READ_COLUMNS = ("path", "size", "sha256", "duplicate_of", "face_box", "error")


def require_ray() -> ModuleType:
    """The `ray` module with Ray Data, or the one-line error naming the extra to install."""
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise SetupError(f"{MISSING_RAY} ({err})") from err
    return ray


@dataclass(frozen=True)
class Cluster:
    """Where the scan runs: a local Ray with `workers` CPUs (default: this machine's cores),
    or the cluster at `address` ('auto', or 'ray://host:port')."""

    address: str | None = None
    workers: int | None = None
    actors: int | None = None  # scoring actors (default: half the CPUs, at least one)
    actor_threads: int = 1  # CPUs (onnxruntime/PyTorch threads) each scoring actor takes
    device: str = "auto"  # cpu, cuda, or auto: cuda when the cluster has GPUs


@contextlib.contextmanager
def ray_session(cluster: Cluster, progress: bool = False) -> Iterator[ModuleType]:
    """Ray, started for the scan (local: no dashboard, localhost only) or joined, and shut down
    after it; a Ray the caller started already is used and left running."""
    ray = require_ray()
    started = not ray.is_initialized()
    if started and cluster.address:
        ray.init(address=cluster.address, log_to_driver=progress)
    elif started:
        from fakescope.speed import usable_cores

        if cluster.workers is not None and cluster.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {cluster.workers}")
        ray.init(
            num_cpus=cluster.workers or usable_cores(), include_dashboard=False,
            _node_ip_address="127.0.0.1", log_to_driver=progress,
        )  # fmt: skip
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    if not progress:
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def read_shard_batch(batch: dict[str, np.ndarray], settings: InputSettings) -> dict[str, Any]:
    """CPU stage: the readings of the shards in `batch` (columns shard, start, paths), one row
    per file, with the model input in `pixels` (zeros where there is nothing to score)."""
    columns: dict[str, list[Any]] = {name: [] for name in (
        "shard", "position", *READ_COLUMNS, *PROVENANCE_COLUMNS, "read_seconds", "scorable",
        "pixels")}  # fmt: skip
    blank = np.zeros((settings.spec.size, settings.spec.size, 3), np.uint8)
    for shard, start, paths in zip(batch["shard"], batch["start"], batch["paths"], strict=True):
        readings = read_shard_files([str(p) for p in paths], settings)
        for offset, reading in enumerate(readings):
            columns["shard"].append(int(shard))
            columns["position"].append(int(start) + offset)
            for name in READ_COLUMNS:
                columns[name].append(getattr(reading, name))
            for name in PROVENANCE_COLUMNS:
                columns[name].append(reading.provenance.get(name))
            columns["read_seconds"].append(reading.seconds)
            columns["scorable"].append(reading.pixels is not None)
            columns["pixels"].append(reading.pixels if reading.pixels is not None else blank)
    arrays = {name: _column(values) for name, values in columns.items() if name != "pixels"}
    shapes = {p.shape for p in columns["pixels"]}
    pixels = columns["pixels"]
    arrays["pixels"] = np.stack(pixels) if len(shapes) == 1 else _objects(pixels)
    return arrays


def _column(values: list[Any]) -> np.ndarray:
    if values and all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.array(values, dtype=bool)
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.array(values)
    return _objects(values)


def _objects(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


class Scorer:
    """Scoring stage: one detector per actor, loaded once from the bytes the driver shared."""

    def __init__(
        self, blobs: list[Any], device: str, batch_size: int, threads: int
    ) -> None:  # fmt: skip
        import ray
        import torch

        from fakescope.inference.predict import Predictor
        from fakescope.models.registry import load_detector

        torch.set_num_threads(threads)
        checkpoint_bytes, onnx_bytes = ray.get(blobs)
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = Path(tmp) / "detector.pt"
            checkpoint.write_bytes(checkpoint_bytes)
            onnx_path = None
            if onnx_bytes is not None:
                onnx_path = Path(tmp) / "detector.onnx"
                onnx_path.write_bytes(onnx_bytes)
            self.predictor = Predictor(
                load_detector(checkpoint, device), device, batch_size,
                backend="torch" if onnx_path is None else "onnx", checkpoint=checkpoint,
                onnx_path=onnx_path, onnx_threads=threads,
            )  # fmt: skip
        self.node = str(ray.get_runtime_context().get_node_id())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        scorable = np.asarray(batch["scorable"], dtype=bool)
        probs = np.full(len(scorable), np.nan)
        chosen = np.flatnonzero(scorable)
        if len(chosen):
            pixels = batch["pixels"]
            probs[chosen] = self.predictor.probabilities([pixels[i] for i in chosen])
        each = (time.perf_counter() - started) / max(1, len(chosen))
        out = {name: value for name, value in batch.items() if name not in ("pixels", "scorable")}
        out["probability_fake"] = probs
        out["score_seconds"] = np.where(scorable, each, 0.0)
        out["backend"] = _objects([self.predictor.backend] * len(probs))
        out["node"] = _objects([self.node] * len(probs))
        return out


def model_bytes(
    loaded: LoadedDetector, checkpoint: str | Path, backend: str, device: str,
    onnx_path: str | Path | None = None,
) -> bytes | None:  # fmt: skip
    """The ONNX graph the actors run, or None for PyTorch: `onnx_path` when given, else the
    current export beside the checkpoint, else one made now in memory (checked against
    PyTorch). `auto` falls back to PyTorch when none can be had, or on a GPU."""
    if backend == "torch" or (backend == "auto" and device != "cpu"):
        return None
    if device != "cpu":
        raise ConfigError("the onnx backend runs on the CPU; use --backend torch on a GPU")
    from fakescope.errors import BadFileError
    from fakescope.inference.artifacts import default_onnx_path
    from fakescope.inference.runtime import read_metadata

    candidate = Path(onnx_path) if onnx_path else default_onnx_path(checkpoint)
    if onnx_path and not candidate.is_file():
        raise FileNotFoundError(f"{candidate}: no such ONNX file")
    if candidate.is_file():
        problem = read_metadata(candidate).mismatch(loaded)
        if problem is None:
            return candidate.read_bytes()
        if onnx_path:
            raise BadFileError(f"{candidate} does not match {checkpoint}: {problem}")
        logger.warning("ignoring %s (%s); exporting the checkpoint again in memory", candidate,
                       problem)
    try:
        from fakescope.inference.onnx_graph import checked_graph

        return checked_graph(loaded).data
    except Exception as err:  # exporter, operator or package: any failure means PyTorch
        if backend == "onnx":
            raise SetupError(f"cannot export {checkpoint} to ONNX: {err}") from err
        logger.warning("scoring with PyTorch: no ONNX export (%s)", str(err).splitlines()[0])
        return None


@dataclass
class StreamSettings:
    """What the pipeline needs besides the shards: input settings and scoring resources."""

    inputs: InputSettings
    checkpoint_bytes: bytes
    onnx_bytes: bytes | None
    batch_size: int = 64
    device: str = "cpu"
    actors: int = 1
    threads_per_actor: int = 1


def scored_batches(ray: ModuleType, shards: Sequence[Shard], stream: StreamSettings) -> Iterator[
    list[dict[str, Any]]
]:  # fmt: skip
    """Scored rows of `shards`, a batch at a time, as they come out of the pipeline."""
    items = [{"shard": s.index, "start": s.start, "paths": list(s.paths)} for s in shards]
    dataset = ray.data.from_items(items, override_num_blocks=len(items))
    # Each read task reserves the memory of its shard's pictures. That also keeps Ray Data from
    # fusing reading into the scoring actors (it fuses only stages with equal resource requests),
    # so reading stays a pool of CPU tasks beside them, not work each actor does in turn.
    dataset = dataset.map_batches(
        read_shard_batch, batch_size=1, fn_kwargs={"settings": stream.inputs}, num_cpus=1,
        memory=_shard_memory(stream.inputs, max(len(s.paths) for s in shards)),
    )  # fmt: skip
    blobs = [ray.put(stream.checkpoint_bytes), ray.put(stream.onnx_bytes)]
    dataset = dataset.map_batches(
        Scorer, batch_size=stream.batch_size,
        fn_constructor_kwargs={"blobs": blobs, "device": stream.device,
                               "batch_size": stream.batch_size,
                               "threads": stream.threads_per_actor},
        compute=ray.data.ActorPoolStrategy(size=stream.actors),
        num_cpus=stream.threads_per_actor, num_gpus=1 if stream.device != "cpu" else 0,
    )  # fmt: skip
    for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
        yield [_plain(row) for row in batch.to_pylist()]


def _shard_memory(inputs: InputSettings, images: int) -> int:
    """Bytes a read task holds: its shard's model inputs twice over (the list and the stacked
    block), plus room for decoding one picture."""
    return 2 * images * inputs.spec.size**2 * 3 + 64 * 2**20


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Missing values as None, as the table stores them: NaN marks an unscored P(fake), and a
    text column whose block held no value comes back as NaN too."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_actors(actors: int, threads: int, cpus: float, device: str) -> None:
    """Scoring actors on CPUs must leave a CPU for reading, or the pipeline waits forever."""
    if actors < 1:
        raise ConfigError(f"--actors must be at least 1, got {actors}")
    if device == "cpu" and actors * threads > cpus - 1:
        raise ConfigError(
            f"{actors} scoring actors of {threads} CPU leave no CPU for reading (the cluster has "
            f"{cpus:g}); use at most {max(0, int(cpus - 1) // threads)} actors, or more CPUs"
        )


def default_actors(cpus: float, device: str, gpus: float) -> int:
    """Half the CPUs score and half read (decoding and provenance cost about what a small
    detector's forward pass does); on GPUs, one actor per GPU."""
    if device != "cpu":
        return max(1, int(gpus))
    return max(1, int(cpus) // 2)

