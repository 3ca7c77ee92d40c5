"""Every checkpoint format of fakescope, and the only code that reads or writes checkpoint files.

Three payloads, each a dict with a `kind` and the format version:

    gan        GanPayload: both networks, optimizers, counters and RNG states (resumable);
               `generator` is the sampling generator (the moving average when train.ema_kimg
               is on), `generator_train` the raw one it follows
    detector   DetectorPayload: registry name and kwargs, input spec, weights, decision threshold,
               calibration (CalibrationPayload), metrics; `train_state` when it can be resumed
    (other)    a plain mapping, for tests and tools (`save_checkpoint` / `load_checkpoint`)

Writes go to a temporary file in the same folder and are renamed into place, so a crash mid-write
never leaves a truncated checkpoint; loads use `weights_only=True`, so opening a file never runs
pickled code, and every failure is a one-line `CheckpointError`. Checkpoints written before a key
existed still load: the readers below (`gan_arch`, `gan_speed`, `gan_training_generator`,
`detector_threshold`) supply what those files lack.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

import torch

from fakescope.errors import FakescopeError
from fakescope.runs import RunDir, readable_by_others
from fakescope.speed import SpeedSettings

FORMAT_VERSION = 1
StateDict = dict[str, Any]


class CheckpointError(FakescopeError, RuntimeError):
    """A checkpoint is missing, unreadable, of the wrong kind, or of a format this version cannot
    read."""


class CalibrationPayload(TypedDict, total=False):
    """`fakescope.models.calibration.Calibration` as stored in a detector checkpoint."""

    method: str
    temperature: float
    offset: float
    band_low: float | None
    band_high: float | None
    target_fake_called_real: float | None
    target_real_called_fake: float | None
    fitted_on: str
    n: int
    ece_before: float | None
    ece_after: float | None
    nll_before: float | None
    nll_after: float | None
    band_basis: str


class DetectorPayload(TypedDict, total=False):
    kind: Literal["detector"]
    format_version: int
    detector: dict[str, Any]  # {"name": registry name, "kwargs": constructor arguments}
    input_spec: dict[str, Any]  # InputSpec.to_dict()
    state_dict: StateDict
    threshold: float  # absent before thresholds were stored: 0.5
    metrics: dict[str, Any]
    calibration: CalibrationPayload  # absent before calibration: the identity
    feature_density: dict[str, Any]  # FeatureDensity.to_payload(); absent: no such check
    threshold_method: str  # the rule, split and value that chose the threshold, if one did
    threshold_value: float | None
    threshold_split: str
    config: dict[str, Any]  # the training job's resolved config
    epoch: int  # best.pt: the epoch it holds
    train_state: dict[str, Any]  # last.pt and step checkpoints: what resuming needs
    source: dict[str, Any]  # exported from a GAN: which checkpoint and step


class GanPayload(TypedDict, total=False):
    kind: Literal["gan"]
    format_version: int
    arch: str  # absent before the GAN registry: dcgan
    config: dict[str, Any]
    generator_kwargs: dict[str, Any]
    discriminator_kwargs: dict[str, Any]
    generator: StateDict  # what sampling uses: the moving average when it is on
    generator_train: StateDict  # the raw generator, only when the moving average is on
    discriminator: StateDict
    opt_g: StateDict
    opt_d: StateDict
    state: dict[str, Any]  # the trainer's counters (step, epoch, batch, epoch sums)
    rng: dict[str, Any]  # reproducibility.rng_state()
    augment_rng: torch.Tensor  # DiffAugment's generator state; absent before DiffAugment
    speed: dict[str, Any]  # SpeedSettings.to_dict(); absent before speed settings: fp32


# -- any payload --------------------------------------------------------------------------------


def save_checkpoint(path: Path, payload: Mapping[str, Any]) -> None:
    """Save a checkpoint dict atomically, stamped with the format version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save({**payload, "format_version": FORMAT_VERSION}, tmp)
        readable_by_others(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint without running pickled code; check its format version."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"cannot read checkpoint {path}: the file is empty")
    if not _looks_like_torch_save(path):
        raise CheckpointError(f"cannot read checkpoint {path}: not a PyTorch checkpoint (neither "
                              "the zip archive nor the pickle torch.save writes)")
    try:
        with warnings.catch_warnings():  # torch's advice about foreign pickles: our line says it
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or foreign files
        raise CheckpointError(f"cannot read checkpoint {path}: {_load_failure(err)}") from err
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise CheckpointError(f"{path} is not a fakescope checkpoint (no format_version)")
    if payload["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {payload['format_version']}, newer than this "
            f"fakescope reads ({FORMAT_VERSION}); upgrade fakescope"
        )
    return payload


def checkpoint_kind(path: str | Path) -> str | None:
    """The `kind` of the checkpoint at `path` (None for a plain one)."""
    return load_checkpoint(path).get("kind")


def _looks_like_torch_save(path: Path) -> bool:
    """Whether the file starts as torch.save's output does: a zip archive (the format since
    PyTorch 1.6) or a pickle (the legacy one, protocol 2 or later)."""
    with path.open("rb") as handle:
        head = handle.read(4)
    return head.startswith((b"PK\x03\x04", b"\x80"))


# The object a refused pickle wanted to build: "GLOBAL posix.system", "GLOBAL slice".
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def _load_failure(err: Exception) -> str:
    """Why torch.load failed, in a line of fakescope's own words: never PyTorch's advice to
    load without weights_only, nor its terminal colour codes."""
    text = str(err)
    if isinstance(err, pickle.UnpicklingError):
        named = _REFUSED_GLOBAL.search(text)
        if named is None:
            return "not a PyTorch checkpoint, or damaged (its pickle holds no weights)"
        return (f"it holds an object ({named.group(1)}) that only unpickling with code "
                "execution could build; fakescope loads weights only and refuses it (a "
                "checkpoint fakescope wrote never needs that)")
    if isinstance(err, EOFError) or "PytorchStreamReader failed" in text:
        return "the file is damaged or truncated (an interrupted copy or download?)"
    return f"not a readable PyTorch checkpoint, or damaged ({type(err).__name__})"


def load_kind(
    path: str | Path, kind: str, expected: str, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """A checkpoint of `kind`; another kind is a one-line error saying it is not `expected`."""
    payload = load_checkpoint(path, map_location)
    if payload.get("kind") != kind:
        raise CheckpointError(
            f"{path} is a '{payload.get('kind', 'unknown')}' checkpoint, not {expected}"
        )
    return payload


# -- GAN ----------------------------------------------------------------------------------------


def save_gan(path: Path, payload: GanPayload) -> None:
    save_checkpoint(path, {**payload, "kind": "gan"})


def read_gan(path: str | Path, map_location: str | torch.device = "cpu") -> GanPayload:
    """A GAN checkpoint; another kind is a clear error."""
    return cast(GanPayload, load_kind(path, "gan", "a GAN checkpoint", map_location))


def resolve_gan_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run folder (its newest checkpoint)."""
    path = Path(path)
    if path.is_dir():
        latest = RunDir(path).latest_checkpoint()
        if latest is None:
            raise CheckpointError(f"run folder {path} has no checkpoints yet")
        return latest
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    return path


def read_gan_checkpoint(path: str | Path) -> tuple[Path, GanPayload]:
    """(resolved path, payload) of a GAN checkpoint file or run folder."""
    resolved = resolve_gan_checkpoint(path)
    return resolved, read_gan(resolved)


def gan_arch(payload: GanPayload) -> str:
    return payload.get("arch", "dcgan")  # checkpoints from before the GAN registry: DCGAN


def gan_speed(payload: GanPayload) -> SpeedSettings:
    """The settings the run trained with. Checkpoints from before speed settings existed trained
    in fp32, in the layout train.channels_last named."""
    if "speed" in payload:
        return SpeedSettings.from_dict(payload["speed"])
    return SpeedSettings(channels_last=bool(payload["config"]["train"]["channels_last"]))


def gan_training_generator(payload: GanPayload) -> StateDict:
    """The weights the optimizer trains: the raw generator (without a moving average, the only
    one)."""
    return payload.get("generator_train", payload["generator"])


# -- detector -----------------------------------------------------------------------------------


def save_detector_payload(path: Path, payload: DetectorPayload) -> None:
    save_checkpoint(path, {**payload, "kind": "detector"})


def read_detector(path: str | Path, map_location: str | torch.device = "cpu") -> DetectorPayload:
    """A detector checkpoint; another kind is a clear error."""
    return cast(DetectorPayload, load_kind(
        path, "detector",
        "a detector (export a GAN's discriminator with `fakescope gan export-detector`)",
        map_location,
    ))


def detector_threshold(payload: DetectorPayload) -> float:
    return float(payload.get("threshold", 0.5))  # from before thresholds were stored


def update_detector(
    path: str | Path, changes: DetectorPayload, metrics: Mapping[str, Any] | None = None
) -> None:
    """Rewrite a detector checkpoint (atomically) with `changes` over its keys and `metrics`
    added to its stored metrics."""
    payload = read_detector(path)
    payload.update(changes)
    if metrics:
        payload["metrics"] = {**(payload.get("metrics") or {}), **metrics}
    payload.pop("format_version", None)
    save_detector_payload(Path(path), payload)


def resumable_detector(paths: list[Path]) -> DetectorPayload | None:
    """Of the detector checkpoints at `paths`, the resumable one furthest along, or None."""
    payloads = [read_detector(p) for p in paths if p.is_file()]
    resumable = [p for p in payloads if "train_state" in p]
    return max(resumable, key=lambda p: p["train_state"]["step"]) if resumable else None
