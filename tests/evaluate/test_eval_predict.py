"""Predictor: input expansion, batching, bad files on their rows, threads, face crop."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakescope.data.images import load_image
from fakescope.inference.predict import Predictor, expand_inputs
from fakescope.models.registry import load_detector


@pytest.fixture
def predictor(two_logit_checkpoint: Path) -> Predictor:
    return Predictor(load_detector(two_logit_checkpoint), batch_size=4)


def test_expand_inputs_files_folders_globs_and_missing(faces: Path) -> None:
    reals = sorted((faces / "real").glob("*.jpg"))
    found = expand_inputs([str(reals[0]), str(faces / "fake"), str(faces / "real" / "*_0001?.jpg")])
    assert found[0] == reals[0]
    assert found[1:21] == sorted((faces / "fake").glob("*.jpg"))
    assert found[21:] == [p for p in reals if p.name.startswith("face_0001")]
    missing = expand_inputs(["nowhere.png", "nowhere/*.png"])
    assert missing == [Path("nowhere.png"), Path("nowhere/*.png")]


def test_expand_inputs_lists_each_image_once_and_keeps_what_it_cannot_read(
    faces: Path, tmp_path: Path
) -> None:
    every = sorted(faces.rglob("*.jpg"))
    # The recursive glob matches the class folders as well as the files inside them.
    assert sorted(expand_inputs([str(faces / "**" / "*")])) == every
    empty, dir_named_jpg = tmp_path / "empty", tmp_path / "x.jpg"
    empty.mkdir()
    dir_named_jpg.mkdir()
    assert expand_inputs([str(empty), str(dir_named_jpg)]) == [empty, dir_named_jpg]
    broken = tmp_path / "links" / "gone.jpg"
    broken.parent.mkdir()
    broken.symlink_to(tmp_path / "nothing.jpg")
    assert expand_inputs([str(broken.parent)]) == [broken]


def test_folders_without_images_and_broken_links_get_error_rows(
    predictor: Predictor, tmp_path: Path
) -> None:
    folder, broken = tmp_path / "x.jpg", tmp_path / "gone.jpg"
    folder.mkdir()
    broken.symlink_to(tmp_path / "nothing.jpg")
    results = predictor.predict_paths([folder, broken])
    assert "no image files in this folder" in (results[0].error or "")
    assert "not found" in (results[1].error or "")


def test_bad_files_are_reported_on_their_rows(
    predictor: Predictor, faces: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8 not really a jpeg")
    good = sorted((faces / "fake").glob("*.jpg"))[:6]
    paths = [good[0], corrupt, *good[1:], tmp_path / "missing.png"]
    results = predictor.predict_paths(paths)
    assert [r.path for r in results] == [str(p) for p in paths]
    assert results[1].prediction is None and "corrupt.jpg" in (results[1].error or "")
    assert results[-1].error and "not found" in results[-1].error
    ok = [r for r in results if r.error is None]
    assert len(ok) == 6 and all(r.prediction is not None for r in ok)
    alone = predictor.predict_paths(good)
    assert [r.prediction for r in ok] == [r.prediction for r in alone]
    row = results[1].to_dict()
    assert row["probability_fake"] is None and row["error"]


def test_labels_follow_the_stored_threshold(predictor: Predictor, faces: Path) -> None:
    images = [load_image(p) for p in sorted((faces / "real").glob("*.jpg"))[:5]]
    predictions = predictor.predict_images(images)
    for p in predictions:
        assert 0 <= p.probability_fake <= 1 and p.threshold == predictor.threshold
        assert p.label == ("fake" if p.probability_fake >= p.threshold else "real")
        assert p.face_box is None
    predictor.loaded.threshold = 0.0
    assert {p.label for p in predictor.predict_images(images)} == {"fake"}


def test_a_shared_predictor_gives_the_same_answers_from_threads(
    predictor: Predictor, faces: Path
) -> None:
    images = [load_image(p) for p in sorted((faces / "fake").glob("*.jpg"))[:8]]
    expected = predictor.predict_images(images)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda img: predictor.predict_images([img])[0], images * 3))
    # Batches of 1 and of 8 may round differently in the last float bits.
    got = [a.probability_fake for a in answers]
    assert got == pytest.approx([e.probability_fake for e in expected] * 3, abs=1e-6)
    assert [a.label for a in answers] == [e.label for e in expected] * 3


def test_face_crop_finds_a_face_or_keeps_the_picture(two_logit_checkpoint: Path) -> None:
    predictor = Predictor(load_detector(two_logit_checkpoint), face_crop=True)
    blank = Image.fromarray(np.full((60, 80, 3), 128, dtype=np.uint8))
    (prediction,) = predictor.predict_images([blank])
    assert prediction.face_box is None
    plain = Predictor(load_detector(two_logit_checkpoint)).predict_images([blank])[0]
    assert prediction.probability_fake == pytest.approx(plain.probability_fake)


def test_batch_size_must_be_positive(two_logit_checkpoint: Path) -> None:
    with pytest.raises(ValueError, match="batch size"):
        Predictor(load_detector(two_logit_checkpoint), batch_size=0)
