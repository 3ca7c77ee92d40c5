"""The JSON the API returns, as pydantic models, so /docs shows every field."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    error: str = Field(description="one line saying what was wrong")


class FaceBoxBody(BaseModel):
    x: int
    y: int
    w: int
    h: int


class PredictionBody(BaseModel):
    filename: str
    label: str = Field(description="'real' or 'fake': fake when probability_fake >= threshold")
    probability_fake: float = Field(ge=0.0, le=1.0)
    threshold: float
    face_box: FaceBoxBody | None = Field(
        default=None,
        description="where the face crop was taken (image pixels), when cropping found one",
    )
    gradcam_png: str | None = Field(
        default=None,
        description="base64 PNG of the Grad-CAM overlay, when asked for with ?gradcam=true",
    )


class PredictResponse(PredictionBody):
    model: str
    latency_ms: float


class BatchItem(BaseModel):
    """One file of a batch: its prediction, or the error that file alone caused."""

    filename: str
    prediction: PredictionBody | None = None
    error: str | None = None
    status: int = Field(default=200, description="the HTTP status this file alone would have had")


class BatchResponse(BaseModel):
    model: str
    latency_ms: float
    results: list[BatchItem]


class InputBody(BaseModel):
    size: int
    mean: list[float]
    std: list[float]
    resize: str


class ModelInfo(BaseModel):
    name: str
    description: str
    checkpoint: str
    backend: str = Field(description="what runs the forward pass: torch or onnx")
    input: InputBody
    face_crop: bool
    threshold: float
    metrics: dict[str, Any] = Field(description="the evaluation metrics stored in the checkpoint")


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class HealthResponse(BaseModel):
    status: str
    model: str
    queued: int = Field(description="images waiting for the model")
    api_key_required: bool
    max_upload_bytes: int
    max_batch_files: int


def json_safe(value: Any) -> Any:
    """Checkpoint metadata made JSON-safe: tensors and arrays as lists, NaN and inf as null."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist"):  # torch tensors, numpy arrays and scalars
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
