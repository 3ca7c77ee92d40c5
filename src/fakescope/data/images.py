"""Decoding one image file into an 8-bit RGB picture, whatever the file's mode or orientation."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fakescope.data.structure import structure_problem
from fakescope.errors import FakescopeError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
# Pillow's own bomb guard raises above twice this; we refuse anything above it.
MAX_IMAGE_PIXELS = 89_478_485


class BadImageError(FakescopeError, ValueError):
    """A file that cannot be decoded as an image; the message says why in one line."""


class DecodeBudgetError(BadImageError):
    """A file refused before decoding: its framing alone would cost seconds (see structure)."""


def check_decode_budget(raw: bytes, name: str) -> None:
    """Raise DecodeBudgetError for a file whose chunks or segments are too many to walk."""
    problem = structure_problem(raw)
    if problem is not None:
        raise DecodeBudgetError(f"{name}: {problem}")


def is_image_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any Pillow mode: 16-bit, float, CMYK, palette, grey, with or without alpha.

    Alpha is composited on white, the way a browser shows a transparent PNG.
    """
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or array.max() > 255 else 255.0
        img = Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB") if img.mode != "RGB" else img


def decode_image(data: bytes | Path | str) -> Image.Image:
    """Decode bytes or a file into RGB, honouring EXIF rotation; raise BadImageError otherwise."""
    name = str(data) if isinstance(data, (str, Path)) else "upload"
    try:
        if isinstance(data, (str, Path)):
            with open(data, "rb") as handle:
                raw = handle.read()
        else:
            raw = data
        if not raw:
            raise BadImageError(f"{name}: empty file")
        check_decode_budget(raw, name)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(raw))
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise BadImageError(f"{name}: {width}x{height} is too many pixels")
            img.load()  # decode now, so a truncated file fails here and not later
        img = ImageOps.exif_transpose(img) or img
        return _to_rgb(img)
    except BadImageError:
        raise
    except FileNotFoundError as err:
        raise BadImageError(f"{name}: file not found") from err
    except UnidentifiedImageError as err:
        raise BadImageError(f"{name}: not an image Pillow can identify") from err
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise BadImageError(f"{name}: {type(err).__name__}: {err}") from err
    except Image.DecompressionBombWarning as err:
        raise BadImageError(f"{name}: too many pixels (decompression bomb guard)") from err


def load_image(path: str | Path) -> Image.Image:
    """Read an image file as RGB; see `decode_image`."""
    return decode_image(Path(path))
