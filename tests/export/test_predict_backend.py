"""Prediction through onnxruntime: picked up beside the checkpoint, stale exports refused."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from export.tiny_models import DISC_KWARGS, save_copy

from fakescope.data.images import load_image
from fakescope.export.onnx_export import export_onnx
from fakescope.inference.artifacts import default_onnx_path, int8_onnx_path
from fakescope.inference.predict import Predictor
from fakescope.models.registry import load_detector

PROB_ATOL = 1e-4


def _faces(faces: Path, n: int = 6) -> list[Path]:
    reals, fakes = sorted((faces / "real").glob("*.jpg")), sorted((faces / "fake").glob("*.jpg"))
    return reals[: n // 2] + fakes[: n // 2]


def _exported(checkpoint: Path) -> Path:
    return export_onnx(load_detector(checkpoint), default_onnx_path(checkpoint)).path


def test_auto_backend_uses_the_export_beside_the_checkpoint(
    disc_checkpoint: Path, faces: Path
) -> None:
    onnx_path = _exported(disc_checkpoint)
    loaded = load_detector(disc_checkpoint)
    fast = Predictor(loaded, batch_size=4, checkpoint=disc_checkpoint)
    assert fast.backend == "onnx" and fast.onnx_source == str(onnx_path)
    slow = Predictor(loaded, batch_size=4, backend="torch", checkpoint=disc_checkpoint)
    assert slow.backend == "torch" and slow.onnx_source is None
    paths = _faces(faces)
    got, expected = fast.predict_paths(paths), slow.predict_paths(paths)
    p_got = np.array([r.prediction.probability_fake for r in got if r.prediction])
    p_expected = np.array([r.prediction.probability_fake for r in expected if r.prediction])
    assert len(p_got) == len(paths) and np.abs(p_got - p_expected).max() <= PROB_ATOL
    assert p_got.max() - p_got.min() > 1e-3  # real pictures get different scores
    # model_input stays the PyTorch preprocessing: the server prepares pictures with it
    array, _ = fast.model_input(load_image(paths[0]))
    assert fast.probabilities([array]) == pytest.approx(slow.probabilities([array]), abs=PROB_ATOL)


def test_without_the_checkpoint_path_or_export_pytorch_is_used(disc_checkpoint: Path) -> None:
    loaded = load_detector(disc_checkpoint)
    assert Predictor(loaded, checkpoint=disc_checkpoint).backend == "torch"  # nothing exported
    _exported(disc_checkpoint)
    assert Predictor(loaded).backend == "torch"  # no path given: cannot know where to look
    with pytest.raises(FileNotFoundError, match="no ONNX export"):
        Predictor(loaded, backend="onnx", checkpoint=disc_checkpoint.with_name("other.pt"))
    with pytest.raises(ValueError, match="needs the checkpoint path"):
        Predictor(loaded, backend="onnx")
    with pytest.raises(ValueError, match="unknown backend"):
        Predictor(loaded, backend="tensorrt")


def test_stale_export_is_ignored_with_a_warning(
    disc_checkpoint: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _exported(disc_checkpoint)
    retrained = load_detector(disc_checkpoint)
    with torch.no_grad():
        for parameter in retrained.model.parameters():
            parameter.mul_(1.01)
    save_copy(retrained.model, "dcgan_disc64", DISC_KWARGS, retrained.input_spec, disc_checkpoint)
    loaded = load_detector(disc_checkpoint)
    with caplog.at_level(logging.WARNING):
        predictor = Predictor(loaded, checkpoint=disc_checkpoint)
    assert predictor.backend == "torch"
    assert "stale" in caplog.text and "fakescope export" in caplog.text
    with pytest.raises(ValueError, match="stale"):
        Predictor(loaded, backend="onnx", checkpoint=disc_checkpoint)


def test_a_new_threshold_does_not_make_the_export_stale(disc_checkpoint: Path) -> None:
    _exported(disc_checkpoint)
    loaded = load_detector(disc_checkpoint)
    save_copy(loaded.model, "dcgan_disc64", DISC_KWARGS, loaded.input_spec, disc_checkpoint, 0.7)
    predictor = Predictor(load_detector(disc_checkpoint), checkpoint=disc_checkpoint)
    assert predictor.backend == "onnx" and predictor.threshold == 0.7


def test_explicit_export_of_another_model_is_an_error(
    disc_checkpoint: Path, tmp_path: Path
) -> None:
    other = load_detector(disc_checkpoint)
    with torch.no_grad():
        next(other.model.parameters()).zero_()
    foreign = export_onnx(other, tmp_path / "foreign.onnx").path
    with pytest.raises(ValueError, match="other weights"):
        Predictor(load_detector(disc_checkpoint), onnx_path=foreign)
    not_ours = tmp_path / "plain.onnx"
    not_ours.write_bytes(b"")
    with pytest.raises(ValueError, match=r"plain\.onnx was not exported by `fakescope export`"):
        Predictor(load_detector(disc_checkpoint), onnx_path=not_ours)
    not_onnx = tmp_path / "notes.onnx"
    not_onnx.write_text("not a model")
    with pytest.raises(ValueError, match=r"notes\.onnx is not an ONNX file"):
        Predictor(load_detector(disc_checkpoint), onnx_path=not_onnx)


def test_explicit_int8_file_is_used_when_asked(disc_checkpoint: Path, faces: Path) -> None:
    from fakescope.export.quantize import calibration_images, quantize_onnx

    fp32 = _exported(disc_checkpoint)
    loaded = load_detector(disc_checkpoint)
    pixels = calibration_images(_faces(faces, 8), loaded.input_spec, count=8)
    int8 = quantize_onnx(fp32, int8_onnx_path(fp32), "static", pixels)
    predictor = Predictor(loaded, onnx_path=int8)
    assert predictor.backend == "onnx" and predictor.onnx_source == str(int8)
    auto = Predictor(loaded, checkpoint=disc_checkpoint)
    assert auto.onnx_source == str(fp32)  # auto never picks the int8 file on its own


def test_missing_onnxruntime_falls_back_to_pytorch(
    disc_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _exported(disc_checkpoint)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    monkeypatch.delitem(sys.modules, "fakescope.inference.runtime")
    loaded = load_detector(disc_checkpoint)
    with caplog.at_level(logging.WARNING):
        assert Predictor(loaded, checkpoint=disc_checkpoint).backend == "torch"
    assert "onnxruntime is not installed" in caplog.text
    with pytest.raises(RuntimeError, match="needs onnxruntime"):
        Predictor(loaded, backend="onnx", checkpoint=disc_checkpoint)
