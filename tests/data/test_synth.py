"""Synthetic demo faces: determinism, layout, variety, and a fake class with a measurable trace."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from fakescope.data.images import decode_image
from fakescope.data.synth import (
    SynthSummary,
    draw_face,
    draw_fake_face,
    image_rng,
    synthesize_dataset,
)


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(decode_image(path), dtype=np.float64)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def _checkerboard_strength(rgb: np.ndarray) -> float:
    """How far the high-pass residual's mean differs between the four 2x2 pixel phases.

    A picture with no periodic structure has the same residual mean on every phase; stride-2
    upsampling leaves a different gain on each."""
    grey = _luminance(rgb)
    neighbours = (grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:]) / 4
    residual = grey[1:-1, 1:-1] - neighbours
    phases = np.array([residual[p::2, q::2].mean() for p in (0, 1) for q in (0, 1)])
    return float(np.abs(phases - phases.mean()).mean())


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("synth")
    return out, synthesize_dataset(out, n=24, size=64, seed=5, fakes=True)


def test_layout_counts_and_summary(dataset: tuple[Path, SynthSummary]) -> None:
    out, summary = dataset
    expected = [f"face_{i:05d}.jpg" for i in range(24)]
    assert sorted(p.name for p in (out / "real").iterdir()) == expected
    assert sorted(p.name for p in (out / "fake").iterdir()) == expected
    assert summary.out == out
    assert summary.counts == {"real": 24, "fake": 24}
    assert (summary.size, summary.seed) == (64, 5)
    assert summary.seconds > 0


def test_reals_only_unless_fakes_asked(tmp_path: Path) -> None:
    summary = synthesize_dataset(tmp_path, n=2, size=32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real"]
    assert summary.counts == {"real": 2}


@pytest.mark.parametrize("size", [16, 33, 64])
def test_files_are_rgb_jpegs_of_the_requested_size(tmp_path: Path, size: int) -> None:
    synthesize_dataset(tmp_path, n=2, size=size, fakes=True)
    for path in sorted(tmp_path.glob("*/*.jpg")):
        assert path.read_bytes()[:3] == b"\xff\xd8\xff"
        image = decode_image(path)
        assert (image.mode, image.size) == ("RGB", (size, size))


def test_same_arguments_write_same_bytes(tmp_path: Path) -> None:
    first = synthesize_dataset(tmp_path / "a", n=3, size=32, seed=11, fakes=True).out
    second = synthesize_dataset(tmp_path / "b", n=3, size=32, seed=11, fakes=True).out
    files = sorted(p.relative_to(first) for p in first.glob("*/*.jpg"))
    assert len(files) == 6
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_an_image_does_not_depend_on_n(tmp_path: Path) -> None:
    small = synthesize_dataset(tmp_path / "small", n=2, size=32, seed=1, fakes=True).out
    large = synthesize_dataset(tmp_path / "large", n=5, size=32, seed=1, fakes=True).out
    for name in ("real/face_00000.jpg", "real/face_00001.jpg", "fake/face_00001.jpg"):
        assert (small / name).read_bytes() == (large / name).read_bytes()


def test_another_seed_draws_other_faces(tmp_path: Path) -> None:
    one = synthesize_dataset(tmp_path / "one", n=1, size=32, seed=1).out
    two = synthesize_dataset(tmp_path / "two", n=1, size=32, seed=2).out
    name = "real/face_00000.jpg"
    assert np.abs(_pixels(one / name) - _pixels(two / name)).mean() > 10


def test_rerun_rewrites_but_a_folder_with_other_images_is_refused(tmp_path: Path) -> None:
    synthesize_dataset(tmp_path, n=3, size=32)
    before = (tmp_path / "real" / "face_00002.jpg").read_bytes()
    synthesize_dataset(tmp_path, n=3, size=32)
    assert (tmp_path / "real" / "face_00002.jpg").read_bytes() == before
    with pytest.raises(ValueError, match=r"other image.*face_00002\.jpg"):
        synthesize_dataset(tmp_path, n=2, size=32)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be at least 1"),
        ({"size": 15}, "size must be between 16 and 1024"),
        ({"size": 1025}, "size must be between 16 and 1024"),
        ({"jpeg_quality": (96, 80)}, "jpeg_quality"),
        ({"jpeg_quality": (0, 80)}, "jpeg_quality"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    arguments = {"n": 1, "size": 32, **kwargs}
    with pytest.raises(ValueError, match=message):
        synthesize_dataset(tmp_path, **arguments)
    assert not any(tmp_path.iterdir())


def test_drawing_functions_check_the_size() -> None:
    with pytest.raises(ValueError, match="size"):
        draw_face(image_rng(0, 0, 0), 8)
    with pytest.raises(ValueError, match="size"):
        draw_fake_face(image_rng(0, 1, 0), 2048)


def test_faces_are_clearly_different_from_each_other(dataset: tuple[Path, SynthSummary]) -> None:
    out, _ = dataset
    reals = [_pixels(out / "real" / f"face_{i:05d}.jpg") for i in range(12)]
    distances = [np.abs(a - b).mean() for a, b in itertools.combinations(reals, 2)]
    # Measured: the closest pair of these 12 differs by about 36 grey levels per pixel.
    assert min(distances) > 12


def test_skin_tones_range_from_light_to_deep() -> None:
    # The middle of the picture is mostly cheek and nose: its median brightness is the skin tone.
    tones = []
    for i in range(32):
        face = np.asarray(draw_face(image_rng(0, 0, i), 64), dtype=np.float64)
        tones.append(np.median(_luminance(face[28:36, 22:42].reshape(-1, 3))))
    # Measured: 63 to 224, across 5 of the 6 bands of 40 grey levels from 0 to 240.
    assert max(tones) - min(tones) > 120
    assert len({int(tone // 40) for tone in tones}) >= 4


def test_a_fake_keeps_the_colours_of_the_face_it_was_drawn_from() -> None:
    # The same generator state draws the same face; the traces must not move its mean colour,
    # or a detector could separate the classes by colour alone.
    for i in range(16):
        real = np.asarray(draw_face(image_rng(7, 0, i), 64), dtype=np.float64)
        fake = np.asarray(draw_fake_face(image_rng(7, 0, i), 64), dtype=np.float64)
        # Measured: at most 2.4 grey levels over 100 faces.
        assert np.abs(real.mean(axis=(0, 1)) - fake.mean(axis=(0, 1))).max() < 4


def test_fakes_carry_a_checkerboard_that_reals_lack(dataset: tuple[Path, SynthSummary]) -> None:
    out, _ = dataset
    real = np.array([_checkerboard_strength(_pixels(p)) for p in sorted(out.glob("real/*"))])
    fake = np.array([_checkerboard_strength(_pixels(p)) for p in sorted(out.glob("fake/*"))])
    # Measured on these JPEGs: median 0.22 for reals, 2.6 for fakes; a threshold at 0.5
    # sorts 47 of the 48 images.
    assert np.median(fake) > 4 * np.median(real)
    correct = np.sum(real < 0.5) + np.sum(fake >= 0.5)
    assert correct >= 0.9 * (real.size + fake.size)
