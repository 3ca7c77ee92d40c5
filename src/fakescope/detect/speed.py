"""Threads, mixed precision and memory format: the settings that train this model fastest here.

Each helps or hurts depending on the model, the input size and the machine. Measured on one
2-core AVX-512 CPU: bf16 autocast made paper 002's VGG-style CNN 4x faster and EfficientNet-B0
slower; channels_last helped EfficientNet-B0 and not the VGG; and while other processes kept the
cores busy, one thread instead of two made EfficientNet-B0 steps about 35x faster, because every
small operator's OpenMP barrier then waits for a descheduled thread. So "auto" times a few
training steps of copies of the model under each candidate and keeps the fastest; the choice is
stored in the checkpoint so a resumed run continues with the same arithmetic.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch

from fakescope.models.registry import Detector, detector_loss

Switch = Literal["auto"] | bool
_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


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

    @contextlib.contextmanager
    def thread_count(self) -> Iterator[None]:
        """Use `threads` CPU threads inside the block, and the caller's count again after it."""
        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

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


def thread_options(threads: Literal["auto"] | int, device: torch.device) -> list[int]:
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
    amp_options = ["", mixed] if amp == "auto" else [mixed] if amp else [""]
    layout_options = [False, True] if channels_last == "auto" else [bool(channels_last)]
    return [
        SpeedSettings(a, c, threads) for a, c in itertools.product(amp_options, layout_options)
    ]


class _Probe:
    """A private copy of the model, trained one step at a time under one candidate setting."""

    def __init__(
        self, model: Detector, settings: SpeedSettings, images: torch.Tensor, labels: torch.Tensor
    ) -> None:
        self.settings, self.labels = settings, labels
        self.model = copy.deepcopy(model).to(images.device).train()
        self.model = self.model.to(memory_format=settings.memory_format)
        self.images = images.contiguous(memory_format=settings.memory_format)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=1e-6)

    def step_seconds(self) -> float:
        device = self.images.device
        with self.settings.thread_count():
            start = time.perf_counter()
            with self.settings.autocast(device):
                logits = self.model(self.images)
            loss = detector_loss(logits.float(), self.labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return time.perf_counter() - start


def _time_candidates(
    model: Detector, options: list[SpeedSettings], images: torch.Tensor, labels: torch.Tensor,
    rounds: int,
) -> list[float]:
    """Each candidate's fastest step. Candidates take turns, one step each per round, so on a
    machine whose load drifts they are compared under the same conditions."""
    probes = [_Probe(model, settings, images, labels) for settings in options]
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


def choose_speed_settings(
    model: Detector,
    image_size: int,
    batch_size: int,
    device: torch.device,
    amp: Switch,
    channels_last: Switch,
    threads: Literal["auto"] | int = 0,
    rounds: int = 3,
) -> tuple[SpeedSettings, dict[str, float]]:
    """The fastest candidate, and the measured seconds per step of each (empty if no choice).

    Threads are settled first, in fp32, then precision and layout with that thread count. The
    probe trains deep copies on random inputs and leaves every global RNG as it found it, so
    choosing does not change what the real run computes.
    """
    timings: dict[str, float] = {}
    fork_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        probe_batch = max(2, min(batch_size, 8))  # BatchNorm needs more than one sample
        images = torch.randn(probe_batch, 3, image_size, image_size, device=device)
        labels = torch.arange(probe_batch, device=device) % 2
        counts = thread_options(threads, device)
        chosen_threads = counts[0]
        if len(counts) > 1:
            fp32 = [SpeedSettings(threads=n) for n in counts]
            seconds = _time_candidates(model, fp32, images, labels, rounds)
            timings.update({f"fp32,threads={n or torch.get_num_threads()}": t
                            for n, t in zip(counts, seconds, strict=True)})
            chosen_threads = counts[seconds.index(min(seconds))]
        options = candidates(amp, channels_last, device, chosen_threads)
        if len(options) == 1:
            return options[0], timings
        seconds = _time_candidates(model, options, images, labels, rounds)
    timings.update({s.describe(): t for s, t in zip(options, seconds, strict=True)})
    return options[seconds.index(min(seconds))], timings
