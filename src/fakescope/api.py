"""The curated Python API, reachable as `fakescope.NAME` (see `fakescope.__all__`).

    detector = fakescope.load_detector("runs/probe")              # a run folder or a .pt file
    detector.predict(["photo.jpg"])[0].verdict                      # "real" | "uncertain" | "fake"
    fakescope.read_provenance("photo.jpg").verdict                  # what the file says of itself
    fakescope.build_generator("dcgan", resolution=64).sample(16)    # (16, 3, 64, 64) in [-1, 1]
    fakescope.train_detector("lite0_probe", {"data.path": "faces/"})

Each wraps the module that does the work (`inference.predict`, `models.registry`,
`provenance.reader`, `models.gan_registry`, `detect.train` and `evaluate.evaluate`), so the
command line and these calls give the same results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from fakescope.config import ConfigError, load_config
from fakescope.data.images import load_image
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.train import TrainResult
from fakescope.detect.train import train_detector as _train_detector
from fakescope.evaluate.choices import REAL_ANCHORED_RULE
from fakescope.evaluate.evaluate import CalibrationSteps
from fakescope.evaluate.threshold import ThresholdRule
from fakescope.inference.predict import Prediction, Predictor
from fakescope.models.gan_registry import ImageGenerator
from fakescope.models.gan_registry import build_generator as _build_generator
from fakescope.models.registry import load_detector as _load_checkpoint
from fakescope.provenance.reader import Provenance
from fakescope.provenance.reader import read_provenance as _read_provenance
from fakescope.workflows.family_folds import calibrate_run

ImageInput = Image.Image | str | Path


class ImageDetector:
    """A trained detector ready to score pictures with its checkpoint's calibration, threshold
    and uncertain band. Made by `load_detector`."""

    def __init__(self, predictor: Predictor, checkpoint: Path) -> None:
        self.predictor = predictor
        self.checkpoint = checkpoint

    @property
    def name(self) -> str:
        """The registered detector name, e.g. `lite0_probe`."""
        return self.predictor.loaded.name

    @property
    def threshold(self) -> float:
        """P(fake) at or above which the label is fake."""
        return self.predictor.threshold

    @property
    def band(self) -> tuple[float, float] | None:
        """(low, high) of the uncertain band, or None for a checkpoint stored without one."""
        return self.predictor.loaded.calibration.band(self.threshold)

    def predict(self, images: Sequence[ImageInput]) -> list[Prediction]:
        """One prediction per picture, in order: calibrated `probability_fake`, `label` at the
        threshold, `verdict` by the uncertain band. A picture is a PIL image or a file path; a
        file that cannot be read raises `BadImageError` naming it."""
        pictures = [image if isinstance(image, Image.Image) else load_image(image)
                    for image in images]  # fmt: skip
        return self.predictor.predict_images(pictures)

    def __repr__(self) -> str:
        return f"ImageDetector({self.name!r}, checkpoint={str(self.checkpoint)!r})"


def load_detector(
    path: str | Path,
    device: str = "cpu",
    backend: str = "auto",
    face_crop: bool = False,
    batch_size: int = 32,
) -> ImageDetector:
    """The detector of a checkpoint file, or of a training run's folder (its
    `checkpoints/best.pt`). `backend`: `auto` runs a matching ONNX export beside the checkpoint
    on the CPU, `torch` or `onnx` force one; `face_crop` crops each picture to its largest face
    first, as training with `data.face_crop` did."""
    checkpoint = Path(path)
    if checkpoint.is_dir() and (checkpoint / "checkpoints" / "best.pt").is_file():
        checkpoint = checkpoint / "checkpoints" / "best.pt"
    loaded = _load_checkpoint(checkpoint, device)
    predictor = Predictor(loaded, device, batch_size=batch_size, face_crop=face_crop,
                          backend=backend, checkpoint=checkpoint)  # fmt: skip
    return ImageDetector(predictor, checkpoint)


def read_provenance(path: str | Path, trust_anchors: str | None = None) -> Provenance:
    """What a file says about its own origin (C2PA, XMP/IPTC, PNG text, EXIF): a verdict, its
    basis and the evidence. Never raises on hostile files; an unreadable one has `error` set.
    `trust_anchors`: PEM certificates whose signers count as trusted."""
    return _read_provenance(path, trust_anchors=trust_anchors)


def build_generator(arch: str = "dcgan", **kwargs: Any) -> ImageGenerator:
    """An untrained generator of a registered GAN architecture (`dcgan`, `fastgan_lite`), with
    its keyword arguments (`resolution`, `z_dim`, `base_width`, ...); `.sample(n)` draws images
    in [-1, 1]."""
    return _build_generator(arch, **kwargs)


def train_detector(
    config: DetectJobConfig | str | Path,
    overrides: Mapping[str, Any] | None = None,
    resume: bool = False,
    progress: bool = False,
    calibrate: str | None = REAL_ANCHORED_RULE,
) -> TrainResult:
    """Train a detector as `fakescope train` does and return where its checkpoints went.

    `config` is a `DetectJobConfig`, or a preset name (`lite0_probe`) or YAML path loaded with
    `overrides`, a mapping of dotted keys to values (`{"data.path": "faces/", "train.epochs": 3}`).
    Like `fakescope train`, the best checkpoint is then calibrated on the validation split with
    the threshold rule `calibrate` (None leaves it uncalibrated), with held-out-family fold runs
    as `calibration.family_folds` says (`fakescope.workflows.family_folds`).
    """
    if isinstance(config, DetectJobConfig):
        if overrides:
            raise ConfigError("overrides apply to a preset; change the DetectJobConfig instead")
        job = config
    else:
        job = load_config(DetectJobConfig, config, dict(overrides or {}))
    result = _train_detector(job, resume=resume, progress=progress)
    if calibrate is not None:
        calibrate_run(job, result.run.path, result.best_checkpoint,
                      CalibrationSteps(ThresholdRule.parse(calibrate)),
                      budgeted=job.train.max_minutes is not None)
    return result
