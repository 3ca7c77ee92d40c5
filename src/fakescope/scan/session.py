"""The Ray a scan runs on: a local one started for it, or a cluster it joins.

Kept free of PyTorch and of the rest of fakescope so that the command can start Ray first
thing while a thread imports PyTorch and the scan's code: the two take seconds each and mostly
wait on different things (Ray on the processes it spawns). Ray starts on the main thread: the
processes it spawns are killed when the thread that spawned them ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

from fakescope.config import ConfigError
from fakescope.errors import SetupError

MISSING_RAY = "fakescope scan needs Ray: pip install 'fakescope[scale]'"
# Only rows and the detector's bytes go through the object store of a local scan (pictures
# stay in the actors), so a small store does; Ray's default takes 30 % of the machine's memory.
LOCAL_OBJECT_STORE = 256 * 2**20
ACTORS_START_S = 900  # an actor imports PyTorch and loads the detector; a busy node is slow


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
    actors: int | None = None  # actors that read and score (default: one per CPU or GPU)
    actor_threads: int = 1  # CPUs (onnxruntime/PyTorch threads) each actor takes
    device: str = "auto"  # cpu, cuda, or auto: cuda when the cluster has GPUs


def _init(cluster: Cluster, progress: bool) -> bool:
    """Start or join Ray unless it runs already; True when this call started it."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    if cluster.address:
        ray.init(address=cluster.address, log_to_driver=progress)
        return True
    from fakescope.speed import usable_cores

    if cluster.workers is not None and cluster.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {cluster.workers}")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves the machine
    ray.init(
        num_cpus=cluster.workers or usable_cores(), include_dashboard=False,
        _node_ip_address="127.0.0.1", log_to_driver=progress, configure_logging=False,
        object_store_memory=LOCAL_OBJECT_STORE,
    )  # fmt: skip
    return True


@contextlib.contextmanager
def ray_session(cluster: Cluster, progress: bool = False) -> Iterator[ModuleType]:
    """Ray, started for the scan (local: no dashboard, localhost only) or joined, and shut down
    after it; a Ray the caller started already is used and left running."""
    started = _init(cluster, progress)
    ray = require_ray()
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    # Start scoring once every actor is up: then each gets a shard in the first round (see
    # `pipeline.scored_batches`), and a cluster without room for them fails, not waits forever.
    context.wait_for_min_actors_s = ACTORS_START_S
    if not progress:
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()
