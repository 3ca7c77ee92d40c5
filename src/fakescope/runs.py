"""Run folders: their layout, atomic file writes and metric logs.

A run folder `runs/<name>/` holds everything one job produced::

    config.yaml        the resolved config
    metrics.csv        GAN runs: one row per optimizer step (epochs.csv: one per epoch);
                       detector runs: one row per epoch (validation needs a whole epoch)
    train.log          what a training run did and when (fakescope.training.session)
    checkpoints/       ckpt-<step>.pt, plus best.pt / last.pt where the job keeps them
    samples/           images the job drew
    report/            plots and the HTML report
    data_report.json   what the data layer found (layout, counts, bad files)

The names of the files that jobs write into run and output folders (evaluation.json,
comparison.json, the demo's marker, ...) are the constants below, imported by every module that
writes or reads one. Files are written to a temporary file and renamed into place, so a crash
mid-write never leaves a truncated one behind. What a checkpoint holds, and how it is saved and
loaded, is `fakescope.checkpoints`.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakescope.config import save_config
from fakescope.formatting import csv_bytes

# Names of the files that jobs write into run and output folders and the report reads back.
LOG_FILE = "train.log"  # what a training run did and when (fakescope.training.session)
BEST_CHECKPOINT, LAST_CHECKPOINT = "best.pt", "last.pt"  # in a run's checkpoints/
SPEED_FILE = "speed.json"  # the speed settings a run chose and the timings behind the choice
EVALUATION_FILE = "evaluation.json"  # evaluation/<split>/ of a run, or eval --out
COMPARISON_FILE = "comparison.json"
ROBUSTNESS_FILE = "robustness.json"
XGEN_FILE = "xgen.json"
# Beside an evaluation's Grad-CAM overlays: each example's reading, provenance and joint decision.
EXAMPLES_FILE = "examples.json"
# A GAN's floor comparison and its grids of real and generated images, beside its run.
FLOOR_COMPARISON_FILE = "quality_vs_floor.json"
REAL_GRID_FILE, FAKE_GRID_FILE = "real_grid.png", "fake_grid.png"
REPORT_FILE = "index.html"  # in a run's report/
DEMO_MARKER = "demo_config.json"  # the demo's settings; its presence marks a demo folder
TIMINGS_FILE = "demo_timings.json"  # {"stage_seconds": {stage: seconds}}

_STEP_CHECKPOINT = re.compile(r"^ckpt-(\d+)\.pt$")
_TEMP_FILE = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp$")  # mkstemp's names in atomic writes


def readable_by_others(path: str | Path) -> None:
    """mkstemp makes 0600 files; give the final file the mode a plain open() would have."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@dataclass(frozen=True)
class RunDir:
    path: Path
    created: bool = field(default=False, compare=False)  # made by this process's open_run

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def report(self) -> Path:
        return self.path / "report"

    @property
    def data_report(self) -> Path:
        return self.path / "data_report.json"

    def step_checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"ckpt-{step:08d}.pt"

    def latest_checkpoint(self) -> Path | None:
        """The step checkpoint with the highest step, or `last.pt`, or None."""
        if not self.checkpoints.is_dir():
            return None
        steps = []
        for p in self.checkpoints.iterdir():
            match = _STEP_CHECKPOINT.match(p.name)
            if match:
                steps.append((int(match.group(1)), p))
        if steps:
            return max(steps)[1]
        last = self.checkpoints / "last.pt"
        return last if last.is_file() else None


def open_run(
    root: str | Path, name: str, config: Any, resume: bool = False, writer: bool = True
) -> RunDir:
    """Create (or, with `resume`, reopen) `root/name` and write the resolved config into it.

    Starting a fresh run over a folder that already has checkpoints is refused, so a second
    `train` without `--resume` cannot silently overwrite earlier work. A process that is not
    the run's `writer` (a torchrun rank other than 0) only gets the folder's paths.
    """
    run = RunDir(Path(root) / name, created=writer and not (Path(root) / name).exists())
    if not writer:
        return run
    if run.path.exists() and not resume and run.latest_checkpoint() is not None:
        raise FileExistsError(
            f"run folder {run.path} already has checkpoints: pass --resume to continue it, "
            "or choose another --name"
        )
    for folder in (run.path, run.checkpoints, run.samples, run.report):
        folder.mkdir(parents=True, exist_ok=True)
    sweep_temp_files(run)
    save_config(config, run.config)
    return run


def require_checkpoint(root: str | Path, name: str) -> RunDir:
    """The run `root/name` when it has a checkpoint to continue; FileNotFoundError (said as a
    `--resume` mistake) when it never started or stopped before its first checkpoint."""
    run = RunDir(Path(root) / name)
    if run.latest_checkpoint() is None:
        state = "has no checkpoint" if run.path.is_dir() else "does not exist"
        raise FileNotFoundError(f"--resume: run folder {run.path} {state}, so there is nothing "
                                "to continue; leave out --resume to start the run, or check "
                                "--name and --root")
    return run


@contextmanager
def discarded_if_failed(run: RunDir) -> Iterator[None]:
    """Remove the run folder that `open_run` just made when the block fails before the run saved
    a checkpoint or logged a row (a bad dataset, say), so no empty run is left behind."""
    try:
        yield
    except BaseException:
        if run.created and run.latest_checkpoint() is None and not run.metrics.exists():
            shutil.rmtree(run.path, ignore_errors=True)
        raise


def sweep_temp_files(run: RunDir) -> None:
    """Delete the temporary files of atomic writes that a killed process left in the run folder
    and its checkpoints (the rename never happened, so nothing reads them)."""
    for folder in (run.path, run.checkpoints):
        for path in folder.glob(".*.tmp"):
            if _TEMP_FILE.match(path.name) and path.is_file():
                path.unlink(missing_ok=True)


def restart_logs(run: RunDir, *names: str) -> None:
    """Delete the named logs of the run folder: a run that starts afresh (no checkpoint to resume
    from, e.g. killed before its first) must not append to an earlier attempt's rows."""
    for name in names:
        (run.path / name).unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        readable_by_others(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def prune_step_checkpoints(run: RunDir, keep: int) -> None:
    """Delete all but the newest `keep` step checkpoints."""
    steps = sorted(p for p in run.checkpoints.glob("ckpt-*.pt") if _STEP_CHECKPOINT.match(p.name))
    for old in steps[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)


class MetricsLog:
    """Append-only CSV of metric rows; the header grows when a row brings a new column."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="") as handle:
            return list(csv.DictReader(handle))

    def append(self, row: Mapping[str, Any]) -> None:
        rows = self.read()
        columns = list(rows[0].keys()) if rows else []
        new_columns = [k for k in row if k not in columns]
        if new_columns and rows:
            # Rare (a metric that appears later): rewrite the file with the wider header.
            columns += new_columns
            atomic_write_bytes(self.path, csv_bytes(columns, [*rows, row]))
            return
        columns = columns or list(row.keys())
        with self.path.open("ab") as handle:
            handle.write(csv_bytes(columns, [row], header=handle.tell() == 0))

    def truncate_after(self, column: str, last_value: float) -> None:
        """Drop rows logged after a checkpoint, so a resumed run does not duplicate them."""
        rows = self.read()
        kept = [r for r in rows if r.get(column, "") != "" and float(r[column]) <= last_value]
        if len(kept) != len(rows):
            atomic_write_bytes(self.path, csv_bytes(list(rows[0].keys()), kept))


def demo_detector_checkpoint(out: Path, name: str) -> Path:
    """Where the demo in `out` keeps detector `name`'s best checkpoint."""
    return out / "detectors" / name / "checkpoints" / BEST_CHECKPOINT


def write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=2, default=str).encode())
