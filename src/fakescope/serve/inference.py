"""The model behind the API: preprocessing in request threads, forward passes (and Grad-CAM)
batched in the one inference thread.

Preprocessing is exactly the training one (`Predictor.model_input`: optional face crop, resize
at the checkpoint's `InputSpec`), so the server sees what the detector was trained on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import numpy as np
from PIL import Image

from fakescope.data.faces import FaceBox
from fakescope.inference.gradcam import explained_pixels, gradcam_heatmap, overlay, png_bytes
from fakescope.inference.predict import Prediction, Predictor
from fakescope.models.registry import LoadedDetector
from fakescope.serve.settings import ServeSettings
from fakescope.serve.worker import MicroBatcher


@dataclass(frozen=True)
class ModelInput:
    pixels: np.ndarray  # uint8 HWC at the model's input size (unresized: native detectors)
    face_box: FaceBox | None
    gradcam: bool
    size: tuple[int, int] | None = None  # the uploaded picture's (width, height)


@dataclass(frozen=True)
class BatchOutput:
    probability_fake: float
    heatmap: np.ndarray | None  # Grad-CAM map in [0, 1], when asked for
    distance: float | None = None  # from the training data, when the checkpoint can tell


@dataclass(frozen=True)
class Outcome:
    prediction: Prediction
    gradcam_png: bytes | None


class InferenceService:
    """One loaded detector shared by every request through a `MicroBatcher`."""

    def __init__(
        self, loaded: LoadedDetector, settings: ServeSettings, checkpoint: Path | None = None
    ) -> None:
        """`checkpoint` is the file `loaded` came from, where an ONNX export may lie beside it
        (forward passes then run on onnxruntime; Grad-CAM always runs on the PyTorch model)."""
        self.loaded = loaded
        device = next(loaded.model.parameters()).device
        self.predictor = Predictor(
            loaded, device, settings.batch_size, settings.face_crop, settings.face_margin,
            backend=settings.backend, checkpoint=checkpoint,
        )
        self.batcher: MicroBatcher[ModelInput, BatchOutput] = MicroBatcher(
            self.run_batch, settings.batch_size, settings.max_wait_ms / 1000.0, settings.max_queue
        )
        # Bounds how many full-size decoded pictures (up to max_pixels each) exist at once.
        self.cpu_limiter = anyio.CapacityLimiter(settings.decode_concurrency)

    @property
    def threshold(self) -> float:
        return self.loaded.threshold

    def prepare(self, load_image: Callable[[], Image.Image], gradcam: bool) -> ModelInput:
        image = load_image()
        pixels, box = self.predictor.model_input(image)
        return ModelInput(pixels, box, gradcam, image.size)

    def run_batch(self, inputs: list[ModelInput]) -> list[BatchOutput]:
        """One forward pass for the batch (and, with a training-data check, one for its
        features unless the ONNX export returns them), then a Grad-CAM pass for each input
        that asked."""
        arrays = [i.pixels for i in inputs]
        probs, distances = self.predictor.scores(arrays)
        return [
            BatchOutput(p, gradcam_heatmap(self.loaded, i.pixels)[0] if i.gradcam else None, d)
            for p, d, i in zip(probs, distances, inputs, strict=True)
        ]

    async def predict(
        self, load_image: Callable[[], Image.Image], gradcam: bool = False
    ) -> Outcome:
        """Decode (`load_image`) and preprocess in a worker thread, in one step so that a
        full-size picture only exists inside the `cpu_limiter` section; then queue the small
        model input for the inference thread."""
        model_input = await anyio.to_thread.run_sync(
            self.prepare, load_image, gradcam, limiter=self.cpu_limiter
        )
        output = await asyncio.wrap_future(self.batcher.submit(model_input))
        prediction = self.predictor.prediction(
            output.probability_fake, model_input.face_box, output.distance, model_input.size
        )
        png = None
        if output.heatmap is not None:
            explained = explained_pixels(self.loaded, model_input.pixels)
            png = await anyio.to_thread.run_sync(
                overlay_png, explained, output.heatmap, limiter=self.cpu_limiter
            )
        return Outcome(prediction, png)

    def close(self) -> None:
        self.batcher.close()


def overlay_png(pixels: np.ndarray, heatmap: np.ndarray) -> bytes:
    return png_bytes(overlay(pixels, heatmap))

