"""Choosing autocast and memory layout: the candidates, and a probe that changes nothing."""

from __future__ import annotations

import pytest
import torch
from detect.tiny_detector import TinyDetector

from fakescope.detect.speed import (
    SpeedSettings,
    _Probe,
    candidates,
    choose_speed_settings,
    thread_options,
)

CPU = torch.device("cpu")


def test_switches_fix_or_open_the_choice() -> None:
    assert candidates(False, False, CPU) == [SpeedSettings("", False)]
    assert candidates(True, True, CPU) == [SpeedSettings("bfloat16", True)]
    assert len(candidates("auto", "auto", CPU)) == 4
    assert {s.amp_dtype for s in candidates("auto", False, CPU)} == {"", "bfloat16"}


def test_thread_counts_tried() -> None:
    assert thread_options(3, CPU) == [3]
    assert thread_options("auto", torch.device("cuda")) == [0]
    torch.set_num_threads(2)  # the autouse fixture restores the count
    assert thread_options("auto", CPU) == [0, 1]
    torch.set_num_threads(1)
    assert thread_options("auto", CPU) == [0]


def test_probe_keeps_model_rng_and_threads_untouched() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = TinyDetector()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    chosen, timings = choose_speed_settings(model, 16, 4, CPU, "auto", "auto", "auto")
    assert chosen.threads in (0, 1)
    assert chosen in candidates("auto", "auto", CPU, chosen.threads)
    # Two thread counts in fp32, then four settings at the chosen count.
    assert len(timings) == 6 and all(t > 0 for t in timings.values())
    assert {"fp32,threads=1", "fp32,threads=2"} <= timings.keys()
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.get_num_threads() == 2
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_the_fastest_candidate_wins_and_hopeless_ones_stop_early(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cost = {("", False): 1.0, ("", True): 4.0, ("bfloat16", False): 0.5, ("bfloat16", True): 0.7}
    steps: list[tuple[str, bool]] = []

    def step_seconds(self: _Probe) -> float:
        key = (self.settings.amp_dtype, self.settings.channels_last)
        steps.append(key)
        return cost[key] * (1 + 0.1 * steps.count(key))

    monkeypatch.setattr(_Probe, "step_seconds", step_seconds)
    chosen, timings = choose_speed_settings(TinyDetector(), 16, 4, CPU, "auto", "auto", 1)
    assert chosen == SpeedSettings("bfloat16", False, 1)
    assert timings["amp=bfloat16,channels_last=False,threads=1"] == pytest.approx(0.5 * 1.2)
    # Warm-up and first round for all; later rounds only for those within 3x of the leader.
    assert steps.count(("", True)) == 2 and steps.count(("", False)) == 4


def test_thread_count_is_scoped() -> None:
    torch.set_num_threads(2)
    with SpeedSettings(threads=1).thread_count():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with SpeedSettings().thread_count():
        assert torch.get_num_threads() == 2


def test_fixed_settings_skip_the_probe() -> None:
    chosen, timings = choose_speed_settings(TinyDetector(), 16, 4, CPU, True, False)
    assert chosen == SpeedSettings("bfloat16", False) and timings == {}


def test_settings_round_trip_and_autocast() -> None:
    settings = SpeedSettings("bfloat16", True, 1)
    assert SpeedSettings.from_dict(settings.to_dict()) == settings
    with settings.autocast(CPU):
        out = torch.nn.Linear(4, 2)(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    assert not settings.needs_grad_scaler(CPU)
