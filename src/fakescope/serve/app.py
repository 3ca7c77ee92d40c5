"""The FastAPI app: the JSON API under /api, the web page at /, the API docs at /docs.

Every refused request gets a 4xx with `{"error": "..."}`; uploads are read into memory under
the size limit (`uploads.py`), checked and decoded (`security.py`), then scored by the one
shared model (`inference.py`).
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from PIL import Image
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from fakescope import __version__
from fakescope.inference.joint import decide_prediction
from fakescope.inference.predict import Prediction
from fakescope.models.registry import LoadedDetector, list_detectors
from fakescope.serve.inference import InferenceService, Outcome
from fakescope.serve.provenance import ProvenanceService, provenance_body
from fakescope.serve.schemas import (
    BatchItem,
    BatchResponse,
    ErrorBody,
    HealthResponse,
    InputBody,
    ModelInfo,
    ModelsResponse,
    PredictionBody,
    PredictResponse,
    ProvenanceBody,
    json_safe,
)
from fakescope.serve.security import (
    API_KEY_HEADER,
    SUPPORTED_TYPES,
    SecurityHeaders,
    api_key_matches,
    decode_upload,
)
from fakescope.serve.settings import ServeSettings
from fakescope.serve.uploads import RequestError, Upload, UploadLimits, files_in, read_uploads
from fakescope.serve.worker import QueueFullError

STATIC_DIR = Path(__file__).parent / "static"
SINGLE_FIELD, BATCH_FIELD = "file", "files"


def _multipart_body(field: str, many: bool) -> dict[str, Any]:
    """OpenAPI request body for a file upload (the endpoints read the stream themselves, so
    FastAPI cannot infer it)."""
    binary = {"type": "string", "format": "binary"}
    schema = {"type": "array", "items": binary} if many else binary
    content = {"schema": {"type": "object", "required": [field], "properties": {field: schema}}}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": content}}}


def _error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    reasons = {
        400: "damaged image or malformed request",
        408: "the upload was too slow",
        401: f"missing or wrong {API_KEY_HEADER} (when the server has an API key)",
        413: "upload over the size limit, too many pixels or too many files",
        415: f"not a supported image type ({SUPPORTED_TYPES})",
        422: "missing form field or bad query parameter",
        503: "too many images waiting; retry shortly",
    }
    return {s: {"model": ErrorBody, "description": reasons[s]} for s in statuses}


def _error(status: int, message: str) -> JSONResponse:
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _prediction_body(filename: str, outcome: Outcome) -> dict[str, Any]:
    prediction: Prediction = outcome.prediction
    png = outcome.gradcam_png
    return {
        "filename": filename,
        **prediction.to_dict(),
        "gradcam_png": base64.b64encode(png).decode("ascii") if png is not None else None,
    }


def _model_info(service: InferenceService, settings: ServeSettings, checkpoint: str) -> ModelInfo:
    loaded = service.loaded
    spec = loaded.input_spec
    return ModelInfo(
        name=loaded.name,
        description=list_detectors().get(loaded.name, ""),
        checkpoint=checkpoint,
        backend=service.predictor.backend,
        input=InputBody(size=spec.size, mean=list(spec.mean), std=list(spec.std),
                        resize=spec.resize),
        face_crop=settings.face_crop,
        threshold=loaded.threshold,
        band_low=loaded.calibration.band(loaded.threshold)[0],
        band_high=loaded.calibration.band(loaded.threshold)[1],
        temperature=loaded.calibration.temperature,
        calibration=json_safe(loaded.calibration.to_dict()),
        band_description=loaded.calibration.band_description(loaded.threshold),
        distance_limit=loaded.feature_density.limit if loaded.feature_density else None,
        metrics=json_safe(loaded.metrics),
        decision_policy=settings.decision_policy.to_dict(),
    )


def _install_error_handlers(app: FastAPI) -> None:
    async def request_error(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, RequestError)
        return _error(err.status, err.message)

    async def queue_full(_: Request, err: Exception) -> JSONResponse:
        return _error(503, f"server busy: {err}; retry shortly")

    async def http_error(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, HTTPException)
        return JSONResponse({"error": str(err.detail)}, err.status_code, headers=err.headers)

    async def invalid(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, RequestValidationError)
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    async def unexpected(_: Request, err: Exception) -> JSONResponse:
        return _error(500, f"internal error ({type(err).__name__})")

    app.add_exception_handler(RequestError, request_error)
    app.add_exception_handler(QueueFullError, queue_full)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)


def create_app(
    loaded: LoadedDetector, settings: ServeSettings | None = None, checkpoint: Path | None = None
) -> FastAPI:
    """The app serving `loaded` (read from `checkpoint`, whose name /api/models shows); its
    inference worker starts now and stops at shutdown."""
    settings = settings or ServeSettings()
    service = InferenceService(loaded, settings, checkpoint)
    provenance = ProvenanceService(settings) if settings.provenance else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPIOffline(
        title="fakescope",
        version=__version__,
        description="Tells real face photos from generated ones. Upload an image to "
        "`/api/predict` as multipart/form-data (field `file`).",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.settings = settings
    _install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"], allow_headers=[API_KEY_HEADER, "Content-Type"],
        )
    app.add_middleware(SecurityHeaders)

    key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)

    def require_key(key: str | None = Security(key_header)) -> None:
        if settings.api_key is not None and not api_key_matches(key, settings.api_key):
            raise RequestError(401, f"missing or wrong API key (send it in {API_KEY_HEADER})")

    protected = [Security(require_key)] if settings.api_key else []
    single = UploadLimits(settings.max_upload_bytes, 1)
    batch = UploadLimits(settings.max_upload_bytes, settings.max_batch_files)

    async def uploads(request: Request, limits: UploadLimits) -> list[Upload]:
        try:
            with anyio.fail_after(settings.upload_timeout_s):
                return await read_uploads(
                    request.headers.get("content-type"), request.headers.get("content-length"),
                    request.stream(), limits,
                )
        except TimeoutError as err:
            raise RequestError(
                408, f"the upload took over {settings.upload_timeout_s:g} s; send it faster"
            ) from err
        except ClientDisconnect as err:
            raise RequestError(400, "the client went away during the upload") from err

    def loader(upload: Upload) -> Callable[[], Image.Image]:
        return partial(decode_upload, upload, settings.max_pixels)

    @app.post(
        "/api/predict", response_model=PredictResponse, dependencies=protected,
        openapi_extra=_multipart_body(SINGLE_FIELD, many=False),
        responses=_error_responses(400, 401, 408, 413, 415, 422, 503),
        summary="Real or fake? One image",
    )
    async def predict(
        request: Request,
        gradcam: bool = Query(False, description="also return the Grad-CAM overlay as PNG"),
    ) -> dict[str, Any]:
        started = time.perf_counter()
        (upload,) = files_in(await uploads(request, single), SINGLE_FIELD, max_count=1)
        outcome = await service.predict(loader(upload), gradcam)
        # Read beside the detector's result, never mixed into it; the decision joins the two.
        read = await provenance.read(upload) if provenance else None
        decision = decide_prediction(outcome.prediction, read, settings.decision_policy)
        return {
            **_prediction_body(upload.filename, outcome),
            **decision.to_dict(),
            "model": loaded.name,
            "latency_ms": round((time.perf_counter() - started) * 1000.0, 2),
            "provenance": provenance_body(read) if read else None,
        }

    async def batch_item(upload: Upload, gradcam: bool) -> BatchItem:
        try:
            outcome = await service.predict(loader(upload), gradcam)
        except RequestError as err:
            return BatchItem(filename=upload.filename, error=err.message, status=err.status)
        except QueueFullError as err:
            return BatchItem(filename=upload.filename, error=f"server busy: {err}", status=503)
        body = PredictionBody(**_prediction_body(upload.filename, outcome))
        read = await provenance.read(upload) if provenance else None
        decision = decide_prediction(outcome.prediction, read, settings.decision_policy)
        evidence = ProvenanceBody(**provenance_body(read)) if read else None
        return BatchItem(filename=upload.filename, **decision.to_dict(), prediction=body,
                         provenance=evidence)

    @app.post(
        "/api/predict/batch", response_model=BatchResponse, dependencies=protected,
        openapi_extra=_multipart_body(BATCH_FIELD, many=True),
        responses=_error_responses(400, 401, 408, 413, 415, 422, 503),
        summary="Real or fake? Several images (a bad file fails alone)",
    )
    async def predict_batch(
        request: Request,
        gradcam: bool = Query(False, description="also return Grad-CAM overlays as PNG"),
    ) -> BatchResponse:
        started = time.perf_counter()
        files = files_in(await uploads(request, batch), BATCH_FIELD, settings.max_batch_files)
        results: list[BatchItem] = [BatchItem(filename=f.filename) for f in files]

        async def fill(index: int, upload: Upload) -> None:
            results[index] = await batch_item(upload, gradcam)

        # The images are queued together, so the worker scores them in shared batches.
        async with anyio.create_task_group() as group:
            for index, upload in enumerate(files):
                group.start_soon(fill, index, upload)
        elapsed = round((time.perf_counter() - started) * 1000.0, 2)
        return BatchResponse(model=loaded.name, latency_ms=elapsed, results=results)

    info = _model_info(service, settings, checkpoint.name if checkpoint else "")

    @app.get("/api/models", response_model=ModelsResponse, dependencies=protected,
             responses=_error_responses(401), summary="The served model")
    async def models() -> ModelsResponse:
        return ModelsResponse(models=[info])

    @app.get("/api/health", response_model=HealthResponse, summary="Liveness and limits")
    async def health() -> HealthResponse:
        return HealthResponse(
            status="ok", model=loaded.name, queued=service.batcher.pending(),
            api_key_required=settings.api_key is not None,
            max_upload_bytes=settings.max_upload_bytes, max_batch_files=settings.max_batch_files,
        )

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app

