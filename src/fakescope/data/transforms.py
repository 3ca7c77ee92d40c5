"""Preprocessing (deterministic, cacheable), augmentation (random, per epoch) and normalisation.

The pipeline is split where caching wants it:

    file --decode--> RGB --[face crop]--> resize --> uint8 CHW   (preprocess: cached once)
    uint8 CHW --augment--> uint8 CHW --normalise--> float CHW    (every epoch, on tensors)

`InputSpec` is the one description of what a model expects (size, mean, std, resize mode):
training, prediction and serving all derive their transforms from it, so they cannot disagree.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter
from torchvision.transforms.v2 import functional as TF

from fakescope.config import AugmentConfig, ConfigError, DataConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MINUS_ONE_ONE_MEAN = (0.5, 0.5, 0.5)
MINUS_ONE_ONE_STD = (0.5, 0.5, 0.5)
NORMALISATIONS = {
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
    "minus_one_one": (MINUS_ONE_ONE_MEAN, MINUS_ONE_ONE_STD),
}


@dataclass(frozen=True)
class InputSpec:
    """What a model eats: square side, per-channel mean/std, and how images are resized."""

    size: int
    mean: tuple[float, float, float] = MINUS_ONE_ONE_MEAN
    std: tuple[float, float, float] = MINUS_ONE_ONE_STD
    resize: str = "short_side_crop"  # short_side_crop | resize

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        return cls(
            size=int(data["size"]),
            mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
            resize=str(data.get("resize", "short_side_crop")),
        )


def resolve_input_spec(model_spec: InputSpec, data: DataConfig) -> InputSpec:
    """The model's spec, with the size, resize mode or normalisation the data config sets."""
    spec = replace(model_spec, resize=data.resize)
    if data.image_size is not None:
        spec = replace(spec, size=data.image_size)
    if data.normalize != "model":
        mean, std = NORMALISATIONS[data.normalize]
        spec = replace(spec, mean=mean, std=std)
    return spec


def resize_image(img: Image.Image, size: int, mode: str) -> Image.Image:
    """`short_side_crop`: scale the short side to `size`, centre-crop a square (paper 000).
    `resize`: squash to `size` x `size` whatever the aspect ratio (paper 003)."""
    if mode == "resize":
        return img.resize((size, size), Image.Resampling.BILINEAR)
    if mode != "short_side_crop":
        raise ConfigError(f"unknown resize mode '{mode}' (use short_side_crop or resize)")
    width, height = img.size
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    img = img.resize((new_w, new_h), Image.Resampling.BILINEAR)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return img.crop((left, top, left + size, top + size))


FaceCropFn = Callable[[Image.Image], Image.Image]


def preprocess(
    img: Image.Image, spec: InputSpec, face_crop: FaceCropFn | None = None
) -> np.ndarray:
    """Decoded RGB picture -> uint8 HWC array at the model's size; deterministic, so cacheable."""
    if face_crop is not None:
        img = face_crop(img)
    return np.asarray(resize_image(img, spec.size, spec.resize), dtype=np.uint8)


def to_chw_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


class Normalizer:
    """uint8 (N)CHW -> float, (x / 255 - mean) / std, as one multiply and one add."""

    def __init__(self, spec: InputSpec) -> None:
        mean = torch.tensor(spec.mean).view(3, 1, 1)
        std = torch.tensor(spec.std).view(3, 1, 1)
        self.scale = 1.0 / (255.0 * std)
        self.shift = -mean / std
        self._scale_np = self.scale.numpy().astype(np.float32)
        self._shift_np = self.shift.numpy().astype(np.float32)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images.device.type == "cpu":
            # NumPy's single-threaded loop beats torch's thread pool on tensors this small (a
            # batch is ~1 MB), most of all on busy cores, and it reads strided (NHWC-backed)
            # input straight into a contiguous NCHW result.
            array = images.numpy()
            out = np.empty(array.shape, dtype=np.float32)
            np.multiply(array, self._scale_np, out=out, casting="unsafe")
            np.add(out, self._shift_np, out=out)
            return torch.from_numpy(out)
        scale = self.scale.to(images.device)
        shift = self.shift.to(images.device)
        return images.float().mul_(scale).add_(shift)

    def denormalize(self, images: torch.Tensor) -> torch.Tensor:
        """float -> uint8, the inverse of `__call__` (for sample grids and Grad-CAM overlays)."""
        scale = self.scale.to(images.device)
        shift = self.shift.to(images.device)
        return ((images - shift) / scale).round().clamp(0, 255).to(torch.uint8)


class Augmenter:
    """Random train-time augmentations on one uint8 CHW tensor, driven by a torch Generator."""

    def __init__(self, config: AugmentConfig) -> None:
        self.config = config

    @property
    def active(self) -> bool:
        c = self.config
        return bool(
            c.hflip
            or c.color_jitter > 0
            or c.jpeg_prob > 0
            or c.blur_prob > 0
            or c.random_resized_crop < 1.0
        )

    def _uniform(self, low: float, high: float, gen: torch.Generator) -> float:
        return low + (high - low) * float(torch.rand((), generator=gen))

    def __call__(self, image: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        c = self.config
        size = image.shape[-1]
        if c.random_resized_crop < 1.0:
            area = self._uniform(c.random_resized_crop, 1.0, gen)
            side = max(8, round(size * area**0.5))
            top = int(torch.randint(0, size - side + 1, (), generator=gen))
            left = int(torch.randint(0, size - side + 1, (), generator=gen))
            image = TF.resized_crop(image, top, left, side, side, [size, size], antialias=True)
        if c.hflip and float(torch.rand((), generator=gen)) < 0.5:
            image = image.flip(-1)
        if c.color_jitter > 0:
            j = c.color_jitter
            image = TF.adjust_brightness(image, self._uniform(1 - j, 1 + j, gen))
            image = TF.adjust_contrast(image, self._uniform(1 - j, 1 + j, gen))
            image = TF.adjust_saturation(image, self._uniform(1 - j, 1 + j, gen))
        if c.blur_prob > 0 and float(torch.rand((), generator=gen)) < c.blur_prob:
            sigma = self._uniform(*c.blur_sigma, gen)
            pil = TF.to_pil_image(image).filter(ImageFilter.GaussianBlur(sigma))
            image = TF.pil_to_tensor(pil)
        if c.jpeg_prob > 0 and float(torch.rand((), generator=gen)) < c.jpeg_prob:
            quality = int(
                torch.randint(c.jpeg_quality[0], c.jpeg_quality[1] + 1, (), generator=gen)
            )
            image = jpeg_roundtrip(image, quality)
        return image


def jpeg_roundtrip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """Re-compress a uint8 CHW tensor as JPEG at `quality` and decode it again."""
    buffer = io.BytesIO()
    TF.to_pil_image(image).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return TF.pil_to_tensor(Image.open(buffer).convert("RGB"))
