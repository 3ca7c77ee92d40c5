"""A stored calibration survives ONNX export: the metadata carries it, and predictions through
onnxruntime (float32 and int8) are the calibrated ones, as through PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fakescope.data.images import load_image
from fakescope.evaluate.threshold import ThresholdRule, store_threshold
from fakescope.export.onnx_export import export_onnx
from fakescope.export.quantize import calibration_images, quantize_onnx
from fakescope.inference.artifacts import default_onnx_path, int8_onnx_path
from fakescope.inference.predict import Predictor
from fakescope.inference.runtime import read_metadata
from fakescope.models.calibration import Calibration
from fakescope.models.registry import load_detector

PROB_ATOL = 1e-4


def _faces(faces: Path) -> list[Path]:
    return sorted((faces / "real").glob("*.jpg"))[:4] + sorted((faces / "fake").glob("*.jpg"))[:4]


def _calibrate(checkpoint: Path, faces: Path) -> Calibration:
    """A temperature of 3, and threshold and band halfway between these faces' calibrated
    scores (so float32 kernels of either backend cannot move a face across a line)."""
    predictor = Predictor(load_detector(checkpoint), backend="torch")
    raw = predictor.log_odds([predictor.model_input(load_image(p))[0] for p in _faces(faces)])
    c = np.sort(Calibration(method="temperature", temperature=3.0).probability(raw))
    calibration = Calibration(
        method="temperature", temperature=3.0, band_low=float(c[1] + c[2]) / 2,
        band_high=float(c[5] + c[6]) / 2, fitted_on="val",
    )  # fmt: skip
    threshold = float(c[3] + c[4]) / 2
    store_threshold(checkpoint, threshold, ThresholdRule("eer"), "val", {}, calibration)
    return calibration


def test_a_stored_calibration_survives_onnx_export(disc_checkpoint: Path, faces: Path) -> None:
    calibration = _calibrate(disc_checkpoint, faces)
    loaded = load_detector(disc_checkpoint)
    onnx_path = export_onnx(loaded, default_onnx_path(disc_checkpoint)).path
    metadata = read_metadata(onnx_path)
    assert metadata.calibration == calibration
    assert metadata.threshold == pytest.approx(loaded.threshold)
    assert metadata.mismatch(loaded) is None

    paths = _faces(faces)
    torch_rows = Predictor(loaded, backend="torch").predict_paths(paths)
    onnx = Predictor(loaded, backend="onnx", checkpoint=disc_checkpoint)
    assert onnx.backend == "onnx"
    onnx_rows = onnx.predict_paths(paths)
    p_torch = np.array([r.prediction.probability_fake for r in torch_rows if r.prediction])
    p_onnx = np.array([r.prediction.probability_fake for r in onnx_rows if r.prediction])
    assert np.abs(p_torch - p_onnx).max() <= PROB_ATOL
    assert [r.prediction.verdict for r in onnx_rows if r.prediction] == [
        r.prediction.verdict for r in torch_rows if r.prediction
    ]
    assert {r.prediction.verdict for r in onnx_rows if r.prediction} == {
        "real", "uncertain", "fake"
    }  # fmt: skip

    # the export's logits are raw: the temperature is applied once, by the runtime
    raw = onnx.log_odds([onnx.model_input(load_image(paths[0]))[0]])
    assert p_onnx[0] == pytest.approx(float(calibration.probability(raw)[0]), abs=1e-9)


def test_int8_exports_carry_the_calibration(disc_checkpoint: Path, faces: Path) -> None:
    calibration = _calibrate(disc_checkpoint, faces)
    loaded = load_detector(disc_checkpoint)
    fp32 = export_onnx(loaded, default_onnx_path(disc_checkpoint)).path
    pictures = calibration_images(_faces(faces), loaded.input_spec, count=8)
    int8 = quantize_onnx(fp32, int8_onnx_path(fp32), "static", pictures)
    assert read_metadata(int8).calibration == calibration
    assert read_metadata(int8).precision == "int8-static"
    quantized = Predictor(loaded, onnx_path=int8)
    rows = quantized.predict_paths(_faces(faces))
    raw = quantized.log_odds([quantized.model_input(load_image(p))[0] for p in _faces(faces)])
    got = [r.prediction.probability_fake for r in rows if r.prediction]
    assert got == pytest.approx(calibration.probability(raw).tolist(), abs=1e-9)
