"""Fakes on demand: files, formats, resumable and batch-size independent; grids and walks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fakescope.checkpoints import CheckpointError, save_checkpoint
from fakescope.gan.sample import (
    LatentStream,
    generate_batches,
    generate_images,
    interpolation_grid,
    load_generator,
    sample_grid,
    slerp,
)
from fakescope.models.dcgan import Generator


@pytest.fixture
def generator() -> Generator:
    torch.manual_seed(0)
    g = Generator(32, base_width=8)
    g.calibrate_batchnorm(4, 16, torch.Generator().manual_seed(0))
    return g


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_generate_writes_n_images_the_same_at_any_batch_size(
    generator: Generator, tmp_path: Path
) -> None:
    small = generate_images(generator, 7, tmp_path / "a", batch_size=3, seed=5)
    large = generate_images(generator, 7, tmp_path / "b", batch_size=64, seed=5)
    assert (small.written, large.written) == (7, 7)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == [f"fake_{i:06d}.png" for i in range(7)]
    for name in names:
        a, b = pixels(tmp_path / "a" / name), pixels(tmp_path / "b" / name)
        assert a.shape == (32, 32, 3)
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # float rounding at most
    assert not np.array_equal(pixels(tmp_path / "a" / names[0]), pixels(tmp_path / "a" / names[1]))


def test_generate_resumes_by_skipping_written_files(generator: Generator, tmp_path: Path) -> None:
    out = tmp_path / "fakes"
    generate_images(generator, 10, out, fmt="jpg", batch_size=4, seed=1, quality=90)
    first = pixels(out / "fake_000008.jpg")
    (out / "fake_000008.jpg").unlink()
    (out / "fake_000002.jpg").unlink()
    again = generate_images(generator, 10, out, fmt="jpg", batch_size=4, seed=1, quality=90)
    assert (again.written, again.skipped) == (2, 8)
    assert np.array_equal(pixels(out / "fake_000008.jpg"), first)
    with pytest.raises(ValueError, match="format"):
        generate_images(generator, 1, out, fmt="gif")  # type: ignore[arg-type]


def test_grids_have_the_expected_layout(generator: Generator, tmp_path: Path) -> None:
    grid = pixels(sample_grid(generator, tmp_path / "grid.png", n=6, nrow=3))
    assert grid.shape == (2 * 34 + 2, 3 * 34 + 2, 3)  # 32px tiles with 2px padding
    walk = pixels(interpolation_grid(generator, tmp_path / "walk.png", rows=2, steps=5))
    assert walk.shape == (2 * 34 + 2, 5 * 34 + 2, 3)
    assert generator.training  # sampling leaves the mode alone


def test_slerp_ends_at_its_endpoints() -> None:
    a, b = torch.randn(1, 1, 16), torch.randn(1, 1, 16)
    t = torch.tensor([0.0, 1.0]).view(1, 2, 1)
    path = slerp(a, b, t)
    assert torch.allclose(path[0, 0], a[0, 0], atol=1e-5)
    assert torch.allclose(path[0, 1], b[0, 0], atol=1e-5)


def test_latents_do_not_depend_on_how_they_are_batched(generator: Generator) -> None:
    whole = LatentStream(generator, seed=3).take(0, 2500)  # crosses two chunk boundaries
    stream = LatentStream(generator, seed=3)
    pieces = torch.cat([stream.take(start, min(7, 2500 - start)) for start in range(0, 2500, 7)])
    assert torch.equal(whole, pieces)
    assert not torch.equal(whole[:5], LatentStream(generator, seed=4).take(0, 5))
    one = torch.cat(list(generate_batches(generator, 5, 2, seed=3)))
    two = torch.cat(list(generate_batches(generator, 5, 5, seed=3)))
    assert one.shape == (5, 3, 32, 32) and torch.allclose(one, two, atol=1e-5)


def test_load_generator_round_trip_and_errors(generator: Generator, tmp_path: Path) -> None:
    path = tmp_path / "gan.pt"
    kwargs = {"resolution": 32, "z_dim": 100, "z_dist": "normal", "base_width": 8,
              "bn_layers": None, "activation": "relu"}
    save_checkpoint(path, {"kind": "gan", "generator_kwargs": kwargs,
                           "generator": generator.state_dict()})
    loaded = load_generator(path)
    assert not loaded.training
    assert torch.equal(loaded.sample(2, torch.Generator().manual_seed(0)),
                       generator.sample(2, torch.Generator().manual_seed(0)))
    save_checkpoint(tmp_path / "det.pt", {"kind": "detector"})
    with pytest.raises(CheckpointError, match="not a GAN checkpoint"):
        load_generator(tmp_path / "det.pt")
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoints"):
        load_generator(tmp_path / "empty_run")
    with pytest.raises(CheckpointError, match="not found"):
        load_generator(tmp_path / "missing.pt")
