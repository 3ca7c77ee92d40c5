"""Face crop: the box lands on real faces, crops are square and hold the box, no-face passes."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps
from skimage import data as skimage_data  # real photos bundled in the wheel, no download

from fakescope.data.faces import FaceBox, FaceCropper, crop_around, find_largest_face, load_cascade
from fakescope.data.transforms import InputSpec, preprocess

# Landmarks labelled by hand on scikit-image's bundled photos (x, y in full-resolution pixels).
ASTRONAUT_LANDMARKS = {"left_eye": (202, 100), "right_eye": (247, 103), "mouth": (222, 145)}
CAMERAMAN_LANDMARKS = {"eye": (233, 148), "ear": (187, 137), "nose": (252, 165)}


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(skimage_data.astronaut())


@pytest.fixture(scope="module")
def cameraman() -> Image.Image:
    return Image.fromarray(skimage_data.camera())  # grey, head in profile: the fallback path


def _contains(box: FaceBox, point: tuple[int, int]) -> bool:
    x, y = point
    return box.x <= x < box.x + box.w and box.y <= y < box.y + box.h


def _largest_offset(a: FaceBox, b: FaceBox) -> int:
    return max(abs(a.x - b.x), abs(a.y - b.y), abs(a.w - b.w), abs(a.h - b.h))


def _coordinate_image(width: int, height: int) -> Image.Image:
    """32-bit picture whose pixel value is y * width + x, so a crop tells where it came from."""
    return Image.fromarray(np.arange(width * height, dtype=np.int32).reshape(height, width))


def _crop_origin(crop: Image.Image, width: int) -> tuple[int, int]:
    top, left = divmod(int(np.asarray(crop)[0, 0]), width)
    return left, top


def test_astronaut_face_is_found_on_the_face(astronaut: Image.Image) -> None:
    box = find_largest_face(astronaut)
    assert box is not None
    for name, point in ASTRONAUT_LANDMARKS.items():
        assert _contains(box, point), f"{name} {point} outside {box}"
    assert 70 <= box.w <= 140 and abs(box.w - box.h) <= 1


def test_profile_face_is_found_facing_either_way(cameraman: Image.Image) -> None:
    box = find_largest_face(cameraman)
    assert box is not None
    for name, point in CAMERAMAN_LANDMARKS.items():
        assert _contains(box, point), f"{name} {point} outside {box}"
    mirrored = find_largest_face(ImageOps.mirror(cameraman))
    assert mirrored is not None
    width = cameraman.width
    for name, (x, y) in CAMERAMAN_LANDMARKS.items():
        assert _contains(mirrored, (width - 1 - x, y)), f"mirrored {name} outside {mirrored}"


def test_box_is_in_full_resolution_coordinates(astronaut: Image.Image) -> None:
    small = find_largest_face(astronaut)
    big = find_largest_face(astronaut.resize((1536, 1536), Image.Resampling.BILINEAR))
    assert small is not None and big is not None
    # Same face at three times the pixels, give or take a few pixels of detection jitter.
    assert _largest_offset(big, FaceBox(3 * small.x, 3 * small.y, 3 * small.w, 3 * small.h)) <= 18


def test_grey_and_grey_as_rgb_inputs_find_the_same_face(astronaut: Image.Image) -> None:
    rgb_box = find_largest_face(astronaut)
    grey = astronaut.convert("L")
    assert rgb_box is not None
    for img in (grey, grey.convert("RGB"), astronaut.convert("RGBA")):
        box = find_largest_face(img)
        assert box is not None
        assert _largest_offset(box, rgb_box) <= 4
    cropper = FaceCropper()
    out = cropper(grey)
    assert out.mode == "L" and out.width == out.height and cropper.found == 1


def test_tight_small_face_crops_are_found() -> None:
    # lfw_subset: 100 tight 25x25 grey face crops, then 100 non-faces.
    pictures = (skimage_data.lfw_subset() * 255).astype(np.uint8)
    faces = [find_largest_face(Image.fromarray(p)) for p in pictures[:20]]
    others = [find_largest_face(Image.fromarray(p)) for p in pictures[100:120]]
    assert sum(box is not None for box in faces) >= 15
    assert all(box is None for box in others)


@pytest.mark.parametrize("side", [1, 4, 16, 24])
def test_tiny_images_return_none_without_error(side: int) -> None:
    rng = np.random.default_rng(side)
    img = Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
    assert find_largest_face(img) is None


def test_no_face_passes_through_uncropped_and_is_counted(astronaut: Image.Image) -> None:
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
    flat = Image.new("RGB", (300, 200), (128, 128, 128))
    cropper = FaceCropper(margin=0.25)
    for img in (noise, flat):
        assert find_largest_face(img) is None
        assert cropper(img) is img
        assert cropper.last_box is None
    cropper(astronaut)
    assert (cropper.found, cropper.missing) == (1, 2)
    assert cropper.last_box == find_largest_face(astronaut)


def test_cropper_output_holds_the_face_with_its_margin(astronaut: Image.Image) -> None:
    box = find_largest_face(astronaut)
    assert box is not None
    out = FaceCropper(margin=0.25)(astronaut)
    assert out.size == (round(box.w * 1.5), round(box.w * 1.5))


def test_preprocess_uses_the_cropper(astronaut: Image.Image) -> None:
    spec = InputSpec(size=32)
    cropped = preprocess(astronaut, spec, face_crop=FaceCropper())
    whole = preprocess(astronaut, spec)
    assert cropped.shape == whole.shape == (32, 32, 3)
    # The face fills the crop: its centre is skin, where the whole picture's centre is the suit.
    assert cropped[16, 16].mean() > whole[16, 16].mean() + 40


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 80),
    height=st.integers(1, 80),
    data=st.data(),
    margin=st.floats(0.0, 1.5),
)
def test_crop_is_square_inside_and_holds_the_box(
    width: int, height: int, data: st.DataObject, margin: float
) -> None:
    side = data.draw(st.integers(1, min(width, height)), label="box side")
    x = data.draw(st.integers(0, width - side), label="x")
    y = data.draw(st.integers(0, height - side), label="y")
    box = FaceBox(x, y, side, side)
    crop = crop_around(_coordinate_image(width, height), box, margin)
    left, top = _crop_origin(crop, width)
    crop_side = min(round(side * (1 + 2 * margin)), width, height)
    assert crop.size == (crop_side, crop_side)
    assert left >= 0 and top >= 0
    assert left + crop_side <= width and top + crop_side <= height
    assert left <= x and x + side <= left + crop_side
    assert top <= y and y + side <= top + crop_side


def test_crop_is_centred_on_the_box_away_from_borders() -> None:
    img = _coordinate_image(200, 200)
    crop = crop_around(img, FaceBox(90, 80, 20, 20), margin=0.5)
    assert crop.size == (40, 40)
    assert _crop_origin(crop, 200) == (80, 70)


def test_crop_shifts_inside_at_a_border_instead_of_padding() -> None:
    img = _coordinate_image(100, 100)
    crop = crop_around(img, FaceBox(0, 70, 30, 30), margin=0.5)
    assert crop.size == (60, 60)
    assert _crop_origin(crop, 100) == (0, 40)


def test_invalid_boxes_and_margins_are_refused() -> None:
    with pytest.raises(ValueError, match="invalid face box"):
        FaceBox(0, 0, 0, 10)
    with pytest.raises(ValueError, match="margin"):
        crop_around(Image.new("RGB", (10, 10)), FaceBox(0, 0, 5, 5), margin=-0.1)
    with pytest.raises(ValueError, match="margin"):
        FaceCropper(margin=-1)


def test_box_serialises_to_plain_ints() -> None:
    assert FaceBox(1, 2, 3, 4).to_dict() == {"x": 1, "y": 2, "w": 3, "h": 4}


def test_missing_or_broken_cascade_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="face detector model missing"):
        load_cascade(tmp_path / "absent.xml")
    broken = tmp_path / "broken.xml"
    for text in ("garbage", '<?xml version="1.0"?>\n<opencv_storage>\n</opencv_storage>\n'):
        broken.write_text(text)
        with pytest.raises(RuntimeError, match="unreadable"):
            load_cascade(broken)


def test_concurrent_detection_agrees(astronaut: Image.Image) -> None:
    expected = find_largest_face(astronaut)
    results: list[FaceBox | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(find_largest_face(astronaut)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4
