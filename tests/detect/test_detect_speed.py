"""Choosing autocast and memory layout: the candidates, and a probe that changes nothing;
re-checking the thread count while training; torch.compile as an opt-in that falls back to
eager."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from busy_clock import BusyCoreClock, busy_core_during_probe
from detect.tiny_detector import TinyDetector

from fakescope import speed
from fakescope.checkpoints import load_checkpoint
from fakescope.detect import train as train_module
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.speed import _Probe, choose_speed_settings
from fakescope.detect.train import train_detector
from fakescope.speed import (
    CompiledForward,
    SpeedSettings,
    ThreadWatch,
    candidates,
    thread_options,
)

CPU = torch.device("cpu")


@pytest.fixture
def native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the CPU has bf16 units, so the candidate lists do not depend on the machine."""
    monkeypatch.setattr(speed, "fast_mixed_precision", lambda device: True)


def test_switches_fix_or_open_the_choice(native_bf16: None) -> None:
    assert candidates(False, False, CPU) == [SpeedSettings("", False)]
    assert candidates(True, True, CPU) == [SpeedSettings("bfloat16", True)]
    assert len(candidates("auto", "auto", CPU)) == 4
    assert {s.amp_dtype for s in candidates("auto", False, CPU)} == {"", "bfloat16"}


def test_auto_leaves_out_bf16_without_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speed, "fast_mixed_precision", lambda device: False)
    assert candidates("auto", "auto", CPU) == [SpeedSettings("", False), SpeedSettings("", True)]
    assert candidates(True, False, CPU) == [SpeedSettings("bfloat16", False)]  # asked for


def test_native_bf16_detection_matches_the_cpu_flags() -> None:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo to compare with")
    flags = set(cpuinfo.read_text().split())
    assert speed.fast_mixed_precision(CPU) == ("avx512_bf16" in flags or "amx_tile" in flags)
    assert speed.fast_mixed_precision(torch.device("cuda"))


def test_thread_counts_tried() -> None:
    assert thread_options(3, CPU) == [3]
    assert thread_options("auto", torch.device("cuda")) == [0]
    torch.set_num_threads(2)  # the autouse fixture restores the count
    assert thread_options("auto", CPU) == [0, 1]
    torch.set_num_threads(1)
    assert thread_options("auto", CPU) == [0]


def test_probe_keeps_model_rng_and_threads_untouched(native_bf16: None) -> None:
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
    monkeypatch: pytest.MonkeyPatch, native_bf16: None
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


def test_compiled_forward_computes_the_same_and_times_its_first_call() -> None:
    torch.manual_seed(0)
    model = TinyDetector().eval()
    images = torch.randn(2, 3, 32, 32)
    # The eager backend traces with dynamo but generates no code, so this needs no compiler.
    forward = CompiledForward(model, "tiny", backend="eager")
    assert forward.compile_seconds is None
    assert torch.allclose(forward(images), model(images))
    assert forward.compiled and forward.compile_seconds is not None
    assert forward.compile_seconds > 0 and forward.error == ""
    first = forward.compile_seconds
    forward(images)
    assert forward.compile_seconds == first  # only the first call is the compile time
    assert list(model.state_dict()) == list(TinyDetector().state_dict())  # keys unchanged


def test_compiled_forward_falls_back_to_eager_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_compile(module: torch.nn.Module, backend: str) -> object:
        def call(*args: object) -> object:
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\nmore")
        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    model = TinyDetector().eval()
    images = torch.randn(2, 3, 32, 32)
    forward = CompiledForward(model, "tiny")
    with pytest.warns(RuntimeWarning, match=r"torch\.compile failed for tiny, running it eagerly"):
        out = forward(images)
    assert torch.equal(out, model(images))
    assert not forward.compiled and forward.compile_seconds is None
    assert forward.error == "RuntimeError: InvalidCxxCompiler: No working C++ compiler found"
    assert "running it eagerly" in caplog.text
    assert torch.equal(forward(images), out)  # later calls stay eager, without new warnings


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("cc") is None,
                    reason="inductor needs a C++ compiler on the CPU")
def test_inductor_compiles_a_training_step() -> None:
    torch.manual_seed(0)
    model = TinyDetector()
    forward = CompiledForward(model, "tiny")
    loss = forward(torch.randn(4, 3, 32, 32)).sum()
    loss.backward()
    assert forward.compiled and forward.compile_seconds is not None
    assert all(p.grad is not None for p in model.parameters())


def test_thread_watch_switches_when_another_count_is_clearly_faster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(speed, "clock", BusyCoreClock())
    torch.set_num_threads(2)
    records: list[dict] = []
    watch = ThreadWatch(SpeedSettings(threads=1), "auto", CPU, records.append)
    for _ in range(60):
        with watch.step():
            assert torch.get_num_threads() in (1, 2)
    assert watch.settings == SpeedSettings(threads=0)
    assert torch.get_num_threads() == 2
    first = records[0]
    assert first["switched"] and (first["threads_before"], first["threads_after"]) == (1, 2)
    assert first["step_seconds"] == {"threads=1": 1.5, "threads=2": 1.0}
    # Not before 1/RECHECK_SHARE steps: one trial step then costs about that share of the run.
    assert first["train_seconds"] >= 1.5 / speed.RECHECK_SHARE


def test_thread_watch_keeps_a_good_choice_at_a_small_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speed, "clock", BusyCoreClock())
    torch.set_num_threads(2)
    records: list[dict] = []
    watch = ThreadWatch(SpeedSettings(threads=0), "auto", CPU, records.append)
    for _ in range(2000):
        with watch.step():
            pass
    assert watch.settings == SpeedSettings(threads=0) and len(records) >= 3
    assert not any(r["switched"] for r in records)
    assert sum(r["cost_seconds"] for r in records) < speed.RECHECK_SHARE * watch.trained
    fixed = ThreadWatch(SpeedSettings(threads=1), 1, CPU, records.append)
    for _ in range(200):
        with fixed.step():
            pass
    assert fixed.checks == 0


def test_a_run_probed_on_a_busy_core_recovers_the_faster_thread_count(
    monkeypatch: pytest.MonkeyPatch, make_config: Callable[..., DetectJobConfig]
) -> None:
    busy_core_during_probe(monkeypatch, train_module, "choose_speed_settings")
    torch.set_num_threads(2)
    result = train_detector(make_config(train__threads="auto", train__batch_size=4),
                            progress=False)
    record = json.loads((result.run.path / "speed.json").read_text())
    assert record["chosen"]["threads"] == 1  # the probe saw two threads at their worst
    switch = record["rechecks"][0]
    assert switch["switched"] and switch["threads_after"] == 2
    assert result.speed.threads == 0
    assert load_checkpoint(result.last_checkpoint)["train_state"]["speed"]["threads"] == 0


def test_a_probe_past_its_time_share_keeps_what_it_timed(
    monkeypatch: pytest.MonkeyPatch, native_bf16: None
) -> None:
    now = [0.0]
    monkeypatch.setattr(speed, "clock", lambda: now[0])
    steps: list[tuple[str, bool]] = []

    def step_seconds(self: _Probe) -> float:
        steps.append((self.settings.amp_dtype, self.settings.channels_last))
        now[0] += 1.0  # every step takes a second
        return 1.0 + 0.1 * len(steps)

    monkeypatch.setattr(_Probe, "step_seconds", step_seconds)
    chosen, timings = choose_speed_settings(TinyDetector(), 16, 4, CPU, "auto", "auto", 1,
                                            max_seconds=5.0)
    assert len(steps) == 5  # four warm-ups, one timed step; then the share is spent
    assert chosen == SpeedSettings("", False, 1) and list(timings) == [
        "amp=off,channels_last=False,threads=1"]


def test_no_share_no_probe(monkeypatch: pytest.MonkeyPatch, native_bf16: None) -> None:
    monkeypatch.setattr(_Probe, "step_seconds", lambda self: pytest.fail("probed"))
    chosen, timings = choose_speed_settings(TinyDetector(), 16, 4, CPU, "auto", "auto", 1,
                                            max_seconds=0.0)
    # native bf16: mixed precision in channels-last, untimed
    assert chosen == SpeedSettings("bfloat16", True, 1) and timings == {}
