"""int8 quantization of an exported detector for CPU serving, and what it costs in accuracy.

    pixels = calibration_images(paths, spec, count=32)          # normalised float32 NCHW
    quantize_onnx(Path("best.onnx"), Path("best.int8.onnx"), "static", pixels)
    cost = quantization_cost(OnnxDetector("best.onnx"), OnnxDetector("best.int8.onnx"),
                             prepared, "test", threshold)

`static` (the default) quantizes weights per channel and activations with ranges measured on
calibration pictures, in QDQ form that onnxruntime runs with int8 convolution kernels.
`dynamic` needs no pictures but turns convolutions into ConvInteger, which onnxruntime runs
slower than float32 on x86 (benchmarks/results/archive/onnx_results.md): it is there for graphs
dominated by matrix products, not for these CNNs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from torch import nn

from fakescope.config import ConfigError
from fakescope.data.images import BadImageError, load_image
from fakescope.data.pipeline import PreparedData
from fakescope.data.transforms import InputSpec, Normalizer, to_chw_tensor
from fakescope.errors import DataError
from fakescope.evaluate.scoring import score_log_odds, split_names
from fakescope.inference.artifacts import ONNX_INPUT, ExportMetadata
from fakescope.inference.predict import model_input
from fakescope.metrics import ranking_metrics
from fakescope.models.calibration import Calibration
from fakescope.runs import atomic_write_bytes

QUANTIZATION_METHODS = ("static", "dynamic")
CALIBRATION_BATCH = 8  # pictures per calibration step: bounds the activations held at once


def calibration_images(
    paths: Sequence[str | Path], spec: InputSpec, count: int = 32, face_crop: bool = False
) -> np.ndarray:
    """Up to `count` pictures spread evenly over `paths` (sorted lists then cover every class
    and folder), preprocessed as for prediction; unreadable files are skipped."""
    if count < 1:
        raise ConfigError(f"calibration needs at least 1 picture, got count={count}")
    if not paths:
        raise ConfigError("no calibration pictures given")
    picks = np.unique(np.linspace(0, len(paths) - 1, num=min(count, len(paths))).round())
    normalize = Normalizer(spec)
    pixels = []
    for index in picks.astype(int):
        try:
            array, _ = model_input(load_image(paths[index]), spec, face_crop)
        except BadImageError:
            continue
        pixels.append(normalize(to_chw_tensor(array)))
    if not pixels:
        raise DataError("no readable calibration pictures")
    return torch.stack(pixels).numpy()


class _BatchReader(CalibrationDataReader):
    def __init__(self, images: np.ndarray) -> None:
        self.batches: Iterator[np.ndarray] = iter(
            images[start : start + CALIBRATION_BATCH]
            for start in range(0, len(images), CALIBRATION_BATCH)
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {ONNX_INPUT: batch}


def quantize_onnx(
    fp32_path: str | Path,
    out: str | Path,
    method: str = "static",
    calibration: np.ndarray | None = None,
) -> Path:
    """Write an int8 version of the exported file `fp32_path` at `out` (atomically), carrying
    the same fakescope metadata with its precision changed."""
    if method not in QUANTIZATION_METHODS:
        raise ConfigError(f"unknown quantization '{method}' (use static or dynamic)")
    if method == "static" and (calibration is None or len(calibration) == 0):
        raise ConfigError("static int8 quantization needs calibration pictures")
    source = onnx.load(str(fp32_path))
    props = {p.key: p.value for p in source.metadata_props}
    metadata = ExportMetadata.from_props(props, str(fp32_path))
    with tempfile.TemporaryDirectory() as tmp:
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        # Shape inference and graph optimisation first, as onnxruntime's quantizer recommends
        # (folded batch norms give one weight tensor per convolution to quantize).
        quant_pre_process(source, prepared)
        if method == "static":
            quantize_static(
                prepared, quantized, _BatchReader(np.asarray(calibration, dtype=np.float32)),
                quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )  # fmt: skip
        else:
            quantize_dynamic(prepared, quantized, weight_type=QuantType.QInt8)
        model = onnx.load(str(quantized))
    del model.metadata_props[:]
    int8 = replace(metadata, precision=f"int8-{method}")
    for key, value in int8.to_props().items():
        model.metadata_props.add(key=key, value=value)
    out = Path(out)
    atomic_write_bytes(out, model.SerializeToString())
    return out


@dataclass(frozen=True)
class QuantizationCost:
    """The int8 model against its float32 reference on the same pictures, same threshold."""

    split: str
    n: int
    threshold: float
    accuracy_fp32: float
    accuracy_int8: float
    roc_auc_fp32: float | None
    roc_auc_int8: float | None
    max_probability_diff: float
    mean_probability_diff: float
    changed_decisions: int  # pictures whose real/fake call differs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quantization_cost(
    reference: nn.Module,
    quantized: nn.Module,
    prepared: PreparedData,
    split: str,
    threshold: float,
    batch_size: int = 32,
    calibration: Calibration | None = None,
) -> QuantizationCost:
    """Score `split` (or `all`) with both models and compare, on the P(fake) of `calibration`
    (the checkpoint's, which its threshold is chosen on)."""
    calibration = calibration or Calibration()
    labels, fp32, int8 = [], [], []
    cpu = torch.device("cpu")
    for name in split_names(prepared, split):
        y, z_ref = score_log_odds(reference, prepared.loader(name, batch_size, shuffle=False), cpu)
        _, z_int8 = score_log_odds(quantized, prepared.loader(name, batch_size, shuffle=False), cpu)
        labels.append(y)
        fp32.append(calibration.probability(z_ref))
        int8.append(calibration.probability(z_int8))
    y, p, q = np.concatenate(labels), np.concatenate(fp32), np.concatenate(int8)
    if len(y) == 0:
        raise DataError(f"no pictures in split '{split}' to measure the quantization cost on")
    gap = np.abs(p - q)
    fake_fp32, fake_int8 = p >= threshold, q >= threshold  # the convention of evaluate.metrics
    return QuantizationCost(
        split=split,
        n=len(y),
        threshold=float(threshold),
        accuracy_fp32=float((fake_fp32 == y).mean()),
        accuracy_int8=float((fake_int8 == y).mean()),
        roc_auc_fp32=ranking_metrics(y, p)["roc_auc"],
        roc_auc_int8=ranking_metrics(y, q)["roc_auc"],
        max_probability_diff=float(gap.max()),
        mean_probability_diff=float(gap.mean()),
        changed_decisions=int((fake_fp32 != fake_int8).sum()),
    )
