"""Each reader on a small fixture of the layout as its publisher ships it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from imagefiles import make_class_folders, make_image

from fakescope.data.layouts import FAKE, REAL, LayoutError, detect_layout, read_layout


def _counts(samples: list) -> Counter:  # type: ignore[type-arg]
    return Counter((s.split, s.label) for s in samples)


@pytest.mark.parametrize(
    ("real", "fake"), [("real", "fake"), ("Real", "FAKE"), ("0_real", "1_fake")]
)
def test_class_folders_any_case(tmp_path: Path, real: str, fake: str) -> None:
    make_class_folders(tmp_path, n=3, real=real, fake=fake)
    name, samples = read_layout(tmp_path)
    assert name == "class_folders"
    assert _counts(samples) == {(None, REAL): 3, (None, FAKE): 3}
    assert all((s.label == REAL) == (s.path.parent.name == real) for s in samples)


def test_class_folders_one_category_level_down(tmp_path: Path) -> None:
    for category in ("cat", "horse"):
        make_class_folders(tmp_path / category, n=2, real="0_real", fake="1_fake")
    name, samples = read_layout(tmp_path)
    assert name == "class_folders"
    assert _counts(samples) == {(None, REAL): 4, (None, FAKE): 4}


def test_kaggle_split_folders(tmp_path: Path) -> None:
    for split, n in (("Train", 4), ("Validation", 2), ("Test", 3)):
        make_class_folders(tmp_path / split, n=n, real="Real", fake="Fake")
    name, samples = read_layout(tmp_path)
    assert name == "split_folders"
    assert _counts(samples) == {
        ("train", REAL): 4,
        ("train", FAKE): 4,
        ("val", REAL): 2,
        ("val", FAKE): 2,
        ("test", REAL): 3,
        ("test", FAKE): 3,
    }
    assert read_layout(tmp_path, "kaggle")[0] == "split_folders"


def test_single_class_flat_and_nested(tmp_path: Path) -> None:
    for identity in range(3):
        for i in range(2):
            make_image(tmp_path / f"celeb_{identity}" / f"{i}.png", seed=identity * 10 + i)
    make_image(tmp_path / "top.jpg")
    (tmp_path / "notes.txt").write_text("not an image list")
    name, samples = read_layout(tmp_path)
    assert name == "single_class"
    assert len(samples) == 7 and {s.label for s in samples} == {REAL}


def test_celeba(tmp_path: Path) -> None:
    for i in range(1, 7):
        make_image(tmp_path / "img_align_celeba" / f"{i:06d}.jpg", seed=i)
    partition = "".join(f"{i:06d}.jpg {0 if i <= 4 else i - 4}\n" for i in range(1, 7))
    (tmp_path / "list_eval_partition.txt").write_text(partition)
    name, samples = read_layout(tmp_path)
    assert name == "celeba"
    assert _counts(samples) == {("train", REAL): 4, ("val", REAL): 1, ("test", REAL): 1}
    assert samples[0].path == tmp_path / "img_align_celeba" / "000001.jpg"


def test_celeba_kaggle_csv_partition(tmp_path: Path) -> None:
    make_image(tmp_path / "img_align_celeba" / "img_align_celeba" / "000001.jpg")
    (tmp_path / "list_eval_partition.csv").write_text("image_id,partition\n000001.jpg,2\n")
    name, samples = read_layout(tmp_path)
    assert name == "celeba" and samples[0].split == "test" and samples[0].path.is_file()


def test_forgerynet_image_lists(tmp_path: Path) -> None:
    for i in range(4):
        make_image(tmp_path / "train_release" / "1" / f"{i}.jpg", seed=i)
        make_image(tmp_path / "val_release" / "0" / f"{i}.jpg", seed=10 + i)
    (tmp_path / "image_list_train.txt").write_text(
        "".join(f"train_release/1/{i}.jpg {i % 2} {i % 3} {i}\n" for i in range(4))
    )
    (tmp_path / "image_list_val.txt").write_text(
        "".join(f"val_release/0/{i}.jpg 0 0 0\n" for i in range(4))
    )
    name, samples = read_layout(tmp_path)
    assert name == "forgerynet"
    assert _counts(samples) == {("train", REAL): 2, ("train", FAKE): 2, ("val", REAL): 4}
    assert all(s.path.is_file() for s in samples)
    # One list file on its own works too.
    assert read_layout(tmp_path / "image_list_val.txt")[0] == "forgerynet"


def test_csv_manifest(tmp_path: Path) -> None:
    make_image(tmp_path / "imgs" / "a.jpg")
    make_image(tmp_path / "imgs" / "b.jpg", seed=1)
    make_image(tmp_path / "imgs" / "c.jpg", seed=2)
    (tmp_path / "manifest.csv").write_text(
        "path,label,split\nimgs/a.jpg,real,train\nimgs/b.jpg,1,validation\nimgs/c.jpg,0,\n"
    )
    name, samples = read_layout(tmp_path)
    assert name == "csv"
    assert [(s.path.name, s.label, s.split) for s in samples] == [
        ("a.jpg", REAL, "train"),
        ("b.jpg", FAKE, "val"),
        ("c.jpg", REAL, None),
    ]
    assert read_layout(tmp_path / "manifest.csv")[0] == "csv"


def test_csv_manifest_bad_label_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,label\nx.jpg,maybe\n")
    with pytest.raises(LayoutError, match=r"m.csv:2: label must be"):
        read_layout(tmp_path / "m.csv")


def test_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        read_layout(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayoutError, match="no images"):
        detect_layout(tmp_path / "empty")
    with pytest.raises(LayoutError, match="unknown layout 'bogus'"):
        read_layout(tmp_path, "bogus")
    make_class_folders(tmp_path / "cf", n=1)
    with pytest.raises(LayoutError, match="no img_align_celeba"):
        read_layout(tmp_path / "cf", "celeba")
