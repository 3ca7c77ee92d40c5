"""Grad-CAM explanations for any registered detector (pytorch-grad-cam on `gradcam_layer()`).

The explained score is the log-odds of the predicted class: the fake logit for a 1-logit head,
the difference of the two logits for a 2-logit head, negated when the picture is predicted
real. Both heads therefore give the same kind of map: where the evidence for the decision lies.

Grad-CAM hooks the model's layer for the length of one call, so calls on the same model must
not overlap: every call takes a module-wide lock, which makes the functions safe (serialised)
in a worker pool.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image

from fakescope.data.transforms import Normalizer, to_chw_tensor
from fakescope.inference.predict import model_input
from fakescope.inference.tiles import centre_tile, is_native
from fakescope.models.calibration import log_odds
from fakescope.models.registry import LoadedDetector

# Overlays of small inputs (64 px DCGAN discriminators) are enlarged to be readable.
MIN_DISPLAY_SIDE = 256
_LOCK = threading.Lock()


class LogOddsTarget:
    """Grad-CAM target: the log-odds of fake (`sign=1`) or of real (`sign=-1`)."""

    def __init__(self, sign: int) -> None:
        self.sign = sign

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        log_odds = output[..., 0] if output.shape[-1] == 1 else output[..., 1] - output[..., 0]
        return self.sign * log_odds


def explained_pixels(loaded: LoadedDetector, pixels: np.ndarray) -> np.ndarray:
    """What Grad-CAM explains of a `model_input` picture: the picture itself, or for a detector
    that scores unresized pictures on tiles, the tile nearest the centre."""
    if is_native(loaded.model):
        return centre_tile(pixels, loaded.input_spec.size)
    return pixels


def gradcam_heatmap(loaded: LoadedDetector, pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """(map in [0, 1] at the size of `explained_pixels`, its calibrated P(fake)) for one
    `model_input` uint8 HWC picture."""
    model = loaded.model
    device = next(model.parameters()).device
    pixels = explained_pixels(loaded, pixels)
    # Gradients are needed even when the caller runs under inference mode or no_grad.
    with _LOCK, torch.inference_mode(False), torch.enable_grad():
        batch = Normalizer(loaded.input_spec)(to_chw_tensor(pixels).unsqueeze(0)).to(device)
        with torch.no_grad():
            prob = float(loaded.calibration.probability(log_odds(model(batch)).double().cpu())[0])
        sign = 1 if prob >= loaded.threshold else -1
        # A frozen backbone (linear probes) gives its activations no gradient unless the input
        # asks for one.
        batch.requires_grad_(True)
        with GradCAM(model=model, target_layers=[model.gradcam_layer()]) as cam:
            heat = cam(input_tensor=batch, targets=[LogOddsTarget(sign)])[0]
        model.zero_grad(set_to_none=True)
    return np.nan_to_num(heat.astype(np.float32)), prob


def overlay(pixels: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The map drawn over the picture (uint8 HWC RGB), enlarged to a readable size."""
    drawn = show_cam_on_image(pixels.astype(np.float32) / 255.0, heat, use_rgb=True)
    picture = Image.fromarray(drawn)
    if picture.width < MIN_DISPLAY_SIDE:
        size = (MIN_DISPLAY_SIDE, MIN_DISPLAY_SIDE * picture.height // picture.width)
        picture = picture.resize(size, Image.Resampling.BICUBIC)
    return np.asarray(picture)


def gradcam_overlay(
    loaded: LoadedDetector,
    image: Image.Image,
    face_crop: bool = False,
    face_margin: float = 0.25,
) -> tuple[np.ndarray, float]:
    """(overlay as uint8 HWC RGB, P(fake)) for a decoded RGB picture."""
    native = is_native(loaded.model)
    pixels, _ = model_input(image, loaded.input_spec, face_crop, face_margin, native)
    heat, prob = gradcam_heatmap(loaded, pixels)
    return overlay(explained_pixels(loaded, pixels), heat), prob


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def gradcam_png(
    loaded: LoadedDetector,
    image: Image.Image,
    face_crop: bool = False,
    face_margin: float = 0.25,
) -> bytes:
    """The Grad-CAM overlay of a decoded RGB picture as PNG bytes (what the server returns)."""
    return png_bytes(gradcam_overlay(loaded, image, face_crop, face_margin)[0])


def write_gradcam(
    loaded: LoadedDetector, image: Image.Image, out: Path, face_crop: bool = False
) -> float:
    """Save the overlay of `image` to `out` (PNG); returns P(fake)."""
    array, prob = gradcam_overlay(loaded, image, face_crop)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png_bytes(array))
    return prob
