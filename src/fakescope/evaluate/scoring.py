"""Running a detector over a data split: P(fake) per image, in the order of the split's samples.

Evaluation reads images through the same data layer as training (`prepare_data`, the same
cache and the checkpoint's own `InputSpec`), so eval sees exactly the pixels training saw. A
detector that scores at native resolution (`fakescope.inference.tiles`) instead reads each file
unresized and is scored on its tiles. Probabilities are the checkpoint's calibrated ones; the
raw log-odds are kept beside them, for fitting a calibration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from fakescope.config import ConfigError, DataConfig, from_dict
from fakescope.data.images import BadImageError, load_image
from fakescope.data.pipeline import PreparedData, prepare_data
from fakescope.errors import DataError
from fakescope.inference.fastest import EAGER, ScoringPath, fastest_scoring_path
from fakescope.inference.tiles import is_native, picture_log_odds
from fakescope.models.calibration import log_odds
from fakescope.models.registry import LoadedDetector

ALL_SPLITS = "all"

# Applied to each uint8 NCHW batch before normalisation (the robustness sweep's corruptions).
Perturb = Callable[[torch.Tensor, int], torch.Tensor]


@dataclass
class Scores:
    """True labels, calibrated P(fake) and source paths of the images of one evaluation, and
    the detector's raw log-odds of fake (before its temperature), when they were kept."""

    labels: np.ndarray
    probs: np.ndarray
    paths: list[str]
    log_odds: np.ndarray | None = None


def training_config(loaded: LoadedDetector) -> dict[str, Any]:
    """The job config saved in the checkpoint by the trainer, or {} when there is none."""
    config = loaded.extra.get("config")
    return config if isinstance(config, dict) else {}


def training_seed(loaded: LoadedDetector) -> int:
    """The seed the detector's data was split with, so its test split can be rebuilt."""
    seed = training_config(loaded).get("run", {}).get("seed", 0)
    return int(seed) if isinstance(seed, int) else 0


def evaluation_data_config(loaded: LoadedDetector, path: str, **overrides: Any) -> DataConfig:
    """The training run's data settings (layout, split fractions, face crop, cache) pointed at
    `path`, with subset limits removed so the whole split is evaluated, then `overrides`."""
    stored = dict(training_config(loaded).get("data") or {})
    stored.pop("augment", None)
    stored.pop("recon_negatives", None)  # a training-only key of the detector's data section
    try:
        base = from_dict(DataConfig, stored)
    except ConfigError:
        base = DataConfig()  # a config from another fakescope version: fall back to defaults
    values: dict[str, Any] = {"path": path, "limit_per_class": None, "limit_fraction": None}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return dataclasses.replace(base, **values)


def prepare_evaluation_data(
    loaded: LoadedDetector, data: DataConfig, seed: int, progress: bool = False
) -> PreparedData:
    """The labelled data set, preprocessed exactly as the checkpoint's model expects."""
    return prepare_data(data, loaded.input_spec, seed=seed, labelled=True, progress=progress)


def split_names(prepared: PreparedData, split: str) -> list[str]:
    """`all` means every split the data has; otherwise the one split, which must exist."""
    have = prepared.split_names()
    if split == ALL_SPLITS:
        return have
    if split not in have:
        raise DataError(f"no '{split}' split in this data set (have: {', '.join(have)}, all)")
    return [split]


@torch.inference_mode()
def score_log_odds(
    model: torch.nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, log-odds of fake in float64) over batches of (normalised images, labels)."""
    labels, scores = [], []
    for images, batch_labels in batches:
        scores.append(log_odds(model(images.to(device))).double().cpu().numpy())
        labels.append(batch_labels.numpy())
    if not labels:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    return np.concatenate(labels).astype(np.int64), np.concatenate(scores)


def _perturbed(
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]], prepared: PreparedData, perturb: Perturb
) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """Undo the normalisation (exact for uint8 pixels), corrupt, and normalise again."""
    normalizer = prepared.normalizer
    for number, (images, labels) in enumerate(batches):
        pixels = normalizer.denormalize(images)
        yield normalizer(perturb(pixels, number)), labels


def scoring_path(
    loaded: LoadedDetector,
    prepared: PreparedData,
    split: str,
    device: torch.device,
    batch_size: int = 64,
    passes: int = 1,
) -> ScoringPath:
    """How to run `loaded` for `passes` scorings of `split`: the fastest equivalent forward pass
    (`fakescope.inference.fastest`) when that many images are worth a probe. Native-resolution
    detectors score tiles of each picture in turn and keep PyTorch."""
    names = split_names(prepared, split)
    images = passes * sum(len(prepared.samples(name)) for name in names)
    if is_native(loaded.model) or images == 0:
        return ScoringPath(EAGER, loaded.model)
    loader = prepared.loader(names[0], batch_size, shuffle=False, augment=False)
    first = next(iter(loader), None)  # None: no file of the split decodes
    if first is None:
        return ScoringPath(EAGER, loaded.model)
    return fastest_scoring_path(loaded, first[0], device, images)


def score_split(
    loaded: LoadedDetector,
    prepared: PreparedData,
    split: str,
    device: torch.device,
    batch_size: int = 64,
    perturb: Perturb | None = None,
    progress: bool = False,
    forward: torch.nn.Module | None = None,
) -> Scores:
    """Calibrated P(fake) (and raw log-odds) for every image of `split` (or of all splits),
    in sample order. `forward` runs instead of `loaded.model` where given (a `scoring_path`:
    the same logits, faster); native-resolution detectors always run their own model."""
    labels, scores, paths = [], [], []
    for name in split_names(prepared, split):
        if is_native(loaded.model):
            y, z, kept = _score_native(loaded, prepared, name, device, batch_size, perturb,
                                       progress)
        else:
            model = forward or loaded.model
            y, z, kept = _score_resized(model, prepared, name, device, batch_size, perturb,
                                        progress)
        labels.append(y)
        scores.append(z)
        paths.extend(kept)
    raw = np.concatenate(scores)
    return Scores(np.concatenate(labels), loaded.calibration.probability(raw), paths, raw)


def _score_resized(
    model: torch.nn.Module,
    prepared: PreparedData,
    name: str,
    device: torch.device,
    batch_size: int,
    perturb: Perturb | None,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    loader = prepared.loader(name, batch_size, shuffle=False, augment=False)
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]] = loader
    if perturb is not None:
        batches = _perturbed(batches, prepared, perturb)
    if progress:
        batches = tqdm(batches, total=len(loader), desc=f"scoring {name}", leave=False)
    y, z = score_log_odds(model, batches, device)
    # Files that fail to decode on the fly (no cache) are dropped from batches; the data
    # report names them, so the remaining paths still line up with the scores.
    bad = {path for path, _ in prepared.refresh_report().bad_files}
    kept = [str(s.path) for s in prepared.samples(name) if str(s.path) not in bad]
    if len(kept) != len(y):
        raise RuntimeError(f"split '{name}': {len(y)} scores for {len(kept)} images")
    return y, z, kept


def _score_native(
    loaded: LoadedDetector,
    prepared: PreparedData,
    name: str,
    device: torch.device,
    batch_size: int,
    perturb: Perturb | None,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Each file decoded again at its own size (the cache holds resized pictures), optionally
    face-cropped, perturbed as a whole, then scored on its tiles."""
    labels, scores, kept = [], [], []
    samples = prepared.samples(name)
    for number, sample in enumerate(tqdm(samples, desc=f"scoring {name}", disable=not progress,
                                         leave=False)):
        try:
            image = load_image(sample.path)
        except BadImageError:
            continue  # named in the data report already when the cache was built
        if prepared.face_cropper is not None:
            image = prepared.face_cropper(image)
        pixels = np.asarray(image, dtype=np.uint8)
        if perturb is not None:
            chw = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]
            pixels = perturb(chw, number)[0].permute(1, 2, 0).numpy()
        z = picture_log_odds(
            loaded.model, [pixels], prepared.normalizer, device, batch_size, loaded.input_spec.size
        )
        labels.append(sample.label)
        scores.append(float(z[0]))
        kept.append(str(sample.path))
    return np.asarray(labels, dtype=np.int64), np.asarray(scores, dtype=np.float64), kept
