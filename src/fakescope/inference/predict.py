"""Predicting real or fake for pictures and files, with the checkpoint's stored threshold.

Pictures go through exactly the training preprocessing (`decode_image` -> optional face crop
-> `preprocess` at the checkpoint's `InputSpec` -> normalise) and are scored in batches; a
detector that scores at native resolution is shown tiles of the unresized picture instead
(`fakescope.inference.tiles`). P(fake) is the checkpoint's calibrated probability (its stored
temperature applied to the log-odds, whichever backend computed them), and the verdict is real,
uncertain or fake by its uncertain band.

The verdict is also "uncertain", whatever the probability, when the picture is unlike the
training data (its pooled features lie beyond the checkpoint's `FeatureDensity` limit; an
ONNX export returns the features beside the logits, from the same pass, and an older export
without them leaves them to a PyTorch pass) or when the detector
crops faces and none was found. `Prediction.reasons` says why in words, and notes a picture
much larger than the detector's input, whose fine detail the resize removed.

A `Predictor` may be shared by the threads of a worker pool: inference runs under
`torch.inference_mode` (thread-local) on a model in eval mode, which changes no state (an
onnxruntime session's `run` is thread-safe too), and the face detector guards its own cascades
with a lock.

Backends: `torch` runs the loaded model; `onnx` runs its ONNX export with onnxruntime (written by
`fakescope export`, beside the checkpoint or given as `onnx_path`); `auto` (the default) uses
the export beside `checkpoint` when there is one that matches the checkpoint's weights and the
device is the CPU, and PyTorch otherwise (a stale export is skipped with a warning).
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from fakescope.config import ConfigError
from fakescope.data.faces import FaceBox, crop_around, find_largest_face
from fakescope.data.images import BadImageError, is_image_name, load_image
from fakescope.data.transforms import InputSpec, Normalizer, preprocess
from fakescope.errors import SetupError
from fakescope.inference.artifacts import default_onnx_path
from fakescope.inference.tiles import is_native, picture_log_odds
from fakescope.models.calibration import log_odds
from fakescope.models.registry import LoadedDetector

if TYPE_CHECKING:
    from fakescope.inference.runtime import OnnxDetector

LABELS = ("real", "fake")
BACKENDS = ("auto", "torch", "onnx")
# A picture this many times the detector's input side (or more) is noted: the resize to the
# input size removes the fine detail generators leave.
LARGE_PICTURE_FACTOR = 4

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    probability_fake: float  # calibrated
    label: str  # "real" | "fake": fake when probability_fake >= threshold
    threshold: float
    face_box: FaceBox | None = None  # where the face crop was taken, in image pixels
    verdict: str = ""  # "real" | "uncertain" | "fake" by the band; the label when empty
    band: tuple[float, float] | None = None  # (low, high) of the uncertain band
    reasons: tuple[str, ...] = ()  # why the verdict is uncertain, and notes a reviewer needs
    # squared feature distance from the training data, and the limit beyond which it is unlike
    # it (None: the checkpoint has no such model)
    distance: float | None = None
    distance_limit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        low, high = self.band or (self.threshold, self.threshold)
        return {
            "probability_fake": self.probability_fake,
            "label": self.label,
            "verdict": self.verdict or self.label,
            "threshold": self.threshold,
            "band_low": low,
            "band_high": high,
            "face_box": self.face_box.to_dict() if self.face_box else None,
            "reasons": list(self.reasons),
            "distance": self.distance,
            "distance_limit": self.distance_limit,
        }


@dataclass(frozen=True)
class PathPrediction:
    """One input file's outcome: a prediction, or the one-line reason it failed."""

    path: str
    prediction: Prediction | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.prediction is None:
            empty = dict.fromkeys(
                ("probability_fake", "label", "verdict", "threshold", "band_low", "band_high",
                 "face_box", "distance", "distance_limit")
            )  # fmt: skip
            return {"path": self.path, **empty, "reasons": [], "error": self.error}
        return {"path": self.path, **self.prediction.to_dict(), "error": None}


def expand_inputs(patterns: Sequence[str]) -> list[Path]:
    """Files as given, folders as every image file inside them (recursively, sorted), globs as
    their matches, each file once. A pattern matching nothing, or a folder without images, is
    kept, so its row can report it."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found.extend(_images_under(path) or [path])
        elif path.exists() or path.is_symlink() or not glob.has_magic(pattern):
            found.append(path)
        else:
            hits: list[Path] = []
            for match in sorted(glob.glob(pattern, recursive=True)):
                hit = Path(match)
                hits.extend(_images_under(hit) if hit.is_dir() else [hit])
            found.extend(hits or [path])
    # A recursive glob matches class folders and the files in them: keep the first of each.
    return list(dict.fromkeys(found))


def model_input(
    image: Image.Image,
    spec: InputSpec,
    face_crop: bool = False,
    face_margin: float = 0.25,
    native: bool = False,
) -> tuple[np.ndarray, FaceBox | None]:
    """The uint8 HWC picture a model with `spec` sees (unresized when `native`: it is then
    scored on tiles), and the face box it was cropped to (None without face crop, or when no
    face was found and the whole picture is used)."""
    box = find_largest_face(image) if face_crop else None
    if box is not None:
        image = crop_around(image, box, face_margin)
    if native:
        return np.asarray(image.convert("RGB"), dtype=np.uint8), box
    return preprocess(image, spec), box


def _images_under(folder: Path) -> list[Path]:
    """Image files under `folder`; a broken symlink, and a folder inside it that cannot be
    listed, are kept so their rows report them (as `data inspect` does) rather than vanish."""
    found: list[Path] = []
    unlistable: list[Path] = []
    for dirpath, _, filenames in os.walk(folder, onerror=lambda err: unlistable.append(
            Path(err.filename))):
        for name in filenames:
            path = Path(dirpath) / name
            if is_image_name(name) and (path.is_file() or not path.exists()):
                found.append(path)
    return sorted(found) + [p for p in unlistable if p != folder]


def _folder_error(folder: Path) -> str:
    """Why a folder given (or found) as an input has no row of its own images."""
    try:
        os.listdir(folder)
    except OSError as err:
        return f"{folder}: {(err.strerror or str(err)).lower()} (cannot list this folder)"
    return f"{folder}: no image files in this folder"


class Predictor:
    """Scores pictures with one loaded detector, `batch_size` at a time; `checkpoint` (the
    file `loaded` came from) or `onnx_path` lets it run an ONNX export instead (see above)."""

    def __init__(
        self,
        loaded: LoadedDetector,
        device: str | torch.device = "cpu",
        batch_size: int = 32,
        face_crop: bool = False,
        face_margin: float = 0.25,
        backend: str = "auto",
        checkpoint: str | Path | None = None,
        onnx_path: str | Path | None = None,
        onnx_threads: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size}")
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend '{backend}' (use {', '.join(BACKENDS)})")
        self.loaded = loaded
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.face_crop = face_crop
        self.face_margin = face_margin
        self.normalizer = Normalizer(loaded.input_spec)
        loaded.model.to(self.device).eval()
        onnx_model = self._onnx_model(backend, checkpoint, onnx_path, onnx_threads)
        self.onnx = onnx_model
        self.model: torch.nn.Module = onnx_model if onnx_model is not None else loaded.model
        self.backend = "torch" if onnx_model is None else "onnx"
        self.onnx_source = None if onnx_model is None else onnx_model.source

    def _onnx_model(
        self, backend: str, checkpoint: str | Path | None, onnx_path: str | Path | None,
        threads: int | None,
    ) -> OnnxDetector | None:
        """The onnxruntime model to run, on `threads` cores (default all), or None for PyTorch.
        onnxruntime is imported only when an export may be used, so PyTorch-only installs never
        need it."""
        if backend == "torch":
            return None
        if backend == "auto" and onnx_path is None:
            if checkpoint is None or self.device.type != "cpu":
                return None
            if not default_onnx_path(checkpoint).is_file():
                return None
        try:
            from fakescope.inference.runtime import select_onnx_model
        except ImportError as err:
            if backend == "onnx" or onnx_path is not None:
                raise SetupError(f"the onnx backend needs onnxruntime ({err})") from err
            logger.warning("onnxruntime is not installed: using PyTorch, not the ONNX export")
            return None
        required = backend == "onnx"
        return select_onnx_model(self.loaded, checkpoint, onnx_path, required, threads)

    @property
    def threshold(self) -> float:
        return self.loaded.threshold

    @property
    def native(self) -> bool:
        """Whether pictures are scored unresized, on tiles of the model's input size."""
        return is_native(self.loaded.model)

    def model_input(self, image: Image.Image) -> tuple[np.ndarray, FaceBox | None]:
        return model_input(
            image, self.loaded.input_spec, self.face_crop, self.face_margin, self.native
        )

    def log_odds(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Raw log-odds of fake (before the temperature) of `model_input` pictures."""
        tile = self.loaded.input_spec.size if self.native else None
        return picture_log_odds(
            self.model, arrays, self.normalizer, self.device, self.batch_size, tile
        )

    def probabilities(self, arrays: Sequence[np.ndarray]) -> list[float]:
        """Calibrated P(fake) of `model_input` pictures."""
        return [float(p) for p in self.loaded.calibration.probability(self.log_odds(arrays))]

    def _batches(self, arrays: Sequence[np.ndarray]) -> Iterator[torch.Tensor]:
        """Normalised model batches of `model_input` pictures (not tile-scored)."""
        for start in range(0, len(arrays), self.batch_size):
            chunk = torch.from_numpy(np.stack(arrays[start : start + self.batch_size]))
            yield self.normalizer(chunk.permute(0, 3, 1, 2)).to(self.device)

    @torch.inference_mode()
    def distances(self, arrays: Sequence[np.ndarray]) -> list[float | None]:
        """Squared feature distances of `model_input` pictures from the training data, by a
        PyTorch pass (None each without a fitted `FeatureDensity`, or for tile-scored
        detectors)."""
        density = self.loaded.feature_density
        if density is None or self.native or not arrays:
            return [None] * len(arrays)
        found: list[float | None] = []
        for batch in self._batches(arrays):
            features = self.loaded.model.features(batch).float().cpu().numpy()
            found.extend(float(d) for d in density.distance(features))
        return found

    def scores(self, arrays: Sequence[np.ndarray]) -> tuple[list[float], list[float | None]]:
        """Calibrated P(fake) and training-data distances of `model_input` pictures: both from
        one run of an ONNX export that returns the pooled features, else the distances from a
        PyTorch pass of their own."""
        density = self.loaded.feature_density
        onnx = self.onnx
        if onnx is None or not onnx.has_features or density is None or self.native or not arrays:
            return self.probabilities(arrays), self.distances(arrays)
        raw: list[np.ndarray] = []
        found: list[float | None] = []
        for batch in self._batches(arrays):
            logits, features = onnx.logits_and_features(batch)
            raw.append(log_odds(logits).double().numpy())
            found.extend(float(d) for d in density.distance(features.float().numpy()))
        probs = self.loaded.calibration.probability(np.concatenate(raw))
        return [float(p) for p in probs], found

    def prediction(
        self,
        prob: float,
        box: FaceBox | None = None,
        distance: float | None = None,
        size: tuple[int, int] | None = None,
    ) -> Prediction:
        """The label at the threshold and the verdict by the uncertain band, for one P(fake),
        made uncertain by a `distance` beyond the training data's limit or a face crop that
        found no face; `size` (width, height) of the original picture adds a note when large."""
        calibration = self.loaded.calibration
        label = LABELS[int(prob >= self.threshold)]
        verdict = calibration.verdict(prob, self.threshold)
        band = calibration.band(self.threshold)
        reasons = []
        if verdict == "uncertain":
            reasons.append(f"P(fake) inside the uncertain band [{band[0]:.1%}, {band[1]:.1%})")
        density = self.loaded.feature_density
        if density is not None and distance is not None and density.unlike(distance):
            verdict = "uncertain"
            ratio = distance / density.limit
            reasons.append(f"unlike the training data: feature distance {ratio:.1f}x the limit "
                           "that held-out validation pictures stay within")
        if self.face_crop and box is None:
            verdict = "uncertain"
            reasons.append("no face found: the detector was trained on face crops and scored "
                           "the whole picture")
        side = self.loaded.input_spec.size
        if size is not None and max(size) >= LARGE_PICTURE_FACTOR * side and not self.native:
            reasons.append(f"the {size[0]}x{size[1]} picture was resized to the detector's "
                           f"{side} px input, which removes fine detail")
        return Prediction(
            float(prob), label, self.threshold, box, verdict=verdict, band=band,
            reasons=tuple(reasons), distance=distance,
            distance_limit=density.limit if density is not None else None,
        )  # fmt: skip

    def predict_images(self, images: Sequence[Image.Image]) -> list[Prediction]:
        """Predictions for decoded RGB pictures, in order."""
        inputs = [self.model_input(image) for image in images]
        arrays = [array for array, _ in inputs]
        probs, distances = self.scores(arrays)
        return [
            self.prediction(p, box, d, image.size)
            for p, d, (_, box), image in zip(probs, distances, inputs, images, strict=True)
        ]

    def predict_paths(
        self, paths: Sequence[str | Path], progress: bool = False
    ) -> list[PathPrediction]:
        """Predictions for files, in order; a file that cannot be read gets its error on its row
        and the others go on."""
        results: list[PathPrediction] = []
        bar = tqdm(total=len(paths), desc="predicting", unit="image", disable=not progress)
        for chunk in _chunks(list(paths), self.batch_size):
            loaded: list[tuple[str, np.ndarray, FaceBox | None, tuple[int, int]]] = []
            errors: dict[str, str] = {}
            for path in chunk:
                if Path(path).is_dir():
                    errors[str(path)] = _folder_error(Path(path))
                    continue
                try:
                    image = load_image(path)
                    array, box = self.model_input(image)
                    loaded.append((str(path), array, box, image.size))
                except BadImageError as err:
                    errors[str(path)] = str(err)
            arrays = [array for _, array, _, _ in loaded]
            scored = iter(zip(*self.scores(arrays), loaded, strict=True))
            for path in map(str, chunk):
                if path in errors:
                    results.append(PathPrediction(path, error=errors[path]))
                else:
                    prob, distance, (_, _, box, size) = next(scored)
                    results.append(PathPrediction(path, self.prediction(prob, box, distance,
                                                                        size)))
            bar.update(len(chunk))
        bar.close()
        return results


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
