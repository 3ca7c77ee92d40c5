"""Corruptions of the robustness sweep, and a sweep over two tiny detectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fakescope.config import DataConfig
from fakescope.evaluate.corruptions import blur, downscale, jpeg, noise
from fakescope.evaluate.options import EvalOptions
from fakescope.evaluate.robustness import (
    DEFAULT_SWEEPS,
    Robustness,
    parse_sweeps,
    robustness_sweep,
    write_robustness,
)

ALL_ON_CPU = EvalOptions(device="cpu", batch_size=16, split="all")


@pytest.fixture
def pictures() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (3, 3, 32, 32), generator=gen, dtype=torch.uint8)


def test_weakest_settings_leave_pictures_unchanged(pictures: torch.Tensor) -> None:
    assert torch.equal(blur(pictures, 0.0, 0), pictures)
    assert torch.equal(downscale(pictures, 1.0, 0), pictures)
    assert torch.equal(noise(pictures, 0.0, 0), pictures)


@pytest.mark.parametrize(
    ("corrupt", "strength"), [(jpeg, 30), (blur, 2.0), (downscale, 0.25), (noise, 0.1)]
)
def test_corruptions_keep_shape_and_type_and_change_pixels(
    corrupt: object, strength: float, pictures: torch.Tensor
) -> None:
    out = corrupt(pictures, strength, 0)  # type: ignore[operator]
    assert out.shape == pictures.shape and out.dtype == torch.uint8
    assert (out.float() - pictures.float()).abs().mean() > 5


def test_stronger_blur_removes_more_detail(pictures: torch.Tensor) -> None:
    def roughness(x: torch.Tensor) -> float:
        return float(x.float().diff(dim=-1).abs().mean())

    assert (
        roughness(blur(pictures, 3.0, 0)) < roughness(blur(pictures, 1.0, 0)) < roughness(pictures)
    )


def test_noise_is_reproducible_per_seed(pictures: torch.Tensor) -> None:
    assert torch.equal(noise(pictures, 0.05, 7), noise(pictures, 0.05, 7))
    assert not torch.equal(noise(pictures, 0.05, 7), noise(pictures, 0.05, 8))


def test_parse_sweeps() -> None:
    assert parse_sweeps(None) == DEFAULT_SWEEPS
    assert parse_sweeps(["blur"]) == {"blur": DEFAULT_SWEEPS["blur"]}
    with pytest.raises(ValueError, match="unknown corruption 'rain'"):
        parse_sweeps(["rain"])


def test_sweep_over_two_models(
    one_logit_checkpoint: Path, two_logit_checkpoint: Path, data_config: DataConfig, tmp_path: Path
) -> None:
    sweeps = {"blur": (0.0, 2.0), "jpeg": (90, 30)}
    result = robustness_sweep(
        [one_logit_checkpoint, two_logit_checkpoint], data_config, ALL_ON_CPU, sweeps
    )
    assert len(result.rows) == 2 * 4
    assert result.models() == ["run-one/best", "run/best"]
    strengths, accuracy = result.series("run/best", "blur", "accuracy")
    assert strengths == [0.0, 2.0] and all(0 <= a <= 1 for a in accuracy)
    assert all(row["metrics"]["n"] == 40 for row in result.rows)
    path = write_robustness(result, tmp_path)
    assert Robustness.from_dict(json.loads(path.read_text())) == result
