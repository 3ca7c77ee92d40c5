"""int8 quantization: calibration pictures, static and dynamic files, the accuracy cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fakescope.config import DataConfig
from fakescope.data.pipeline import prepare_data
from fakescope.evaluate.scoring import score_log_odds
from fakescope.export.onnx_export import export_onnx
from fakescope.export.quantize import calibration_images, quantization_cost, quantize_onnx
from fakescope.inference.artifacts import default_onnx_path, int8_onnx_path
from fakescope.inference.runtime import OnnxDetector, read_metadata
from fakescope.models.calibration import Calibration
from fakescope.models.registry import load_detector


@pytest.fixture
def fp32_export(disc_checkpoint: Path) -> Path:
    return export_onnx(load_detector(disc_checkpoint), default_onnx_path(disc_checkpoint)).path


def _paths(faces: Path) -> list[Path]:
    return sorted((faces / "real").glob("*.jpg")) + sorted((faces / "fake").glob("*.jpg"))


def test_calibration_pictures_are_spread_over_the_list_and_skip_bad_files(
    faces: Path, disc_checkpoint: Path, tmp_path: Path
) -> None:
    spec = load_detector(disc_checkpoint).input_spec
    paths = _paths(faces)
    pixels = calibration_images(paths, spec, count=4)
    assert pixels.shape == (4, 3, 64, 64) and pixels.dtype == np.float32
    assert pixels.min() >= -1.0 and pixels.max() <= 1.0  # the [-1, 1] normalisation of the spec
    first, last = calibration_images([paths[0]], spec), calibration_images([paths[-1]], spec)
    assert np.array_equal(pixels[0], first[0]) and np.array_equal(pixels[-1], last[0])
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a picture")
    assert len(calibration_images([bad, *paths[:3]], spec, count=10)) == 3
    with pytest.raises(ValueError, match="no readable calibration pictures"):
        calibration_images([bad], spec)
    with pytest.raises(ValueError, match="no calibration pictures"):
        calibration_images([], spec)


def test_static_int8_is_smaller_close_and_keeps_the_metadata(
    fp32_export: Path, faces: Path, disc_checkpoint: Path
) -> None:
    loaded = load_detector(disc_checkpoint)
    pixels = calibration_images(_paths(faces), loaded.input_spec, count=16)
    out = quantize_onnx(fp32_export, int8_onnx_path(fp32_export), "static", pixels)
    assert out.stat().st_size < 0.5 * fp32_export.stat().st_size
    fp32_meta, int8_meta = read_metadata(fp32_export), read_metadata(out)
    assert int8_meta.precision == "int8-static" and fp32_meta.precision == "fp32"
    assert int8_meta.weights_sha256 == fp32_meta.weights_sha256
    assert int8_meta.mismatch(loaded) is None
    with torch.inference_mode():
        images = torch.from_numpy(pixels)
        p32 = torch.sigmoid(OnnxDetector(fp32_export)(images))
        p8 = torch.sigmoid(OnnxDetector(out)(images))
    assert float((p32 - p8).abs().max()) < 0.1  # int8 is an approximation, not a new model


def test_dynamic_int8_needs_no_pictures(fp32_export: Path) -> None:
    out = quantize_onnx(fp32_export, fp32_export.with_name("dyn.onnx"), "dynamic")
    assert read_metadata(out).precision == "int8-dynamic"
    with torch.inference_mode():
        logits = OnnxDetector(out)(torch.zeros(2, 3, 64, 64))
    assert logits.shape == (2, 1) and torch.isfinite(logits).all()


def test_quantization_refuses_bad_requests(fp32_export: Path) -> None:
    with pytest.raises(ValueError, match="needs calibration pictures"):
        quantize_onnx(fp32_export, fp32_export.with_name("x.onnx"), "static")
    with pytest.raises(ValueError, match="unknown quantization"):
        quantize_onnx(fp32_export, fp32_export.with_name("x.onnx"), "int4")
    assert not fp32_export.with_name("x.onnx").exists()


def test_accuracy_cost_agrees_with_scoring_each_model(
    fp32_export: Path, faces: Path, disc_checkpoint: Path, tmp_path: Path
) -> None:
    loaded = load_detector(disc_checkpoint)
    pixels = calibration_images(_paths(faces), loaded.input_spec, count=8)
    int8 = quantize_onnx(fp32_export, int8_onnx_path(fp32_export), "static", pixels)
    data = DataConfig(path=str(faces), cache_dir=str(tmp_path / "cache"))
    prepared = prepare_data(data, loaded.input_spec, seed=0, labelled=True)
    reference, quantized = OnnxDetector(fp32_export), OnnxDetector(int8)
    threshold = 0.45
    cost = quantization_cost(reference, quantized, prepared, "all", threshold, batch_size=7)
    cpu = torch.device("cpu")

    def scores(model: OnnxDetector, split: str) -> tuple[np.ndarray, np.ndarray]:
        labels, z = score_log_odds(model, prepared.loader(split, 64), cpu)
        return labels, Calibration().probability(z)  # uncalibrated: T = 1

    y, p = scores(reference, "train")
    _, q = scores(quantized, "train")
    for split in ("val", "test"):
        y2, p2 = scores(reference, split)
        _, q2 = scores(quantized, split)
        y, p, q = np.concatenate([y, y2]), np.concatenate([p, p2]), np.concatenate([q, q2])
    assert cost.n == len(y) == 40 and cost.split == "all" and cost.threshold == threshold
    assert cost.accuracy_fp32 == pytest.approx(((p >= threshold) == y).mean())
    assert cost.accuracy_int8 == pytest.approx(((q >= threshold) == y).mean())
    assert cost.max_probability_diff == pytest.approx(np.abs(p - q).max())
    assert cost.mean_probability_diff == pytest.approx(np.abs(p - q).mean())
    assert cost.changed_decisions == int(((p >= threshold) != (q >= threshold)).sum())
    assert 0 < cost.max_probability_diff < 0.1
    assert cost.roc_auc_fp32 is not None and 0 <= cost.roc_auc_fp32 <= 1
    test_only = quantization_cost(reference, quantized, prepared, "test", threshold)
    assert test_only.n == prepared.size("test") and set(test_only.to_dict()) == set(cost.to_dict())
    with pytest.raises(ValueError, match="no 'holdout' split"):
        quantization_cost(reference, quantized, prepared, "holdout", threshold)
