"""The JSON the API returns, as pydantic models, so /docs shows every field."""

from __future__ import annotations

import math
from typing import Any, Literal

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
    verdict: Literal["real", "uncertain", "fake"] = Field(
        description="'fake' when probability_fake >= band_high, 'real' below band_low, "
        "'uncertain' in between; without a stored band, band_low = band_high = threshold and "
        "the verdict is the label. Also 'uncertain', whatever the probability, when the "
        "picture is unlike the training data or a face-crop detector found no face (reasons)"
    )
    probability_fake: float = Field(
        ge=0.0, le=1.0, description="calibrated P(fake): the checkpoint's temperature applied"
    )
    threshold: float
    band_low: float = Field(description="calibrated P(fake) below which the verdict is real")
    band_high: float = Field(description="calibrated P(fake) from which the verdict is fake")
    reasons: list[str] = Field(
        default=[], description="why the verdict is uncertain, and notes a reviewer needs "
        "(a picture much larger than the detector's input)"
    )
    distance: float | None = Field(
        default=None, description="squared feature distance from the training data (null when "
        "the checkpoint has no such check)"
    )
    distance_limit: float | None = Field(
        default=None, description="the distance beyond which a picture counts as unlike the "
        "training data (1 % of validation pictures lie beyond it)"
    )
    face_box: FaceBoxBody | None = Field(
        default=None,
        description="where the face crop was taken (image pixels), when cropping found one",
    )
    gradcam_png: str | None = Field(
        default=None,
        description="base64 PNG of the Grad-CAM overlay, when asked for with ?gradcam=true",
    )


class EvidenceBody(BaseModel):
    source: str = Field(description="c2pa, xmp, png-text, jpeg-comment, exif, webp or file")
    field: str
    value: str = Field(description="what the field says, clipped to one line")
    signal: str = Field(description="generated, edited, camera, info, limit or error")
    basis: str = Field(description="unsigned, or the state of the C2PA manifest it comes from")


class C2paBody(BaseModel):
    state: str = Field(description="trusted, valid-untrusted, invalid, remote or error")
    meaning: str
    claim_generator: str = ""
    title: str = ""
    signer: str = ""
    signature_alg: str = ""
    signed_at: str = ""
    actions: list[str] = []
    digital_source_types: list[str] = []
    failures: list[str] = Field(default=[], description="validation failure codes")
    remote_url: str = ""


class ProvenanceBody(BaseModel):
    """What the file's own metadata declares: a second opinion, apart from the detector."""

    verdict: str | None = Field(
        description="declared-generated, declared-edited, camera-metadata or no-provenance; "
        "null when it could not be read (see error). Metadata is a claim, not proof."
    )
    basis: str = Field(description="what the verdict rests on: a C2PA manifest's state, or "
                       "unsigned metadata")
    summary: str
    c2pa: C2paBody | None = None
    evidence: list[EvidenceBody] = []
    error: str | None = None


DECISION_DESCRIPTION = (
    "the pixel verdict and the provenance joined by the server's decision policy "
    "(docs/verdicts.md): generated (the file declares it), likely-generated (the detector says "
    "fake and nothing strong contests it), review (strong evidence disagrees), uncertain, "
    "likely-real, or captured (a trusted C2PA capture claim the detector does not contest)"
)
DECISION_TEXT_DESCRIPTION = (
    "one line for a reviewer naming the claim, its basis and the detector's verdict, e.g. "
    "'declared generated (unsigned PNG text); the pixel detector does not see it: treat as "
    "generated'"
)
DecisionCode = Literal["generated", "likely-generated", "review", "uncertain", "likely-real",
                   "captured"]


class PredictResponse(PredictionBody):
    decision: DecisionCode | None = Field(default=None, description=DECISION_DESCRIPTION)
    decision_text: str | None = Field(default=None, description=DECISION_TEXT_DESCRIPTION)
    model: str
    latency_ms: float
    provenance: ProvenanceBody | None = Field(
        default=None, description="the file's provenance metadata (null when turned off)"
    )


class BatchItem(BaseModel):
    """One file of a batch: its prediction, or the error that file alone caused."""

    filename: str
    decision: DecisionCode | None = Field(
        default=None, description=f"{DECISION_DESCRIPTION}; null when the file failed"
    )
    decision_text: str | None = Field(default=None, description=DECISION_TEXT_DESCRIPTION)
    prediction: PredictionBody | None = None
    provenance: ProvenanceBody | None = None
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
    band_low: float = Field(description="the uncertain band (equal to threshold without one)")
    band_high: float
    temperature: float = Field(description="the temperature dividing the log-odds (1: none)")
    calibration: dict[str, Any] = Field(
        description="how the temperature and band were fitted (split, targets, ECE before/after)"
    )
    band_description: str = Field(
        default="", description="the band and how it was fitted, or why there is none"
    )
    distance_limit: float | None = Field(
        default=None, description="the 'unlike the training data' limit (null: no such check)"
    )
    metrics: dict[str, Any] = Field(description="the evaluation metrics stored in the checkpoint")
    decision_policy: dict[str, Any] = Field(
        default={}, description="the policy joining pixel verdict and provenance "
        "(docs/verdicts.md): trust_unsigned_generated, capture_review_from, "
        "capture_override_from",
    )


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
