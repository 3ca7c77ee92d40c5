"""`fakescope export` as one library call: a detector checkpoint to float32 ONNX, optionally int8.

The int8 file is calibrated on pictures from `calibration_data`, or on the train split of the
labelled `data` (never the split its accuracy cost is then measured on), preprocessed as the
checkpoint was trained; with `data`, the cost against the float32 file is measured on `split`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.config import ConfigError
from fakescope.data.pipeline import PreparedData
from fakescope.evaluate.scoring import (
    evaluation_data_config,
    prepare_evaluation_data,
    training_seed,
)
from fakescope.export.onnx_export import OPSET, ExportResult, export_onnx
from fakescope.export.quantize import (
    QuantizationCost,
    calibration_images,
    quantization_cost,
    quantize_onnx,
)
from fakescope.inference.artifacts import default_onnx_path, int8_onnx_path
from fakescope.inference.predict import expand_inputs
from fakescope.inference.runtime import OnnxDetector
from fakescope.models.registry import LoadedDetector, load_detector

NO_CALIBRATION = (
    "static int8 needs calibration pictures: give --calibration-data PATH or --data (its train "
    "split is used), or use --int8-method dynamic"
)


@dataclass(frozen=True)
class Int8Settings:
    """How to quantize, and on what to calibrate and measure the int8 file."""

    method: str = "static"  # static (calibrated) or dynamic
    calibration_data: str | None = None  # folder, file or glob of pictures
    calibration_images: int = 32
    data: str | None = None  # labelled data set: the cost is measured on its `split`
    split: str = "test"
    limit_per_class: int | None = None
    cache: bool = True
    seed: int | None = None  # split seed; None: the training run's


@dataclass(frozen=True)
class Int8Result:
    path: Path
    method: str
    size_bytes: int
    calibration_images: int
    cost: QuantizationCost | None

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "path": str(self.path), "method": self.method, "size_bytes": self.size_bytes,
            "calibration_images": self.calibration_images,
        }  # fmt: skip
        if self.cost is not None:
            result["cost"] = self.cost.to_dict()
        return result


@dataclass(frozen=True)
class CheckpointExport:
    onnx: ExportResult
    int8: Int8Result | None

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"onnx": self.onnx.to_dict()}
        if self.int8 is not None:
            result["int8"] = self.int8.to_dict()
        return result


def export_checkpoint(
    checkpoint: str | Path,
    out: str | Path | None = None,
    exporter: str = "torchscript",
    opset: int = OPSET,
    int8: Int8Settings | None = None,
    progress: bool = False,
) -> CheckpointExport:
    """Write the float32 ONNX file (`out`, default beside the checkpoint) and, with `int8`,
    `<out>.int8.onnx`; each is checked or measured as the module docstring says."""
    checkpoint = Path(checkpoint)
    loaded = load_detector(checkpoint, "cpu")
    fp32 = Path(out) if out else default_onnx_path(checkpoint)
    if int8 is not None and fp32.suffix != ".onnx":
        raise ConfigError(f"--out must end in .onnx when --int8 is given, got {fp32}")
    if int8 is not None and int8.method == "static" and not (int8.calibration_data or int8.data):
        raise ConfigError(NO_CALIBRATION)
    exported = export_onnx(loaded, fp32, exporter, opset)
    quantized = None if int8 is None else quantize_export(loaded, fp32, int8, progress)
    return CheckpointExport(exported, quantized)


def quantize_export(
    loaded: LoadedDetector, fp32: Path, settings: Int8Settings, progress: bool = False
) -> Int8Result:
    """The int8 file of the float32 export `fp32`, and its cost when `settings.data` is given."""
    out = int8_onnx_path(fp32)
    prepared = _prepared_data(loaded, settings, progress) if settings.data else None
    pixels = _calibration(loaded, settings, prepared) if settings.method == "static" else None
    quantize_onnx(fp32, out, settings.method, pixels)
    cost = None
    if prepared is not None:
        cost = quantization_cost(
            OnnxDetector(fp32), OnnxDetector(out), prepared, settings.split, loaded.threshold,
            calibration=loaded.calibration,
        )
    calibrated = 0 if pixels is None else len(pixels)
    return Int8Result(out, settings.method, out.stat().st_size, calibrated, cost)


def _prepared_data(
    loaded: LoadedDetector, settings: Int8Settings, progress: bool
) -> PreparedData:
    assert settings.data is not None
    data = evaluation_data_config(
        loaded, settings.data, limit_per_class=settings.limit_per_class,
        cache=None if settings.cache else False,
    )  # fmt: skip
    seed = training_seed(loaded) if settings.seed is None else settings.seed
    return prepare_evaluation_data(loaded, data, seed, progress=progress)


def _calibration(
    loaded: LoadedDetector, settings: Int8Settings, prepared: PreparedData | None
) -> np.ndarray:
    """Calibration pictures from `calibration_data`, else from the train split of `data` (never
    the split the cost is measured on), preprocessed as the checkpoint was trained."""
    if settings.calibration_data:
        source, paths = settings.calibration_data, expand_inputs([settings.calibration_data])
    elif prepared is not None and settings.data and prepared.size("train"):
        source, paths = settings.data, [sample.path for sample in prepared.samples("train")]
    else:
        raise ConfigError(NO_CALIBRATION)
    face_crop = evaluation_data_config(loaded, source).face_crop
    return calibration_images(paths, loaded.input_spec, settings.calibration_images, face_crop)
