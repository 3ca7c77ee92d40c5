"""Optional face crop: find the largest face and cut a square around it before resizing.

The detector is OpenCV's Haar cascades, whose model files ship inside opencv-python-headless 4.x,
so nothing is downloaded at run time. `haarcascade_frontalface_alt2` goes first because the
`default` cascade reports larger false faces (on shoulders, coins, cells) that would win the
"largest face" vote; the profile cascade, run on the picture and its mirror image (it only knows
faces turned one way), is the fallback for heads seen from the side.

Detection runs on a grey copy scaled so its long side is about `DETECT_SIDE` pixels: fast on
big photos, and small dataset crops (25-64 px) are enlarged so their faces exceed the cascade's
20 px window.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import cv2.data
import numpy as np
from PIL import Image

from fakescope.config import ConfigError
from fakescope.errors import SetupError

FRONTAL_CASCADE = "haarcascade_frontalface_alt2.xml"
PROFILE_CASCADE = "haarcascade_profileface.xml"
DETECT_SIDE = 320  # long side of the grey copy the cascades scan
MAX_UPSCALE = 4.0  # enlarging tiny images further only adds blur
CASCADE_WINDOW = 20  # the cascades' training window; smaller faces cannot be found
MIN_FACE_FRACTION = 0.1  # ignore "faces" narrower than this share of the short side
SCALE_STEP = 1.1
MIN_NEIGHBORS = 5  # overlapping hits needed to accept a face; 3 lets texture through


@dataclass(frozen=True)
class FaceBox:
    """A face's bounding box in full-resolution pixel coordinates."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        if self.x < 0 or self.y < 0 or self.w <= 0 or self.h <= 0:
            raise ValueError(f"invalid face box {self}: need x, y >= 0 and w, h > 0")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def load_cascade(path: Path) -> cv2.CascadeClassifier:
    """Load one Haar cascade file, failing with a one-line reason instead of an empty detector."""
    if not hasattr(cv2, "CascadeClassifier"):
        raise SetupError(
            f"OpenCV {cv2.__version__} has no CascadeClassifier; face crop needs "
            "opencv-python-headless<5"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"face detector model missing: {path} (reinstall opencv-python-headless<5)"
        )
    cascade = cv2.CascadeClassifier()
    try:
        loaded = cascade.load(str(path))
    except cv2.error as err:  # not an OpenCV storage file at all
        raise SetupError(f"face detector model unreadable: {path}") from err
    if not loaded or cascade.empty():
        raise SetupError(f"face detector model unreadable: {path}")
    return cascade


class _Cascades:
    """Each cascade loaded once per process, on first use.

    One lock guards loading and detection alike: a CascadeClassifier keeps per-call scratch
    state and OpenCV releases the GIL while it scans, so two threads (server requests) must not
    share one unguarded.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[str, cv2.CascadeClassifier] = {}

    def detect(self, name: str, grey: np.ndarray, min_side: int) -> list[tuple[int, int, int, int]]:
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = load_cascade(Path(cv2.data.haarcascades) / name)
            found = self._loaded[name].detectMultiScale(
                grey,
                scaleFactor=SCALE_STEP,
                minNeighbors=MIN_NEIGHBORS,
                minSize=(min_side, min_side),
            )
        return [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]


_CASCADES = _Cascades()


def _detection_copy(img: Image.Image) -> tuple[np.ndarray, float]:
    """Grey, contrast-equalised copy at detection scale, and that scale (copy px / image px)."""
    width, height = img.size
    scale = min(DETECT_SIDE / max(width, height), MAX_UPSCALE)
    grey = np.asarray(img.convert("L"))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    grey = cv2.resize(grey, size, interpolation=interpolation)
    return cv2.equalizeHist(grey), scale


def _faces_in(grey: np.ndarray, min_side: int) -> list[tuple[int, int, int, int]]:
    """Frontal faces if there are any, otherwise profiles facing either way."""
    frontal = _CASCADES.detect(FRONTAL_CASCADE, grey, min_side)
    if frontal:
        return frontal
    width = grey.shape[1]
    profiles = _CASCADES.detect(PROFILE_CASCADE, grey, min_side)
    mirrored = _CASCADES.detect(PROFILE_CASCADE, np.ascontiguousarray(grey[:, ::-1]), min_side)
    return profiles + [(width - x - w, y, w, h) for x, y, w, h in mirrored]


def find_largest_face(img: Image.Image) -> FaceBox | None:
    """The largest face in `img` (any Pillow mode), in its own pixel coordinates, or None."""
    grey, scale = _detection_copy(img)
    min_side = max(CASCADE_WINDOW, round(MIN_FACE_FRACTION * min(grey.shape)))
    if min(grey.shape) < min_side:
        return None
    faces = _faces_in(grey, min_side)
    if not faces:
        return None
    # Ties broken by position so the cached crop never depends on the cascade's output order.
    x, y, w, h = max(faces, key=lambda f: (f[2] * f[3], -f[1], -f[0]))
    width, height = img.size
    left, top = min(round(x / scale), width - 1), min(round(y / scale), height - 1)
    box_w = max(1, min(round(w / scale), width - left))
    box_h = max(1, min(round(h / scale), height - top))
    return FaceBox(left, top, box_w, box_h)


def crop_around(img: Image.Image, box: FaceBox, margin: float) -> Image.Image:
    """Square crop centred on `box`, side `max(w, h) * (1 + 2 * margin)`.

    Near a border the square is shifted inside the picture rather than padded: padding would
    invent pixels (mirrored or flat) that a real-vs-fake detector could learn as a cue. When the
    square would exceed the picture's short side it shrinks to that side, so the result is
    always square and inside the picture; it contains the whole box whenever the box is no
    larger than the short side (always true for the square boxes `find_largest_face` returns).
    """
    if margin < 0:
        raise ConfigError(f"face margin must be >= 0, got {margin}")
    width, height = img.size
    side = min(round(max(box.w, box.h) * (1 + 2 * margin)), width, height)
    left = min(max(box.x + (box.w - side) // 2, 0), width - side)
    top = min(max(box.y + (box.h - side) // 2, 0), height - side)
    return img.crop((left, top, left + side, top + side))


class FaceCropper:
    """`img -> img` face crop for `preprocess`; pictures without a face pass through uncropped.

    `found` and `missing` count both outcomes (for the data report); `last_box` is the box of
    the latest call (None when no face), which the server returns with its prediction. Use one
    instance per thread when reading `last_box`.
    """

    def __init__(self, margin: float = 0.25) -> None:
        if margin < 0:
            raise ConfigError(f"face margin must be >= 0, got {margin}")
        self.margin = margin
        self.found = 0
        self.missing = 0
        self.last_box: FaceBox | None = None

    def __call__(self, img: Image.Image) -> Image.Image:
        box = find_largest_face(img)
        self.last_box = box
        if box is None:
            self.missing += 1
            return img
        self.found += 1
        return crop_around(img, box, self.margin)
