"""Grad-CAM for 1- and 2-logit detectors: targets, maps, PNG overlays, thread safety."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fakescope.data.images import load_image
from fakescope.evaluate.explain import worst_examples
from fakescope.inference.gradcam import (
    MIN_DISPLAY_SIDE,
    LogOddsTarget,
    gradcam_heatmap,
    gradcam_png,
)
from fakescope.inference.predict import Predictor, model_input
from fakescope.models.registry import load_detector


def test_target_is_the_log_odds_of_the_class() -> None:
    one = torch.tensor([[1.5], [-0.5]])
    two = torch.tensor([[0.2, 1.0], [2.0, -1.0]])
    assert LogOddsTarget(1)(one).tolist() == [1.5, -0.5]
    assert LogOddsTarget(-1)(one).tolist() == [-1.5, 0.5]
    assert LogOddsTarget(1)(two).tolist() == pytest.approx([0.8, -3.0])
    assert LogOddsTarget(1)(two[0]).item() == pytest.approx(0.8)  # one image, as Grad-CAM passes


@pytest.mark.parametrize("which", ["one_logit_checkpoint", "two_logit_checkpoint"])
def test_heatmap_and_png_overlay(which: str, faces: Path, request: pytest.FixtureRequest) -> None:
    loaded = load_detector(request.getfixturevalue(which))
    image = load_image(sorted((faces / "fake").glob("*.jpg"))[0])
    pixels, _ = model_input(image, loaded.input_spec)
    heat, prob = gradcam_heatmap(loaded, pixels)
    size = loaded.input_spec.size
    assert heat.shape == (size, size) and heat.min() >= 0 and heat.max() <= 1
    assert np.isfinite(heat).all()
    expected = Predictor(loaded).predict_images([image])[0].probability_fake
    assert prob == pytest.approx(expected, abs=1e-6)
    with torch.inference_mode():  # as a server handler might call it
        png = gradcam_png(loaded, image)
    overlay = Image.open(io.BytesIO(png))
    assert overlay.format == "PNG" and overlay.mode == "RGB"
    assert overlay.size == (MIN_DISPLAY_SIDE, MIN_DISPLAY_SIDE)
    assert all(p.grad is None for p in loaded.model.parameters())


def test_concurrent_calls_match_serial_ones(two_logit_checkpoint: Path, faces: Path) -> None:
    loaded = load_detector(two_logit_checkpoint)
    images = [load_image(p) for p in sorted((faces / "real").glob("*.jpg"))[:4]]
    serial = [gradcam_png(loaded, img) for img in images]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda img: gradcam_png(loaded, img), images))
    assert parallel == serial


def test_worst_examples_pick_the_largest_mistakes_per_class() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([0.9, 0.1, 0.6, 0.2, 0.95, 0.5])
    assert worst_examples(labels, probs, 2) == [0, 2, 3, 5]
    assert worst_examples(labels, probs, 10) == [0, 2, 1, 3, 5, 4]


def test_frozen_backbone_probe_gets_a_heatmap(tmp_path: Path) -> None:
    from fakescope.data.transforms import InputSpec
    from fakescope.models.registry import build_detector, load_detector, save_detector

    model = build_detector("lite0_probe")
    spec = InputSpec(size=64)
    save_detector(tmp_path / "probe.pt", model, "lite0_probe", {}, spec)
    loaded = load_detector(tmp_path / "probe.pt")
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    heat, prob = gradcam_heatmap(loaded, pixels)
    assert heat.shape == (64, 64) and 0.0 <= prob <= 1.0 and np.isfinite(heat).all()
