"""`npr_cnn` (the up-sampling residual of Tan et al. 2024) and native-resolution scoring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from threads import one_torch_thread

from fakescope.data.transforms import Normalizer
from fakescope.inference.predict import Predictor
from fakescope.inference.tiles import GRID_ALIGN, is_native, tile_origins, tiles
from fakescope.models.calibration import log_odds
from fakescope.models.npr import npr_residual
from fakescope.models.registry import (
    LoadedDetector,
    build_detector,
    detector_loss,
    list_detectors,
    load_detector,
    save_detector,
)

NPR_PARAMETERS = 288_033


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


def npr_detector(seed: int = 0) -> LoadedDetector:
    torch.manual_seed(seed)
    model = build_detector("npr_cnn").eval()
    return LoadedDetector(model, "npr_cnn", model.input_spec)


def test_registered_with_its_parameter_count() -> None:
    assert "npr_cnn" in list_detectors()
    model = build_detector("npr_cnn")
    assert sum(p.numel() for p in model.parameters()) == NPR_PARAMETERS
    two = build_detector("npr_cnn", num_logits=2)
    assert sum(p.numel() for p in two.parameters()) == NPR_PARAMETERS + 129
    assert is_native(model) and is_native(build_detector("spectrum_cnn"))
    assert not is_native(build_detector("selfcnn"))


def test_the_residual_vanishes_on_a_nearest_upsampled_image() -> None:
    small = torch.randn(2, 3, 16, 16)
    upsampled = F.interpolate(small, scale_factor=2, mode="nearest")
    assert torch.equal(npr_residual(upsampled), torch.zeros_like(upsampled))
    noise = torch.randn(1, 3, 33, 31)  # odd sides: cropped to whole 2x2 blocks
    residual = npr_residual(noise)
    assert residual.shape == (1, 3, 32, 30)
    assert torch.equal(residual[..., ::2, ::2], torch.zeros(1, 3, 16, 15))
    assert residual.abs().sum() > 0


def test_forward_backward_and_gradcam_layer() -> None:
    torch.manual_seed(0)
    model = build_detector("npr_cnn", num_logits=2).train()
    x = torch.randn(4, 3, 64, 64)
    logits = model(x)
    assert logits.shape == (4, 2) and model.features(x).shape == (4, 128)
    detector_loss(logits, torch.tensor([0, 1, 0, 1])).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert isinstance(model.gradcam_layer(), torch.nn.Module)
    assert {id(p) for p in model.head_parameters()}.isdisjoint(
        id(p) for p in model.backbone_parameters()
    )


def test_a_large_image_scores_the_mean_of_its_tiles() -> None:
    loaded = npr_detector()
    size = loaded.input_spec.size
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, (3 * size + 16, 5 * size + 17, 3), dtype=np.uint8)
    predictor = Predictor(loaded, batch_size=4)  # several batches of tiles
    got = predictor.log_odds([predictor.model_input(Image.fromarray(picture))[0]])[0]

    # by hand: a 3 x 5 grid centred with its origin rounded down to the 8-pixel grid
    top, left = 8, 8
    normalize = Normalizer(loaded.input_spec)
    each = []
    with torch.no_grad():
        for r in range(3):
            for c in range(5):
                tile = picture[top + r * size : top + (r + 1) * size,
                               left + c * size : left + (c + 1) * size]  # fmt: skip
                batch = normalize(torch.from_numpy(tile.transpose(2, 0, 1).copy())[None])
                each.append(float(log_odds(loaded.model(batch))[0]))
    assert len(set(each)) == 15  # the tiles really differ
    assert got == pytest.approx(np.mean(each), abs=1e-5)
    assert predictor.probabilities([picture])[0] == pytest.approx(1 / (1 + np.exp(-got)))


def test_tile_grid_keeps_alignment_and_caps_the_count() -> None:
    assert tile_origins(64, 64, 64) == [(0, 0)]
    origins = tile_origins(100, 300, 32)  # 3 x 9 tiles, 4 and 12 px to spare
    assert origins[0] == (0, 0) and all(r % GRID_ALIGN == 0 for r, _ in origins)
    assert tile_origins(1000, 1000, 10, max_tiles=64)[-1] == (990, 990)
    assert len(tile_origins(1000, 1000, 10, max_tiles=64)) == 64


def test_a_small_image_is_mirrored_out_never_resized() -> None:
    picture = np.arange(40 * 50 * 3, dtype=np.uint8).reshape(40, 50, 3)
    (tile,) = tiles(picture, 64)
    assert tile.shape == (64, 64, 3)
    assert np.array_equal(tile[:40, :50], picture)  # the picture's own pixels stay in place
    assert np.array_equal(tile[40:, :50], picture[::-1][: 64 - 40])  # mirrored below


def test_eval_scores_native_detectors_on_unresized_files(tmp_path: Path) -> None:
    from fakescope.config import DataConfig
    from fakescope.data.synth import synthesize_dataset
    from fakescope.evaluate.evaluate import evaluate_checkpoint
    from fakescope.evaluate.options import EvalOptions

    data = tmp_path / "faces"
    synthesize_dataset(data, n=6, size=80, seed=1, fakes=True)  # 80 px: one 64 px tile each
    loaded = npr_detector(seed=1)
    checkpoint = tmp_path / "npr.pt"
    save_detector(checkpoint, loaded.model, "npr_cnn", {}, loaded.input_spec)
    config = DataConfig(path=str(data), cache_dir=str(tmp_path / "cache"))
    _, scores = evaluate_checkpoint(checkpoint, config, EvalOptions(device="cpu", split="all"))
    predictor = Predictor(load_detector(checkpoint))
    rows = predictor.predict_paths(scores.paths)
    expected = [r.prediction.probability_fake for r in rows if r.prediction]
    assert scores.probs.tolist() == pytest.approx(expected, abs=1e-6)
    first = np.asarray(Image.open(scores.paths[0]).convert("RGB"))
    assert first.shape[:2] == (80, 80)


def test_exports_to_onnx(tmp_path: Path) -> None:
    from fakescope.export.onnx_export import export_onnx

    result = export_onnx(npr_detector(), tmp_path / "npr.onnx")
    assert result.max_probability_diff < 1e-4


def test_robustness_downscale_keeps_a_native_pictures_shape() -> None:
    from fakescope.evaluate.corruptions import downscale

    pictures = torch.randint(0, 256, (1, 3, 40, 60), dtype=torch.uint8)
    assert downscale(pictures, 0.5, 0).shape == (1, 3, 40, 60)


def test_the_centre_tile_is_cut_without_tiling_everything() -> None:
    from fakescope.inference.tiles import centre_tile

    picture = np.zeros((5 * 64 + 16, 3 * 64, 3), dtype=np.uint8)
    picture[8 + 2 * 64 : 8 + 3 * 64, 64:128] = 255  # the middle of a 5 x 3 grid
    assert (centre_tile(picture, 64) == 255).all()
    assert centre_tile(picture[:40, :30], 64).shape == (64, 64, 3)
