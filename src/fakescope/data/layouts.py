"""Readers for the dataset layouts the papers used, each detected automatically.

Every reader turns a path into a list of `Sample(path, label, split)` (label 0 = real, 1 = fake;
split None where the layout has none). Layouts:

- `class_folders`: `real/` + `fake/` (any case) or `0_real/` + `1_fake/`, at the root or one
  level down (category folders, as in CNNDetection's test sets).
- `split_folders`: `Train|Validation|Test` (any case, also train/val/valid/test) each holding a
  class-folder pair: the Kaggle "deepfake and real images" set (papers 002, 003).
- `celeba`: `img_align_celeba/` + `list_eval_partition.txt` (or the Kaggle copy's `.csv`).
- `forgerynet`: image-list text files, one `relative/path label [more columns]` per line.
- `csv`: a manifest with a header `path,label[,split]`.
- `single_class`: any folder of images, flat or nested (Celeb-100k): all real, for GAN training.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from fakescope.data.images import is_image_name
from fakescope.errors import DataError

REAL, FAKE = 0, 1
SPLITS = ("train", "val", "test")
_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}
_CLASS_ALIASES = {"real": REAL, "0_real": REAL, "fake": FAKE, "1_fake": FAKE}
_LABEL_WORDS = {"0": REAL, "real": REAL, "1": FAKE, "fake": FAKE}


class LayoutError(DataError):
    """The path does not hold the layout asked for (or any known layout)."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int
    split: str | None = None


def _unlistable(err: OSError) -> None:
    """os.walk's `onerror`: a folder it may not list is an error, not a folder without images."""
    raise DataError(f"{err.filename}: {err.strerror.lower() if err.strerror else err} (cannot list "
                    "this folder)")


def _image_files(folder: Path) -> list[Path]:
    """Every file under `folder` with an image extension, sorted, following no symlinked dirs."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=_unlistable):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(
            Path(dirpath) / f for f in filenames if is_image_name(f) and not f.startswith(".")
        )
    return sorted(found)


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _class_dirs(folder: Path) -> list[tuple[Path, int]]:
    """(dir, label) pairs for class folders directly in `folder`, or one category level down."""
    direct = [
        (d, _CLASS_ALIASES[d.name.lower()])
        for d in _subdirs(folder)
        if d.name.lower() in _CLASS_ALIASES
    ]
    if {label for _, label in direct} == {REAL, FAKE}:
        return direct
    nested: list[tuple[Path, int]] = []
    for category in _subdirs(folder):
        pairs = [
            (d, _CLASS_ALIASES[d.name.lower()])
            for d in _subdirs(category)
            if d.name.lower() in _CLASS_ALIASES
        ]
        if {label for _, label in pairs} == {REAL, FAKE}:
            nested.extend(pairs)
    return nested


def _split_dirs(folder: Path) -> list[tuple[Path, str]]:
    return [
        (d, _SPLIT_ALIASES[d.name.lower()])
        for d in _subdirs(folder)
        if d.name.lower() in _SPLIT_ALIASES
    ]


def fake_family(path: Path) -> str | None:
    """The generator family of a fake: the folder right inside its nearest class folder
    (`fake/dcgan/0001.png` gives dcgan, as `fakescope data multigen` lays out its families);
    None for a file in the class folder itself or outside any."""
    parts = Path(path).parts
    for i in range(len(parts) - 2, -1, -1):
        if _CLASS_ALIASES.get(parts[i].lower()) == FAKE:
            return parts[i + 1] if i + 2 < len(parts) else None
    return None


def read_class_folders(root: Path) -> list[Sample]:
    pairs = _class_dirs(root)
    if not pairs:
        raise LayoutError(f"{root}: no real/ + fake/ (or 0_real/ + 1_fake/) folders")
    return [Sample(p, label) for folder, label in pairs for p in _image_files(folder)]


def read_split_folders(root: Path) -> list[Sample]:
    splits = [(d, s) for d, s in _split_dirs(root) if _class_dirs(d)]
    if not splits:
        raise LayoutError(f"{root}: no Train/Validation/Test folders holding real/ + fake/")
    return [
        Sample(p, label, split)
        for split_dir, split in splits
        for folder, label in _class_dirs(split_dir)
        for p in _image_files(folder)
    ]


def _celeba_partition_file(root: Path) -> Path | None:
    for candidate in (
        "list_eval_partition.txt",
        "list_eval_partition.csv",
        "Eval/list_eval_partition.txt",
        "Anno/list_eval_partition.txt",
    ):
        if (root / candidate).is_file():
            return root / candidate
    return None


def read_celeba(root: Path) -> list[Sample]:
    images = root / "img_align_celeba"
    # The Kaggle copy nests the folder inside itself.
    if (images / "img_align_celeba").is_dir():
        images = images / "img_align_celeba"
    partition = _celeba_partition_file(root)
    if not images.is_dir() or partition is None:
        raise LayoutError(f"{root}: no img_align_celeba/ with list_eval_partition.txt beside it")
    split_of = {"0": "train", "1": "val", "2": "test"}
    samples = []
    with partition.open() as handle:
        for number, line in enumerate(handle, 1):
            parts = line.strip().replace(",", " ").split()
            if not parts or parts[0] == "image_id":
                continue
            if len(parts) != 2 or parts[1] not in split_of:
                raise LayoutError(
                    f"{partition}:{number}: expected 'NAME 0|1|2', got {line.strip()!r}"
                )
            samples.append(Sample(images / parts[0], REAL, split_of[parts[1]]))
    return samples


def _parse_label(text: str, where: str) -> int:
    label = _LABEL_WORDS.get(text.strip().lower())
    if label is None:
        raise LayoutError(f"{where}: label must be 0/1 or real/fake, got {text!r}")
    return label


def _split_from_name(name: str) -> str | None:
    lowered = name.lower()
    for alias, split in sorted(_SPLIT_ALIASES.items(), key=lambda kv: -len(kv[0])):
        if alias in lowered:
            return split
    return None


def _looks_like_image_list(path: Path) -> bool:
    try:
        with path.open() as handle:
            for line in handle:
                parts = line.split()
                if parts:
                    return len(parts) >= 2 and is_image_name(parts[0]) and parts[1] in ("0", "1")
    except (OSError, UnicodeDecodeError):
        return False
    return False


def read_forgerynet(root: Path) -> list[Sample]:
    """ForgeryNet image lists: `path binary_label [triple_label 16_class_label]` per line.

    `root` is one list file, or a folder of them; paths are relative to the list's folder, or to
    the list's parent when that is where they resolve. The split comes from the file name.
    """
    lists = (
        [root]
        if root.is_file()
        else sorted(p for p in root.glob("*.txt") if _looks_like_image_list(p))
    )
    if not lists or not all(_looks_like_image_list(p) for p in lists):
        raise LayoutError(f"{root}: no image-list .txt files ('relative/path.jpg 0|1' per line)")
    samples = []
    for list_file in lists:
        split = _split_from_name(list_file.stem)
        bases = [list_file.parent, list_file.parent.parent]
        with list_file.open() as handle:
            for number, line in enumerate(handle, 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) < 2:
                    raise LayoutError(
                        f"{list_file}:{number}: expected 'path label', got {line.strip()!r}"
                    )
                rel = Path(parts[0])
                base = next((b for b in bases if (b / rel).exists()), bases[0])
                samples.append(
                    Sample(base / rel, _parse_label(parts[1], f"{list_file}:{number}"), split)
                )
    return samples


def _manifest_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.glob("*.csv") if _manifest_header(p) is not None)


def _manifest_header(path: Path) -> list[str] | None:
    try:
        with path.open(newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError):
        return None
    columns = [c.strip().lower() for c in header]
    return columns if {"path", "label"} <= set(columns) else None


def read_csv_manifest(root: Path) -> list[Sample]:
    """A `path,label[,split]` CSV; paths are relative to the CSV's folder unless absolute."""
    manifests = _manifest_files(root)
    if len(manifests) != 1 or _manifest_header(manifests[0]) is None:
        raise LayoutError(f"{root}: expected one CSV manifest with a 'path,label[,split]' header")
    manifest = manifests[0]
    samples = []
    with manifest.open(newline="") as handle:
        reader = csv.DictReader(handle)
        reader.fieldnames = [c.strip().lower() for c in reader.fieldnames or []]
        for number, row in enumerate(reader, 2):
            where = f"{manifest}:{number}"
            split_text = (row.get("split") or "").strip().lower()
            if split_text and split_text not in _SPLIT_ALIASES:
                raise LayoutError(f"{where}: split must be train/val/test, got {split_text!r}")
            path = Path(row["path"].strip())
            samples.append(
                Sample(
                    path if path.is_absolute() else manifest.parent / path,
                    _parse_label(row["label"], where),
                    _SPLIT_ALIASES.get(split_text),
                )
            )
    return samples


def read_single_class(root: Path) -> list[Sample]:
    files = _image_files(root)
    if not files:
        raise LayoutError(f"{root}: no image files found")
    return [Sample(p, REAL) for p in files]


Reader = Callable[[Path], list[Sample]]
READERS: dict[str, Reader] = {
    "split_folders": read_split_folders,
    "class_folders": read_class_folders,
    "celeba": read_celeba,
    "forgerynet": read_forgerynet,
    "csv": read_csv_manifest,
    "single_class": read_single_class,
}
LAYOUT_NAMES = tuple(READERS)
_ALIASES = {
    "kaggle": "split_folders",
    "imagefolder": "class_folders",
    "celeb100k": "single_class",
    "manifest": "csv",
}


def detect_layout(root: Path) -> str:
    """The name of the layout at `root`; the most specific layout that fits wins."""
    if not root.exists():
        raise FileNotFoundError(f"dataset path not found: {root}")
    if root.is_file():
        if root.suffix.lower() == ".csv" and _manifest_header(root) is not None:
            return "csv"
        if _looks_like_image_list(root):
            return "forgerynet"
        raise LayoutError(f"{root}: a file must be a path,label CSV or an image-list .txt")
    if any(_class_dirs(d) for d, _ in _split_dirs(root)):
        return "split_folders"
    if _class_dirs(root):
        return "class_folders"
    if (root / "img_align_celeba").is_dir() and _celeba_partition_file(root):
        return "celeba"
    if _manifest_files(root):
        return "csv"
    if any(_looks_like_image_list(p) for p in root.glob("*.txt")):
        return "forgerynet"
    if any(True for _ in _iter_first_image(root)):
        return "single_class"
    raise LayoutError(f"{root}: no images and no known dataset layout ({', '.join(LAYOUT_NAMES)})")


def _iter_first_image(root: Path) -> Iterable[Path]:
    for dirpath, _, filenames in os.walk(root, onerror=_unlistable):
        for f in filenames:
            if is_image_name(f):
                yield Path(dirpath) / f
                return


def read_layout(root: str | Path, layout: str = "auto") -> tuple[str, list[Sample]]:
    """Detect (or take by name) the layout at `root` and read its samples."""
    root = Path(root).expanduser()
    name = _ALIASES.get(layout.lower(), layout.lower())
    if name == "auto":
        name = detect_layout(root)
    elif name not in READERS:
        raise LayoutError(f"unknown layout '{layout}' (choose auto, {', '.join(LAYOUT_NAMES)})")
    elif not root.exists():
        raise FileNotFoundError(f"dataset path not found: {root}")
    samples = READERS[name](root)
    if not samples:
        raise LayoutError(f"{root}: the {name} layout lists no images")
    return name, samples
