"""benchmarks/gan_swd.py: the pixel-level sliced Wasserstein reading of GAN samples."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
import torch


@pytest.fixture(scope="module")
def gan_swd() -> ModuleType:
    return importlib.import_module("benchmarks.gan_swd")


def textures(n: int, seed: int, smooth: bool) -> torch.Tensor:
    """n random 64x64 images in [-1, 1]; `smooth` ones are noise blurred to 8x8 and back."""
    noise = torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    if smooth:
        noise = torch.nn.functional.interpolate(
            torch.nn.functional.avg_pool2d(noise, 8), scale_factor=8, mode="bilinear")
    return noise


def test_pyramid_levels_are_64_32_16(gan_swd: ModuleType) -> None:
    levels = gan_swd.laplacian_pyramid(textures(2, 0, smooth=False))
    assert [level.shape[-1] for level in levels] == [64, 32, 16]


def test_same_distribution_reads_near_zero_and_a_different_one_far(gan_swd: ModuleType) -> None:
    reals, more_reals = textures(160, 0, smooth=True), textures(160, 1, smooth=True)
    sharp = textures(160, 2, smooth=False)
    same = gan_swd.swd(reals, more_reals, seed=0)
    different = gan_swd.swd(reals, sharp, seed=0)
    assert len(same) == len(different) == 3
    # the missing fine detail shows most at the finest level; the coarsest sees both blurred
    assert different[0] > 5 * same[0], (same, different)
    assert sum(different) > 2 * sum(same), (same, different)


def test_sets_of_different_sizes_are_refused(gan_swd: ModuleType) -> None:
    with pytest.raises(ValueError, match="equal-sized sets, got 3 and 2"):
        gan_swd.swd(textures(3, 0, True), textures(2, 0, True), seed=0)
