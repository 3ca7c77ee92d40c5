"""The pooled features as a second ONNX output: the training-data check from the export's own
pass, the same distances as PyTorch's, and older one-output exports still served."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from export.tiny_models import varied_images
from PIL import Image

from fakescope.evaluate.feature_density import fit_feature_density
from fakescope.export.onnx_export import export_onnx
from fakescope.export.quantize import quantize_onnx
from fakescope.inference.artifacts import ONNX_FEATURES, default_onnx_path
from fakescope.inference.onnx_graph import LogitsAndFeatures
from fakescope.inference.predict import Predictor
from fakescope.inference.runtime import OnnxDetector
from fakescope.models.registry import LoadedDetector, build_detector, load_detector

DISTANCE_RTOL = 1e-3


def _with_density(checkpoint: Path) -> LoadedDetector:
    """The checkpoint with a training-data check fitted on features of varied pictures."""
    loaded = load_detector(checkpoint)
    with torch.inference_mode():
        train = loaded.model.features(varied_images(40, 64, seed=11)).numpy()
        val = loaded.model.features(varied_images(20, 64, seed=12)).numpy()
    loaded.feature_density = fit_feature_density(train, val)
    return loaded


def _pictures(n: int) -> list[np.ndarray]:
    """uint8 HWC pictures at the model's 64 px input."""
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) // (1 + i % 3) for i in range(n)]


def test_export_returns_features_and_onnx_distances_match_pytorch(
    disc_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = export_onnx(load_detector(disc_checkpoint), default_onnx_path(disc_checkpoint))
    assert result.max_feature_diff is not None and result.max_abs_feature is not None
    outputs = [o.name for o in onnx.load(str(result.path)).graph.output]
    assert outputs == ["logits", ONNX_FEATURES]
    loaded = _with_density(disc_checkpoint)
    torch_side = Predictor(loaded, batch_size=4, backend="torch")
    arrays = _pictures(7)  # two batches, the second one short
    probs, distances = torch_side.scores(arrays)
    onnx_side = Predictor(loaded, batch_size=4, backend="onnx", checkpoint=disc_checkpoint)
    assert onnx_side.onnx is not None and onnx_side.onnx.has_features

    def no_pytorch_pass(*args: object) -> torch.Tensor:
        raise AssertionError("the ONNX path ran the PyTorch feature pass")

    monkeypatch.setattr(loaded.model, "features", no_pytorch_pass)
    got_probs, got_distances = onnx_side.scores(arrays)
    assert got_probs == pytest.approx(probs, abs=1e-4)
    assert np.allclose(np.array(got_distances, float), np.array(distances, float),
                       rtol=DISTANCE_RTOL)
    assert max(distances) > 1.2 * min(distances)  # the pictures really differ
    # the whole predict path too: the distances reach the predictions
    predicted = onnx_side.predict_images([Image.fromarray(a) for a in arrays[:3]])
    assert [p.distance for p in predicted] == pytest.approx(got_distances[:3])


def test_a_one_output_export_falls_back_to_the_pytorch_feature_pass(
    disc_checkpoint: Path,
) -> None:
    path = export_onnx(load_detector(disc_checkpoint), default_onnx_path(disc_checkpoint)).path
    graph = onnx.load(str(path))
    del graph.graph.output[1]  # as `fakescope export` wrote files before the features output
    onnx.save(graph, str(path))
    loaded = _with_density(disc_checkpoint)
    calls = []
    own = loaded.model.features

    def counted(x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return own(x)

    predictor = Predictor(loaded, batch_size=4, backend="onnx", checkpoint=disc_checkpoint)
    assert predictor.onnx is not None and not predictor.onnx.has_features
    loaded.model.features = counted  # type: ignore[method-assign]
    _, distances = predictor.scores(_pictures(5))
    assert calls == [4, 1] and all(d is not None for d in distances)


def test_features_are_taken_from_the_logits_pass() -> None:
    """A detector whose forward calls `features` runs it once for both outputs."""
    torch.manual_seed(0)
    model = build_detector("efficientnet_b0").eval()
    calls = []
    own = model.features

    def counted(x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return own(x)

    model.features = counted  # type: ignore[method-assign]
    images = varied_images(2, 32, seed=1)
    with torch.inference_mode():
        logits, features = LogitsAndFeatures(model)(images)
        assert len(calls) == 1 and features.shape == (2, 1280)  # one pass gave both
        assert model.features is counted  # the wrapper put it back
        assert torch.equal(logits, model(images))
        assert torch.equal(features, model.features(images))


def test_int8_exports_keep_the_pytorch_features(disc_checkpoint: Path, tmp_path: Path) -> None:
    path = export_onnx(load_detector(disc_checkpoint), default_onnx_path(disc_checkpoint)).path
    assert OnnxDetector(path).has_features
    int8 = quantize_onnx(path, tmp_path / "best.int8.onnx", "dynamic")
    assert not OnnxDetector(int8).has_features  # approximate features: PyTorch's are used
