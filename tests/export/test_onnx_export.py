"""Exporting detectors to ONNX: equality with PyTorch, dynamic batch, metadata, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from export.tiny_models import FROZEN, SMALL_SPEC, save_copy, spread_outputs, varied_images

from fakescope.export.onnx_export import export_onnx
from fakescope.inference.artifacts import (
    ONNX_INPUT,
    ExportMetadata,
    default_onnx_path,
    int8_onnx_path,
    weights_fingerprint,
)
from fakescope.inference.runtime import OnnxDetector, read_metadata
from fakescope.models.registry import build_detector, fake_probability, load_detector

# What the tests accept between onnxruntime and PyTorch: P(fake) within 1e-4 absolute, logits
# within 1e-4 relative to their size.
PROB_ATOL = 1e-4
LOGIT_RTOL = 1e-4


def assert_same_outputs(
    model: torch.nn.Module, exported: OnnxDetector, images: torch.Tensor
) -> None:
    with torch.inference_mode():
        expected, got = model(images), exported(images)
    assert got.shape == expected.shape
    scale = max(1.0, float(expected.abs().max()))
    assert float((got - expected).abs().max()) <= LOGIT_RTOL * scale
    gap = (fake_probability(got) - fake_probability(expected)).abs().max()
    assert float(gap) <= PROB_ATOL


def test_export_matches_pytorch_for_any_batch_size(disc_checkpoint: Path) -> None:
    loaded = load_detector(disc_checkpoint)
    out = default_onnx_path(disc_checkpoint)
    result = export_onnx(loaded, out)
    assert out == disc_checkpoint.with_suffix(".onnx") and out.is_file()
    assert result.size_bytes == out.stat().st_size
    assert result.max_probability_diff <= PROB_ATOL
    exported = OnnxDetector(out)
    for batch in (1, 5, 9):  # traced with 2, so the batch axis must really be dynamic
        images = varied_images(batch, 64, seed=batch)
        assert_same_outputs(loaded.model, exported, images)
    with torch.inference_mode():
        probs = fake_probability(exported(varied_images(9, 64, seed=9)))
    assert float(probs.max() - probs.min()) > 0.05  # the comparison is not between constants


def test_two_logit_efficientnet_b0_matches_pytorch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = spread_outputs(build_detector("efficientnet_b0"), SMALL_SPEC.size, seed=3)
    checkpoint = save_copy(model, "efficientnet_b0", {}, SMALL_SPEC, tmp_path / "b0.pt")
    loaded = load_detector(checkpoint)
    export_onnx(loaded, default_onnx_path(checkpoint))
    exported = OnnxDetector(default_onnx_path(checkpoint))
    assert exported.num_logits == 2
    assert_same_outputs(loaded.model, exported, varied_images(4, SMALL_SPEC.size, seed=4))


def test_metadata_ties_the_file_to_its_checkpoint(disc_checkpoint: Path) -> None:
    loaded = load_detector(disc_checkpoint)
    out = export_onnx(loaded, tmp := disc_checkpoint.with_name("exported.onnx")).path
    assert out == tmp
    meta = read_metadata(out)
    assert meta == OnnxDetector(out).metadata
    assert meta.detector == "dcgan_disc64" and meta.input_spec == loaded.input_spec
    assert meta.num_logits == 1 and meta.precision == "fp32"
    assert meta.weights_sha256 == weights_fingerprint(loaded.model)
    assert meta.mismatch(loaded) is None
    graph = onnx.load(str(out))
    assert [i.name for i in graph.graph.input] == [ONNX_INPUT]
    batch_dim = graph.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.dim_value  # symbolic, not fixed


def test_fingerprint_follows_the_weights_only(disc_checkpoint: Path) -> None:
    loaded = load_detector(disc_checkpoint)
    before = weights_fingerprint(loaded.model)
    assert weights_fingerprint(load_detector(disc_checkpoint).model) == before
    with torch.no_grad():
        next(loaded.model.parameters()).view(-1)[0] += 1e-3
    assert weights_fingerprint(loaded.model) != before
    assert "stale" in (ExportMetadata.of(load_detector(disc_checkpoint)).mismatch(loaded) or "")


def test_a_wrong_trace_is_refused_and_nothing_written(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_detector(FROZEN)
    checkpoint = save_copy(model, FROZEN, {}, SMALL_SPEC, tmp_path / "frozen.pt")
    out = tmp_path / "frozen.onnx"
    with pytest.raises(RuntimeError, match=r"differs from PyTorch .* nothing written"):
        export_onnx(load_detector(checkpoint), out)
    assert not out.exists() and list(tmp_path.iterdir()) == [checkpoint]


def test_untraceable_model_gets_a_one_line_error(tmp_path: Path) -> None:
    model = build_detector("spectrum_cnn", width=4)
    checkpoint = save_copy(model, "spectrum_cnn", {"width": 4}, model.input_spec, tmp_path / "s.pt")
    with pytest.raises(RuntimeError) as caught:
        export_onnx(load_detector(checkpoint), tmp_path / "s.onnx")
    message = str(caught.value)
    assert "spectrum_cnn cannot be exported with the torchscript exporter" in message
    assert "--exporter dynamo" in message and "\n" not in message and len(message) < 400
    assert not (tmp_path / "s.onnx").exists()


@pytest.mark.slow
def test_dynamo_exporter_handles_the_spectrum_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = spread_outputs(build_detector("spectrum_cnn", width=4), 128, seed=5)
    checkpoint = save_copy(model, "spectrum_cnn", {"width": 4}, model.input_spec, tmp_path / "s.pt")
    loaded = load_detector(checkpoint)
    out = export_onnx(loaded, tmp_path / "s.onnx", exporter="dynamo").path
    assert_same_outputs(loaded.model, OnnxDetector(out), varied_images(3, 128, seed=6))


def test_unknown_exporter_and_file_names() -> None:
    with pytest.raises(ValueError, match="unknown exporter"):
        export_onnx(None, "x.onnx", exporter="magic")  # type: ignore[arg-type]
    assert int8_onnx_path(Path("run/best.onnx")) == Path("run/best.int8.onnx")
    assert default_onnx_path("run/checkpoints/best.pt") == Path("run/checkpoints/best.onnx")


def test_onnx_detector_accepts_inference_tensors(disc_checkpoint: Path) -> None:
    loaded = load_detector(disc_checkpoint)
    exported = OnnxDetector(export_onnx(loaded, disc_checkpoint.with_suffix(".onnx")).path)
    with torch.inference_mode():
        images = varied_images(2, 64, seed=0).double()  # cast to float32 on the way in
        logits = exported(images)
    assert logits.dtype == torch.float32 and np.isfinite(logits.numpy()).all()
