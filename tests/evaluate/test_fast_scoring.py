"""Fast scoring: a long scoring job probes equivalent forward passes and keeps the fastest, which
changes speed and never results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fakescope.config import DataConfig
from fakescope.evaluate.options import EvalOptions
from fakescope.evaluate.robustness import robustness_sweep
from fakescope.evaluate.scoring import prepare_evaluation_data, scoring_path
from fakescope.inference import fastest
from fakescope.inference.fastest import (
    CHANNELS_LAST,
    EAGER,
    ONNXRUNTIME,
    fastest_scoring_path,
)
from fakescope.models.registry import load_detector

CPU = torch.device("cpu")
ALL_ON_CPU = EvalOptions(device="cpu", batch_size=16, split="all")


def _speeds(**ratios: float) -> object:
    """Stands in for the timing: eager at 100 images/s, the others at the given multiples."""
    names = {"eager": EAGER, "channels_last": CHANNELS_LAST, "onnx": ONNXRUNTIME}

    def timed(paths: dict[str, torch.nn.Module], batch: torch.Tensor) -> dict[str, float]:
        given = {names[k]: 100.0 * v for k, v in ratios.items()}
        return {name: given.get(name, 100.0) for name in paths}

    return timed


def test_short_jobs_and_other_devices_keep_eager_without_a_probe(
    one_logit_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load_detector(one_logit_checkpoint)
    monkeypatch.setattr(fastest, "_candidates", lambda _: pytest.fail("probed"))
    batch = torch.zeros(2, 3, 64, 64)
    few = fastest_scoring_path(loaded, batch, CPU, fastest.MIN_IMAGES_TO_PROBE - 1)
    assert few.name == EAGER and few.model is loaded.model and few.images_per_second == {}
    gpu = fastest_scoring_path(loaded, batch, torch.device("cuda"), 10**6)
    assert gpu.name == EAGER


@pytest.mark.parametrize(
    ("ratios", "chosen"),
    [
        ({"onnx": 3.0, "channels_last": 1.5}, ONNXRUNTIME),
        ({"onnx": 0.8, "channels_last": 1.5}, CHANNELS_LAST),
        ({"onnx": 1.05, "channels_last": 1.08}, EAGER),  # within MIN_GAIN: not worth a switch
    ],
)
def test_the_fastest_path_wins_only_by_a_margin(
    one_logit_checkpoint: Path, monkeypatch: pytest.MonkeyPatch,
    ratios: dict[str, float], chosen: str,
) -> None:
    monkeypatch.setattr(fastest, "_images_per_second", _speeds(**ratios))
    loaded = load_detector(one_logit_checkpoint)
    path = fastest_scoring_path(loaded, torch.zeros(2, 3, 64, 64), CPU, 10**6)
    assert path.name == chosen
    assert set(path.images_per_second) == {EAGER, CHANNELS_LAST, ONNXRUNTIME}


@pytest.mark.parametrize("checkpoint", ["one_logit_checkpoint", "two_logit_checkpoint"])
def test_every_candidate_gives_the_same_logits(
    checkpoint: str, request: pytest.FixtureRequest, data_config: DataConfig
) -> None:
    loaded = load_detector(request.getfixturevalue(checkpoint))
    prepared = prepare_evaluation_data(loaded, data_config, seed=0)
    batch, _ = next(iter(prepared.loader("train", 16, shuffle=False, augment=False)))
    paths = fastest._candidates(loaded)
    assert set(paths) == {EAGER, CHANNELS_LAST, ONNXRUNTIME}
    with torch.inference_mode():
        logits = {name: model(batch) for name, model in paths.items()}
    for name in (CHANNELS_LAST, ONNXRUNTIME):
        torch.testing.assert_close(logits[name], logits[EAGER], atol=1e-5, rtol=1e-5)


def test_a_sweep_through_onnxruntime_measures_what_eager_measures(
    one_logit_checkpoint: Path, data_config: DataConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeps = {"blur": (0.0, 2.0), "jpeg": (90, 30)}
    eager = robustness_sweep([one_logit_checkpoint], data_config, ALL_ON_CPU, sweeps)
    monkeypatch.setattr(fastest, "MIN_IMAGES_TO_PROBE", 1)
    monkeypatch.setattr(fastest, "_images_per_second", _speeds(onnx=3.0))
    loaded = load_detector(one_logit_checkpoint)
    prepared = prepare_evaluation_data(loaded, data_config, seed=0)
    assert scoring_path(loaded, prepared, "all", CPU, 16, passes=4).name == ONNXRUNTIME
    fast = robustness_sweep([one_logit_checkpoint], data_config, ALL_ON_CPU, sweeps)
    for a, b in zip(eager.rows, fast.rows, strict=True):
        assert (a["corruption"], a["strength"]) == (b["corruption"], b["strength"])
        for metric in ("accuracy", "roc_auc", "log_loss"):
            assert np.isclose(a["metrics"][metric], b["metrics"][metric], atol=1e-6)
