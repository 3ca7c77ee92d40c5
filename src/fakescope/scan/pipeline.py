"""The scan on Ray Data: an actor pool reads and scores whole shards, the driver writes.

    shards -> map_batches(ShardScorer)    actors, each loading the detector once (ONNX Runtime,
                                          or PyTorch; a GPU when it has one), reading a shard's
                                          files (bytes, SHA-256, provenance, decoded picture)
                                          on a thread while scoring the previous chunk
           -> iter_batches in the driver  ShardCollector writes each shard once whole

Reading and scoring share one stage so that decoded pictures never cross Ray's object store
(a picture is 10-40x its JPEG) and no core waits on another stage: on a small machine every
core reads and scores. Ray Data streams: blocks flow with backpressure, so memory holds the
shards in flight, not the scan. Part files are written by the driver, so only the inputs (and
nothing of the output folder) need to be visible to the other machines of a cluster; the
checkpoint and its ONNX graph travel to the actors through Ray's object store.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from fakescope.config import ConfigError
from fakescope.errors import SetupError
from fakescope.models.registry import LoadedDetector
from fakescope.scan.files import PROVENANCE_COLUMNS, InputSettings, Reading, read_files
from fakescope.scan.hashes import Duplicate
from fakescope.scan.probe import PROBE_SIZES, probe_batch_size
from fakescope.scan.sources import Shard

logger = logging.getLogger(__name__)

READ_COLUMNS = ("path", "size", "sha256", "duplicate_of", "face_box", "error")


SCORED_COLUMNS = ("probability_fake", "score_seconds", "backend", "node", "batch_size", "probe")


@dataclass
class StreamSettings:
    """What the pipeline needs besides the shards: input settings and scoring resources."""

    inputs: InputSettings
    checkpoint_bytes: bytes
    onnx_bytes: bytes | None
    batch_size: int | None = None  # None: each actor probes for the fastest
    device: str = "cpu"
    actors: int = 1
    threads_per_actor: int = 1


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


class ShardScorer:
    """The one stage of the scan: each actor loads the detector once (from the bytes the driver
    shared), then reads, decodes and scores whole shards. A reader thread decodes the next
    chunk of pictures while the current one is scored (ONNX Runtime and PyTorch release the
    GIL), and the pictures never leave the actor: only rows go back."""

    def __init__(self, blobs: list[Any], stream: StreamSettings) -> None:
        import ray
        import torch

        from fakescope.inference.predict import Predictor
        from fakescope.models.registry import load_detector

        torch.set_num_threads(stream.threads_per_actor)
        checkpoint_bytes, onnx_bytes = ray.get(blobs)
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = Path(tmp) / "detector.pt"
            checkpoint.write_bytes(checkpoint_bytes)
            onnx_path = None
            if onnx_bytes is not None:
                onnx_path = Path(tmp) / "detector.onnx"
                onnx_path.write_bytes(onnx_bytes)
            self.predictor = Predictor(
                load_detector(checkpoint, stream.device), stream.device,
                stream.batch_size or PROBE_SIZES[0],
                backend="torch" if onnx_path is None else "onnx", checkpoint=checkpoint,
                onnx_path=onnx_path, onnx_threads=stream.threads_per_actor,
            )  # fmt: skip
        self.inputs = stream.inputs
        self.batch_size = stream.batch_size  # None until the probe has run
        self.reader = ThreadPoolExecutor(1, thread_name_prefix="scan-read")
        self.node = str(ray.get_runtime_context().get_node_id())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        columns: dict[str, list[Any]] = {name: [] for name in (
            "shard", "position", *READ_COLUMNS, *PROVENANCE_COLUMNS, "read_seconds",
            *SCORED_COLUMNS)}  # fmt: skip
        for shard, start, paths, duplicates in zip(
            batch["shard"], batch["start"], batch["paths"], batch["duplicates"], strict=True
        ):  # fmt: skip
            shard_rows = self._score_shard([str(p) for p in paths], json.loads(duplicates))
            for offset, (reading, row) in enumerate(shard_rows):
                columns["shard"].append(int(shard))
                columns["position"].append(int(start) + offset)
                for name in READ_COLUMNS:
                    columns[name].append(getattr(reading, name))
                for name in PROVENANCE_COLUMNS:
                    columns[name].append(reading.provenance.get(name))
                columns["read_seconds"].append(reading.seconds)
                for name in SCORED_COLUMNS:
                    columns[name].append(row.get(name))
        return {name: _column(values) for name, values in columns.items()}

    def _score_shard(
        self, paths: list[str], duplicates: dict[str, list[str]]
    ) -> list[tuple[Reading, dict[str, Any]]]:  # fmt: skip
        """Each file's reading and its scored columns, in order."""
        firsts = {path: Duplicate(*first) for path, first in duplicates.items()}
        chunk = self.batch_size or PROBE_SIZES[-1]

        def read(start: int) -> list[Reading]:
            return read_files(paths[start : start + chunk], self.inputs, None, firsts)

        out: list[tuple[Reading, dict[str, Any]]] = []
        ahead: Future[list[Reading]] | None = None
        for start in range(0, len(paths), chunk):
            readings = ahead.result() if ahead is not None else read(start)
            # the next chunk is read while this one is scored; not while the probe times
            ahead = None
            if start + chunk < len(paths) and self.batch_size is not None:
                ahead = self.reader.submit(read, start + chunk)
            pictures = {i: r.pixels for i, r in enumerate(readings) if r.pixels is not None}
            started = time.perf_counter()
            probs, probe = self._probabilities(list(pictures.values()))
            each = (time.perf_counter() - started) / max(1, len(pictures))
            by_index = dict(zip(pictures, probs, strict=True))
            for index, reading in enumerate(readings):
                prob = by_index.get(index)
                out.append((reading, {  # NaN, not None: the column stays numeric
                    "probability_fake": math.nan if prob is None else prob,
                    "score_seconds": 0.0 if prob is None else each,
                    "backend": self.predictor.backend,
                    "node": self.node, "batch_size": self.batch_size or 0, "probe": probe,
                }))  # fmt: skip
                probe = None  # recorded on the first row only
        return out

    def _probabilities(self, pictures: list[np.ndarray]) -> tuple[list[float], str | None]:
        """P(fake) of the pictures; the first call probes the batch size on them (when the
        scan left it open) and returns the probe as JSON."""
        if self.batch_size is not None or not pictures:
            return self.predictor.probabilities(pictures), None

        def score(chosen: Sequence[np.ndarray], size: int) -> list[float]:
            self.predictor.batch_size = size
            return self.predictor.probabilities(chosen)

        probe, probs = probe_batch_size(score, pictures)
        self.batch_size = self.predictor.batch_size = probe.batch_size
        timings = {str(k): round(v * 1e6, 2) for k, v in probe.seconds_per_picture.items()}
        return probs, json.dumps({"batch_size": probe.batch_size, "node": self.node,
                                  "microseconds_per_picture": timings})


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


def scored_batches(
    ray: ModuleType, shards: Sequence[Shard], stream: StreamSettings,
    duplicates: Mapping[str, Duplicate],
) -> Iterator[list[dict[str, Any]]]:  # fmt: skip
    """Scored rows of `shards`, a batch at a time, as they come out of the pipeline."""
    items = [{"shard": s.index, "start": s.start, "paths": list(s.paths),
              "duplicates": json.dumps({p: [duplicates[p].path, duplicates[p].sha256]
                                        for p in s.paths if p in duplicates})}
             for s in shards]  # fmt: skip
    dataset = ray.data.from_items(items, override_num_blocks=len(items))
    blobs = [ray.put(stream.checkpoint_bytes), ray.put(stream.onnx_bytes)]
    dataset = dataset.map_batches(
        ShardScorer, batch_size=1, fn_constructor_kwargs={"blobs": blobs, "stream": stream},
        # One shard at a time per actor: the shards in the first round go to every actor,
        # not two to whichever Ray Data picks first (a shard is a few hundred pictures, so
        # the wait for the next one is short against its work).
        compute=ray.data.ActorPoolStrategy(size=stream.actors, max_tasks_in_flight_per_actor=1),
        num_cpus=stream.threads_per_actor, num_gpus=1 if stream.device != "cpu" else 0,
    )  # fmt: skip
    for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
        yield [_plain(row) for row in batch.to_pylist()]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Missing values as None, as the table stores them: NaN marks an unscored P(fake), and a
    text column whose block held no value comes back as NaN too."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def check_actors(actors: int, threads: int, cpus: float, device: str) -> None:
    """CPU actors must fit the cluster's CPUs, or the pipeline waits forever for the rest."""
    if actors < 1:
        raise ConfigError(f"--actors must be at least 1, got {actors}")
    if device == "cpu" and actors * threads > cpus:
        raise ConfigError(
            f"{actors} scoring actors of {threads} CPU do not fit the cluster's {cpus:g} CPUs; "
            f"use at most {max(1, int(cpus) // threads)} actors, or fewer --actor-threads"
        )


def default_actors(cpus: float, device: str, gpus: float, threads: int = 1) -> int:
    """Every CPU reads and scores: one actor per `threads` CPUs; on GPUs, one actor per GPU."""
    if device != "cpu":
        return max(1, int(gpus))
    return max(1, int(cpus) // threads)

