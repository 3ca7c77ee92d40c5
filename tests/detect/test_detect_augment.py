"""The CNNDetection preset's blur + JPEG augmentation, and proof that training applies it."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import ImageFilter

from fakescope.config import load_config
from fakescope.data import transforms
from fakescope.detect.config import DetectJobConfig, check_detect_config
from fakescope.detect.train import train_detector

MakeConfig = Callable[..., DetectJobConfig]


def test_presets_carry_the_cnndetection_settings() -> None:
    wang = load_config(DetectJobConfig, "cnndetection_aug")
    check_detect_config(wang)
    a = wang.data.augment
    assert (a.blur_prob, a.blur_sigma, a.jpeg_prob, a.jpeg_quality) == (
        0.5, (0.0, 3.0), 0.5, (30, 100)
    )  # fmt: skip
    assert a.hflip and wang.model.name == "resnet50"
    npr = load_config(DetectJobConfig, "npr_cnn")
    check_detect_config(npr)
    assert npr.model.name == "npr_cnn"
    assert npr.data.augment.blur_prob == 0 and npr.data.augment.jpeg_prob == 0


def test_training_blurs_and_recompresses_about_half_the_images(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    wang = load_config(DetectJobConfig, "cnndetection_aug").data.augment
    counts = {"images": 0, "blur": 0, "jpeg": 0}
    sigmas: list[float] = []
    qualities: list[int] = []

    augment = transforms.Augmenter.__call__
    roundtrip = transforms.jpeg_roundtrip

    def counted_augment(self: transforms.Augmenter, image: Any, gen: Any) -> Any:
        counts["images"] += 1
        return augment(self, image, gen)

    def counted_blur(radius: float) -> ImageFilter.GaussianBlur:
        counts["blur"] += 1
        sigmas.append(radius)
        return ImageFilter.GaussianBlur(radius)

    def counted_jpeg(image: Any, quality: int) -> Any:
        counts["jpeg"] += 1
        qualities.append(quality)
        return roundtrip(image, quality)

    monkeypatch.setattr(transforms.Augmenter, "__call__", counted_augment)
    monkeypatch.setattr(transforms, "ImageFilter", SimpleNamespace(GaussianBlur=counted_blur))
    monkeypatch.setattr(transforms, "jpeg_roundtrip", counted_jpeg)
    config = make_config(
        train__epochs=1, data__augment__blur_prob=wang.blur_prob,
        data__augment__blur_sigma=wang.blur_sigma, data__augment__jpeg_prob=wang.jpeg_prob,
        data__augment__jpeg_quality=wang.jpeg_quality,
    )  # fmt: skip
    train_detector(config, progress=False)
    n = counts["images"]
    assert n >= 64  # every training image of the epoch went through the augmenter
    assert 0.3 * n < counts["blur"] < 0.7 * n
    assert 0.3 * n < counts["jpeg"] < 0.7 * n
    assert all(0.0 <= s <= 3.0 for s in sigmas) and max(sigmas) > 1.5
    assert all(30 <= q <= 100 for q in qualities) and min(qualities) < 60
