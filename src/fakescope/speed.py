"""Threads, mixed precision and memory format: the settings that train a model fastest here.

Each helps or hurts depending on the model, the input size and the machine. Measured on one
2-core AVX-512 CPU: bf16 autocast made paper 002's VGG-style CNN 4x faster and EfficientNet-B0
slower; channels_last helped EfficientNet-B0 and not the VGG; and while other processes kept the
cores busy, one thread instead of two made EfficientNet-B0 steps about 35x faster, because every
small operator's OpenMP barrier then waits for a descheduled thread. So "auto" times a few
training steps of copies of the model under each candidate and keeps the fastest; the choice is
stored in the checkpoint so a resumed run continues with the same arithmetic.

This module holds the settings, the candidate timing (`pick_fastest`, given any probe that trains
one step) and the `torch.compile` opt-in (`CompiledForward`); each trainer brings its own probe
(fakescope.detect.speed, fakescope.gan.speed).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import torch

from fakescope.config import ConfigError

Switch = Literal["auto"] | bool
Threads = Literal["auto"] | int
_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
log = logging.getLogger("fakescope.speed")


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


def time_candidates(probes: Sequence[Probe], rounds: int) -> list[float]:
    """Each probe's fastest step. Probes take turns, one step each per round, so on a machine
    whose load drifts they are compared under the same conditions."""
    for probe in probes:  # the first step pays one-off costs (allocation, kernel choice)
        probe.step_seconds()
    best = [probe.step_seconds() for probe in probes]
    for _ in range(rounds - 1):
        leader = min(best)
        # A candidate 3x slower than the leader cannot win; sparing its steps keeps a probe
        # short even where one setting is pathologically slow.
        best = [min(b, p.step_seconds()) if b < 3 * leader else b
                for b, p in zip(best, probes, strict=True)]
    return best


def pick_fastest(
    make_probe: Callable[[SpeedSettings], Probe],
    device: torch.device,
    amp: Switch,
    channels_last: Switch,
    threads: Threads,
    rounds: int = 3,
) -> tuple[SpeedSettings, dict[str, float]]:
    """The fastest candidate, and the measured seconds per step of each (empty if no choice).

    Threads are settled first, in fp32 and the default layout, then precision and layout with
    that thread count. Call it inside `preserved_rng` when probes draw random numbers.
    """
    timings: dict[str, float] = {}
    counts = thread_options(threads, device)
    chosen_threads = counts[0]
    if len(counts) > 1:
        fp32 = [SpeedSettings(threads=n) for n in counts]
        seconds = time_candidates([make_probe(s) for s in fp32], rounds)
        timings.update({f"fp32,threads={n or torch.get_num_threads()}": t
                        for n, t in zip(counts, seconds, strict=True)})
        chosen_threads = counts[seconds.index(min(seconds))]
    options = candidates(amp, channels_last, device, chosen_threads)
    if len(options) == 1:
        return options[0], timings
    seconds = time_candidates([make_probe(s) for s in options], rounds)
    timings.update({s.describe(): t for s, t in zip(options, seconds, strict=True)})
    return options[seconds.index(min(seconds))], timings


def timed_step(settings: SpeedSettings, device: torch.device, step: Callable[[], object]) -> float:
    """Seconds one call of `step` takes under `settings`' thread count, finished on the device
    (CUDA kernels run asynchronously, so the clock stops after a synchronisation)."""
    with settings.thread_count():
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start


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
