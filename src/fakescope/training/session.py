"""What every training run sets up before its first step: the torchrun session, seeds and
backends, the run folder, its `train.log`, and the speed settings it trains with."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fakescope.config import JobConfig
from fakescope.distributed import DistContext, distributed_session
from fakescope.reproducibility import configure_backends, seed_everything
from fakescope.runs import LOG_FILE, SPEED_FILE, RunDir, discarded_if_failed, open_run, write_json
from fakescope.speed import SpeedSettings

# Times the speed candidates on one process's batch: (the choice, seconds per step of each).
SpeedProbe = Callable[[], tuple[SpeedSettings, Any]]


@dataclass(frozen=True)
class Session:
    dist: DistContext
    device: torch.device
    run: RunDir


@contextmanager
def training_session(
    config: JobConfig, batch_size: int, resume: bool, logger: logging.Logger
) -> Iterator[Session]:
    """Seed, pick the device (and join torchrun's processes), open the run folder (with `resume`,
    reopen it) and log `logger` into its `train.log` for the block.

    Rank 0 makes the folder before the others open it; work that rank 0 must do first (the data
    cache) goes under `session.dist.main_first()`. A block that fails before the run saved a
    checkpoint or logged a row leaves no folder behind.
    """
    with distributed_session(config.run.device) as (dist, device):
        dist.local_batch_size(batch_size)  # fail before any folder is made
        seed_everything(config.run.seed, config.run.deterministic)
        configure_backends(device, config.run.deterministic)
        with dist.main_first():
            run = open_run(config.run.root, config.run.name, config, resume, dist.is_main)
        logging_to = log_to_file(logger, run.path / LOG_FILE) if dist.is_main else nullcontext()
        with discarded_if_failed(run), logging_to:
            yield Session(dist, device, run)


def log_to_file(logger: logging.Logger, path: Path) -> contextlib.AbstractContextManager[None]:
    """`logger`'s INFO and above appended to `path` for the block."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    return handler_on(logger, handler)


@contextmanager
def handler_on(logger: logging.Logger, handler: logging.Handler) -> Iterator[None]:
    """`logger`'s INFO and above through `handler` for the block; the handler is closed after."""
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)
        handler.close()


def resolve_speed(
    saved: SpeedSettings | None, probe: SpeedProbe, dist: DistContext, run: RunDir,
    logger: logging.Logger,
) -> SpeedSettings:
    """The speed settings a run trains with. A resumed run keeps its checkpoint's (`saved`), so
    it keeps its arithmetic and its results; a fresh one has rank 0 run `probe`, record the
    timings in `speed.json`, and every rank takes its choice."""
    if saved is not None:
        return saved
    chosen = SpeedSettings()  # the other ranks' placeholder, replaced by rank 0's choice
    if dist.is_main:
        logger.info("speed probe: timing training steps of each candidate setting")
        chosen, timings = probe()
        write_json(run.path / SPEED_FILE,
                   {"chosen": chosen.to_dict(), "step_seconds": timings})
        logger.info("speed settings: %s (%d candidates timed)", chosen.describe(), len(timings))
    return dist.broadcast(chosen)
