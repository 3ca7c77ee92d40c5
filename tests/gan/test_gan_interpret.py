"""The one line `gan metrics` and `gan train` print for a person: FD against the floor as a
ratio, diversity in words, where the samples are."""

from __future__ import annotations

from pathlib import Path

from fakescope.gan.interpret import diversity_words, floor_line, training_line
from fakescope.gan.metrics import FloorComparison


def _comparison(fd: float, diversity: float) -> FloorComparison:
    return FloorComparison("fd_efflite0", "kid_efflite0", 128,
                           fake={"fd": fd, "kid": 0.1, "kid_std": 0.0, "diversity": diversity},
                           floor={"fd": 10.0, "kid": 0.0, "kid_std": 0.0, "diversity": 1.0})


def test_floor_line_reads_the_fd_as_a_ratio_to_the_floor(tmp_path: Path) -> None:
    (tmp_path / "epoch_0001.png").write_bytes(b"")
    (tmp_path / "epoch_0002.png").write_bytes(b"")
    line = floor_line(_comparison(35.0, 0.9), tmp_path)
    assert line.startswith("fd_efflite0 35.0 = 3.50x the real-vs-real floor (10.0; goal: near 1x)")
    assert "far from real images" in line and "128 images a side" in line
    assert "diversity 0.90 of the reals' (about as varied as the reals)" in line
    assert line.endswith(f"samples: {tmp_path / 'epoch_0002.png'}")
    assert "close to real images" in floor_line(_comparison(12.0, 0.9))


def test_diversity_words_flag_collapse() -> None:
    assert diversity_words(0.1) == "below 0.3: looks collapsed"
    assert diversity_words(0.5) == "less varied than the reals"


def test_training_line_without_quality_says_how_to_measure_it(tmp_path: Path) -> None:
    line = training_line({"epoch": 3, "diversity": ""}, tmp_path, tmp_path / "samples")
    assert line.startswith("no quality measured during training")
    assert f"fakescope gan metrics --checkpoint {tmp_path} --data HELD_OUT_IMAGES" in line
    assert line.endswith(f"samples: none in {tmp_path / 'samples'} yet")
    measured = training_line({"fd_efflite0": 81.23, "diversity": 0.2}, tmp_path, tmp_path)
    assert measured.startswith("last epoch fd_efflite0 81.2; diversity 0.20 of the reals' "
                               "(below 0.3: looks collapsed)")
