"""Work after training is charged to the detector's time budget (issue 27: `train`'s
calibration ran after `--max-minutes` was spent)."""

from __future__ import annotations

from pathlib import Path

from detect.tiny_detector import TINY

from fakescope.config import load_config
from fakescope.data.pipeline import PreparedData
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.train import train_detector
from fakescope.training.budget import clock_seconds

END_WORK_S = 8.0


def test_training_leaves_the_time_its_end_work_asks_for(
    faces: Path, cache_dir: Path, tmp_path: Path
) -> None:
    asked: list[float] = []

    def end_work(prepared: PreparedData, image_seconds: float) -> float:
        asked.append(image_seconds)
        assert prepared.size("val") > 0
        return END_WORK_S

    config = load_config(DetectJobConfig, None, {
        "data.path": str(faces), "data.cache_dir": str(cache_dir), "run.root": str(tmp_path),
        "run.name": "end", "model.name": TINY, "train.epochs": 100_000, "train.batch_size": 8,
        "train.max_minutes": 0.3, "train.amp": False, "train.channels_last": False,
    })  # fmt: skip
    started = clock_seconds("wall")
    result = train_detector(config, progress=False, started=started, end_work=end_work)
    assert result.stop_reason == "time_limit"
    assert asked and all(seconds > 0 for seconds in asked)  # a measured forward pace
    assert result.seconds_left >= END_WORK_S * 0.75, result.seconds_left
    assert clock_seconds("wall") - started <= 0.3 * 60

