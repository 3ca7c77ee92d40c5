"""Resize modes, normalisation and augmentations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fakescope.config import AugmentConfig, DataConfig
from fakescope.data.transforms import (
    IMAGENET_MEAN,
    Augmenter,
    InputSpec,
    Normalizer,
    preprocess,
    resize_image,
    resolve_input_spec,
)


def _gradient(width: int, height: int) -> Image.Image:
    x = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
    return Image.fromarray(np.stack([x, x, x], -1))


def test_short_side_crop_keeps_the_centre() -> None:
    out = resize_image(_gradient(200, 100), 50, "short_side_crop")
    assert out.size == (50, 50)
    # The middle half of a horizontal ramp survives: ~64..191.
    row = np.asarray(out)[25, :, 0]
    assert 55 < row[0] < 75 and 180 < row[-1] < 200


def test_plain_resize_squashes() -> None:
    out = resize_image(_gradient(200, 100), 50, "resize")
    row = np.asarray(out)[25, :, 0]
    assert out.size == (50, 50) and row[0] < 10 and row[-1] > 245


def test_unknown_resize_mode() -> None:
    with pytest.raises(ValueError, match="unknown resize mode"):
        resize_image(_gradient(10, 10), 5, "stretch")


def test_normaliser_ranges_and_inverse() -> None:
    images = torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    minus_one_one = Normalizer(InputSpec(size=2))
    out = minus_one_one(images.clone())
    assert torch.allclose(out[0, :, 0, 0], torch.full((3,), -1.0))
    assert torch.allclose(out[0, :, 0, 1], torch.full((3,), 1.0))
    assert torch.equal(minus_one_one.denormalize(out), images)
    spec = resolve_input_spec(InputSpec(size=224), DataConfig(normalize="imagenet", image_size=64))
    assert spec.size == 64 and spec.mean == IMAGENET_MEAN


def test_model_spec_wins_unless_data_config_says_otherwise() -> None:
    model_spec = InputSpec(size=299, mean=IMAGENET_MEAN)
    spec = resolve_input_spec(model_spec, DataConfig(resize="resize"))
    assert spec.size == 299 and spec.mean == IMAGENET_MEAN and spec.resize == "resize"
    assert InputSpec.from_dict(spec.to_dict()) == spec


def test_preprocess_shape() -> None:
    array = preprocess(_gradient(90, 60), InputSpec(size=32))
    assert array.shape == (32, 32, 3) and array.dtype == np.uint8


def test_augmentations_are_seeded_and_keep_shape() -> None:
    config = AugmentConfig(
        hflip=True, color_jitter=0.2, jpeg_prob=1.0, blur_prob=1.0, random_resized_crop=0.5
    )
    augment = Augmenter(config)
    image = torch.from_numpy(np.array(_gradient(32, 32))).permute(2, 0, 1).contiguous()
    a = augment(image, torch.Generator().manual_seed(1))
    b = augment(image, torch.Generator().manual_seed(1))
    c = augment(image, torch.Generator().manual_seed(2))
    assert a.shape == image.shape and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert augment.active and not Augmenter(AugmentConfig()).active


def test_hflip_flips() -> None:
    image = torch.arange(12, dtype=torch.uint8).view(1, 3, 4).expand(3, 3, 4).contiguous()
    augment = Augmenter(AugmentConfig(hflip=True))
    flipped = {
        bool(torch.equal(augment(image, torch.Generator().manual_seed(s)), image.flip(-1)))
        for s in range(20)
    }
    assert flipped == {True, False}
