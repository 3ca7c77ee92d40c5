"""`--max-minutes` bounds the whole run, for both trainers alike: the budget counts from the
start it is given (the CLI gives its process's start, so imports, data and probe count), a
short budget does not probe, training stops early enough for the end of the run, and a budget
that leaves too few steps says so (the probe saw `gan train --max-minutes 2` end after one
step and 16 silent minutes of metrics, its summary without a warning)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from detect.tiny_detector import TINY
from gan.tiny_gan import TinyPixelFeatures, make_tiny_config

from fakescope.config import load_config
from fakescope.data.synth import synthesize_dataset
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.train import train_detector
from fakescope.gan.train import train_gan
from fakescope.runs import MetricsLog
from fakescope.training.budget import MIN_USEFUL_STEPS, clock_seconds

BUDGET_MINUTES = 0.5
SPENT_BEFORE = 24.0  # seconds of the budget "spent" before the trainer was called
TAIL = 10.0  # the end of the run past the deadline a busy test machine may need


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("budget_faces")
    synthesize_dataset(out, n=32, size=32, seed=0, fakes=True)
    return out


def started_earlier() -> float:
    return clock_seconds("wall") - SPENT_BEFORE


def test_the_detector_budget_counts_from_the_start_it_is_given(
    faces: Path, tmp_path: Path
) -> None:
    config = load_config(DetectJobConfig, None, {
        "data.path": str(faces), "data.cache_dir": str(tmp_path / "cache"),
        "run.root": str(tmp_path / "runs"), "run.name": "d", "model.name": TINY,
        "train.epochs": 1000, "train.batch_size": 8, "train.max_minutes": BUDGET_MINUTES,
    })  # fmt: skip
    started = started_earlier()
    result = train_detector(config, progress=False, started=started)
    assert clock_seconds("wall") - started <= BUDGET_MINUTES * 60 + TAIL
    assert result.stop_reason == "time_limit"
    speed = json.loads((result.run.path / "speed.json").read_text())
    assert speed["step_seconds"] == {}  # a 30-second budget does not probe
    steps = sum(int(row["batches"]) for row in MetricsLog(result.run.metrics).read())
    warned = any(f"after {steps} steps" in w for w in result.warnings)
    assert warned == (steps < MIN_USEFUL_STEPS), (steps, result.warnings)


def test_the_gan_budget_counts_from_the_start_it_is_given(
    faces: Path, tmp_path: Path
) -> None:
    config = make_tiny_config(faces / "real", tmp_path, **{
        "train.epochs": 100_000, "train.max_minutes": BUDGET_MINUTES,
        "train.checkpoint_every": 1000, "metrics.feature_extractor": "efflite0",
    })
    started = started_earlier()
    result = train_gan(config, started=started,
                       extractor_factory=lambda kind: TinyPixelFeatures())
    assert clock_seconds("wall") - started <= BUDGET_MINUTES * 60 + TAIL
    assert result.interrupted is None and result.checkpoint is not None and result.step > 0
    warned = any(f"after {result.step} steps" in w for w in result.warnings)
    assert warned == (result.step < MIN_USEFUL_STEPS), (result.step, result.warnings)
