"""Threads, mixed precision and memory format: the settings that train a model fastest here.

Each helps or hurts depending on the model, the input size and the machine. Measured on one
2-core AVX-512 CPU: bf16 autocast made paper 002's VGG-style CNN 4x faster and EfficientNet-B0
slower; channels_last helped EfficientNet-B0 and not the VGG; and while other processes kept the
cores busy, one thread instead of two made EfficientNet-B0 steps about 35x faster, because every
small operator's OpenMP barrier then waits for a descheduled thread. So "auto" times a few
training steps of copies of the model under each candidate and keeps the fastest; the choice is
stored in the checkpoint so a resumed run continues with the same arithmetic.

A probe lasts seconds, and a load that passes in seconds (another process on one core) can make
one thread look best for a run of many minutes; so while training, `ThreadWatch` re-checks the
thread count now and then on a few real steps and switches when another count is clearly faster.

This module holds the settings, the candidate timing (`pick_fastest`, given any probe that trains
one step), the re-check during training (`ThreadWatch`) and the `torch.compile` opt-in
(`CompiledForward`); each trainer brings its own probe (fakescope.detect.speed,
fakescope.gan.speed) and runs its steps inside the shared watch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import math
import os
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import torch

from fakescope.config import ConfigError

Switch = Literal["auto"] | bool
Threads = Literal["auto"] | int
_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
log = logging.getLogger("fakescope.speed")
clock = time.perf_counter  # the timer of probes and of ThreadWatch (tests replace it)


@dataclass(frozen=True)
class SpeedSettings:
    """Autocast dtype ("" for fp32), channels_last layout, and CPU threads (0: leave as is)."""

    amp_dtype: str = ""
    channels_last: bool = False
    threads: int = 0

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        if not self.amp_dtype:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=_DTYPES[self.amp_dtype])

    def needs_grad_scaler(self, device: torch.device) -> bool:
        # fp16 gradients underflow without loss scaling; bf16 has fp32's exponent range.
        return device.type == "cuda" and self.amp_dtype == "float16"

    def thread_count(self) -> contextlib.AbstractContextManager[None]:
        """Use `threads` CPU threads inside the block, and the caller's count again after it."""
        return torch_threads(self.threads)

    def describe(self) -> str:
        threads = self.threads or torch.get_num_threads()
        return f"amp={self.amp_dtype or 'off'},channels_last={self.channels_last},threads={threads}"

    def to_dict(self) -> dict[str, Any]:
        return {"amp_dtype": self.amp_dtype, "channels_last": self.channels_last,
                "threads": self.threads}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpeedSettings:
        return cls(str(data["amp_dtype"]), bool(data["channels_last"]), int(data["threads"]))


def mixed_precision_dtype(device: torch.device) -> str:
    """bf16 where the device has it (every CPU autocast, recent GPUs), else fp16."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "float16"
    return "bfloat16"


def fast_mixed_precision(device: torch.device) -> bool:
    """Whether mixed precision is worth timing: on GPUs always; on CPUs only with native bf16
    dot products (AVX512-BF16 or AMX). Elsewhere oneDNN emulates bf16 in fp32 units, so auto
    leaves it out rather than spend probe steps on it."""
    if device.type != "cpu":
        return True
    native = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in native)


def thread_options(threads: Threads, device: torch.device) -> list[int]:
    """CPU thread counts worth trying; GPUs keep the caller's count."""
    if threads != "auto":
        return [threads]
    if device.type != "cpu" or torch.get_num_threads() == 1:
        return [0]
    return [0, 1]


def candidates(
    amp: Switch, channels_last: Switch, device: torch.device, threads: int = 0
) -> list[SpeedSettings]:
    mixed = mixed_precision_dtype(device)
    if amp == "auto":
        amp_options = ["", mixed] if fast_mixed_precision(device) else [""]
    else:
        amp_options = [mixed] if amp else [""]
    layout_options = [False, True] if channels_last == "auto" else [bool(channels_last)]
    return [
        SpeedSettings(a, c, threads) for a, c in itertools.product(amp_options, layout_options)
    ]


class Probe(Protocol):
    """Private copies of a model that train one step at a time under one candidate setting."""

    def step_seconds(self) -> float: ...


def time_candidates(
    probes: Sequence[Probe], rounds: int, deadline: float | None = None
) -> list[float]:
    """Each probe's fastest step. Probes take turns, one step each per round, so on a machine
    whose load drifts they are compared under the same conditions. Past `deadline` (a time of
    `clock`) no further step is timed: candidates not yet timed read infinite, so the first
    one, the default setting, wins when none was."""
    def due() -> bool:
        return deadline is None or clock() < deadline

    for probe in probes:  # the first step pays one-off costs (allocation, kernel choice)
        if due():
            probe.step_seconds()
    best = [probe.step_seconds() if due() else math.inf for probe in probes]
    for _ in range(rounds - 1):
        leader = min(best)
        # A candidate 3x slower than the leader cannot win; sparing its steps keeps a probe
        # short even where one setting is pathologically slow.
        best = [min(b, p.step_seconds()) if b < 3 * leader and due() else b
                for b, p in zip(best, probes, strict=True)]
    return best


def pick_fastest(
    make_probe: Callable[[SpeedSettings], Probe],
    device: torch.device,
    amp: Switch,
    channels_last: Switch,
    threads: Threads,
    rounds: int = 3,
    max_seconds: float | None = None,
) -> tuple[SpeedSettings, dict[str, float]]:
    """The fastest candidate, and the measured seconds per step of each (empty if no choice).

    Threads are settled first, in fp32 and the default layout, then precision and layout with
    that thread count. Call it inside `preserved_rng` when probes draw random numbers. With
    `max_seconds`, no step starts past that many seconds (a time budget's share): what was
    not timed by then is not chosen.
    """
    deadline = None if max_seconds is None else clock() + max_seconds
    timings: dict[str, float] = {}
    counts = thread_options(threads, device)
    chosen_threads = counts[0]
    if max_seconds is not None and max_seconds <= 0:
        return untimed_choice(amp, channels_last, device, chosen_threads), timings
    if len(counts) > 1:
        fp32 = [SpeedSettings(threads=n) for n in counts]
        seconds = time_candidates([make_probe(s) for s in fp32], rounds, deadline)
        timings.update({f"fp32,threads={n or torch.get_num_threads()}": t
                        for n, t in zip(counts, seconds, strict=True) if math.isfinite(t)})
        chosen_threads = counts[seconds.index(min(seconds))]
    options = candidates(amp, channels_last, device, chosen_threads)
    if len(options) == 1:
        return options[0], timings
    seconds = time_candidates([make_probe(s) for s in options], rounds, deadline)
    timings.update({s.describe(): t for s, t in zip(options, seconds, strict=True)
                    if math.isfinite(t)})
    return options[seconds.index(min(seconds))], timings


def untimed_choice(
    amp: Switch, channels_last: Switch, device: torch.device, threads: int = 0
) -> SpeedSettings:
    """The setting taken without a probe (no time for one): where the device runs mixed
    precision natively, mixed precision in the channels-last layout its convolution kernels
    prefer (what the probe chose for both trainers on an AVX-512 BF16 CPU,
    benchmarks/budget_bound.md); elsewhere fp32 in the default layout."""
    options = candidates(amp, channels_last, device, threads)
    if not fast_mixed_precision(device):
        return options[0]
    return max(options, key=lambda o: (bool(o.amp_dtype), o.channels_last))


def timed_step(settings: SpeedSettings, device: torch.device, step: Callable[[], object]) -> float:
    """Seconds one call of `step` takes under `settings`' thread count, finished on the device
    (CUDA kernels run asynchronously, so the clock stops after a synchronisation)."""
    with settings.thread_count():
        start = clock()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return clock() - start


def preserved_rng(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """Every global RNG as it was after the block, so probing does not change the real run."""
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])


class CompiledForward:
    """`module` called through `torch.compile`, or eagerly where compiling fails.

    torch.compile traces and compiles on the first call (and the backward graph on the first
    backward pass), which can take tens of seconds on a CPU; that first call is timed and logged
    as `compile_seconds`. A failure (no C++ compiler, an unsupported operator) logs a warning and
    every call from then on runs the module eagerly. Parameters and buffers stay the module's, so
    its state_dict keeps its keys and checkpoints do not depend on compilation.
    """

    def __init__(
        self, module: torch.nn.Module, name: str, backend: str = "inductor",
        logger: logging.Logger = log,
    ) -> None:
        self.module, self.name, self.logger = module, name, logger
        self._call: Callable[..., Any] = torch.compile(module, backend=backend)
        self.compile_seconds: float | None = None
        self.error = ""

    @property
    def compiled(self) -> bool:
        return self._call is not self.module

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.compiled:
            return self.module(*args, **kwargs)
        start = time.perf_counter()
        try:
            out = self._call(*args, **kwargs)
        except Exception as err:  # compilers fail in many ways; eager still computes the same
            self._fall_back(err)
            return self.module(*args, **kwargs)
        if self.compile_seconds is None:
            self.compile_seconds = time.perf_counter() - start
            self.logger.info("torch.compile: %s compiled in %.1f s (first call)", self.name,
                             self.compile_seconds)
        return out

    def _fall_back(self, err: Exception) -> None:
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        self.error = f"{type(err).__name__}: {first_line}"
        message = f"torch.compile failed for {self.name}, running it eagerly: {self.error}"
        self.logger.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        self._call = self.module


# The one place fakescope counts cores and sets PyTorch's CPU threads.


def usable_cores() -> int:
    """CPU cores this process may run on (honours affinity and container limits on Linux)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """PyTorch's CPU thread count set to `count` inside the block (0: left as it is), and the
    caller's count again after it."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def set_torch_threads(count: int) -> None:
    """Threads PyTorch spreads one operation over, for the whole process (a server, at start)."""
    if count < 1:
        raise ConfigError(f"threads must be at least 1, got {count}")
    torch.set_num_threads(count)


# -- re-checking the thread count during training -------------------------------------------

# The probe's thread choice can be made during a passing load (another process busy on one
# core for a few seconds) and would then hold for the whole run. So training re-checks it:
# now and then a few steps alternate between the current count and the others, and the run
# switches when another count is clearly faster. Only the thread count is re-checked: it is the
# setting a passing load flips (OpenMP teams wait for descheduled threads), and changing it
# changes neither the model's layout nor its precision.
RECHECK_FIRST_SECONDS = 30.0  # the earliest first re-check, in seconds of training steps
RECHECK_SHARE = 0.02  # re-checks are spaced so their extra cost stays near this share
RECHECK_MAX_INTERVAL = 600.0  # a confirmed choice is re-checked at least this often
TRIAL_ROUNDS = 2  # steps of each thread count per re-check, taking turns
SWITCH_MARGIN = 0.10  # another count must be this much faster (beyond step-to-step noise)
GIVE_UP_RATIO = 1.5  # a trial step this much slower than the current count's ends the re-check

class ThreadWatch:
    """Times training steps and re-checks the thread count while a run trains.

    Trainers run every step inside `step()`; `settings` is the setting to checkpoint. With one
    thread count to consider (fixed in the config, a GPU, a one-core machine) it only times.
    `on_check(record)` receives each re-check's record (for speed.json).
    """

    def __init__(
        self,
        settings: SpeedSettings,
        threads: Threads,
        device: torch.device,
        on_check: Callable[[dict[str, Any]], None] = lambda record: None,
    ) -> None:
        self.settings, self.on_check = settings, on_check
        self.full = torch.get_num_threads()  # what threads=0 means
        options = thread_options(threads, device)
        if settings.threads not in options:  # a resumed run's choice, or a fixed count
            options = [settings.threads]
        self.options = options
        self.trained = 0.0  # seconds spent in steps
        self.steps = 0
        self.checks = 0
        self.interval = RECHECK_FIRST_SECONDS
        self.next_check = RECHECK_FIRST_SECONDS
        self._recent: list[float] = []  # the last steps' seconds under the current setting
        self._trial: list[int] = []  # thread counts of the trial steps still to run
        self._timings: dict[int, list[float]] = {}

    def count(self, threads: int) -> int:
        return threads or self.full

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """One training step, under the current thread count or a trial's."""
        if not self._trial and len(self.options) > 1 and self.trained >= self._first_due():
            self._start_trial()
        threads = self._trial.pop(0) if self._trial else self.settings.threads
        torch.set_num_threads(self.count(threads))
        start = clock()
        yield
        seconds = clock() - start
        self.trained += seconds
        self.steps += 1
        if threads in self._timings:
            self._timings[threads].append(seconds)
            self._give_up_if_hopeless(threads, seconds)
            if not self._trial:
                self._finish_trial()
        else:
            self._recent = [*self._recent[-4:], seconds]
        torch.set_num_threads(self.count(self.settings.threads))

    def _first_due(self) -> float:
        if self.checks or not self._recent:
            return self.next_check
        # Before any re-check: after 1/RECHECK_SHARE steps, so one step of a twice slower
        # count costs about RECHECK_SHARE of what came before.
        return max(self.next_check, statistics.median(self._recent) / RECHECK_SHARE)

    def _start_trial(self) -> None:
        current = self.settings.threads
        others = [n for n in self.options if n != current]
        self._timings = {n: [] for n in self.options}
        self._trial = [n for _ in range(TRIAL_ROUNDS) for n in (current, *others)]

    def _give_up_if_hopeless(self, threads: int, seconds: float) -> None:
        mine = self._timings[self.settings.threads]
        if threads != self.settings.threads and mine and seconds > GIVE_UP_RATIO * min(mine):
            self._trial = [n for n in self._trial if n != threads]

    def _finish_trial(self) -> None:
        current = self.settings.threads
        best = {n: min(t) for n, t in self._timings.items() if t}
        fastest = min(best, key=best.__getitem__)
        switch = fastest != current and best[fastest] < (1 - SWITCH_MARGIN) * best[current]
        # Extra seconds the trial cost: its steps beyond what the current count would have taken.
        cost = sum(max(0.0, s - best[current]) for n, t in self._timings.items() if n != current
                   for s in t)
        self.checks += 1
        record = {
            "check": self.checks, "step": self.steps, "train_seconds": round(self.trained, 3),
            "step_seconds": {f"threads={self.count(n)}": round(s, 6) for n, s in best.items()},
            "threads_before": self.count(current),
            "threads_after": self.count(fastest if switch else current),
            "switched": switch, "cost_seconds": round(cost, 3),
        }
        if switch:
            self.settings = dataclasses.replace(self.settings, threads=fastest)
            self._recent = []
            self.interval = RECHECK_FIRST_SECONDS
            log.info("speed re-check: %d threads are faster now, switching (%s)",
                     self.count(fastest), record["step_seconds"])
        else:
            self.interval = min(2 * self.interval, RECHECK_MAX_INTERVAL)
        self.next_check = self.trained + max(self.interval, cost / RECHECK_SHARE)
        self._timings = {}
        self.on_check(record)


def append_recheck(path: Path, record: dict[str, Any]) -> None:
    """Add a re-check's record to the "rechecks" list of a run's speed.json."""
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.setdefault("rechecks", []).append(record)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)
