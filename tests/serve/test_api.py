"""The HTTP API through FastAPI's TestClient and httpx: good images, every bad-input class,
the size limits, access control, and concurrent requests sharing batches."""

from __future__ import annotations

import asyncio
import base64
import io
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from fakescope.data.faces import find_largest_face
from fakescope.data.images import decode_image
from fakescope.data.synth import draw_face
from fakescope.inference.predict import Predictor
from fakescope.models.registry import LoadedDetector
from fakescope.serve.app import create_app
from fakescope.serve.security import decode_upload
from fakescope.serve.settings import ServeSettings
from fakescope.serve.uploads import Upload
from fakescope.serve.worker import QueueFullError

FORMATS = ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"]


def post_file(client: TestClient, data: bytes, name: str = "face.png", field: str = "file",
              url: str = "/api/predict", **kwargs: Any) -> httpx.Response:
    return client.post(url, files={field: (name, data, "application/octet-stream")}, **kwargs)


def assert_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    for word in words:
        assert word in message


def expected_probability(loaded: LoadedDetector, data: bytes) -> float:
    """What offline prediction (the training preprocessing) says for the same bytes."""
    return Predictor(loaded).predict_images([decode_image(data)])[0].probability_fake


@pytest.mark.parametrize("fmt", FORMATS)
def test_predict_agrees_with_offline_prediction(
    fmt: str, client: TestClient, loaded: LoadedDetector, image_bytes: Callable[..., bytes]
) -> None:
    data = image_bytes(fmt, size=(90, 70), seed=3)
    response = post_file(client, data, name=f"face.{fmt.lower()}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["probability_fake"] == pytest.approx(expected_probability(loaded, data), abs=1e-6)
    assert body["label"] == ("fake" if body["probability_fake"] >= body["threshold"] else "real")
    assert body["threshold"] == loaded.threshold
    assert body["model"] == "dcgan_disc64"
    assert body["filename"] == f"face.{fmt.lower()}"
    assert body["latency_ms"] > 0
    assert body["face_box"] is None and body["gradcam_png"] is None


def test_the_stored_threshold_decides_the_label(
    loaded: LoadedDetector, image_bytes: Callable[..., bytes]
) -> None:
    data = image_bytes("PNG")
    prob = expected_probability(loaded, data)
    labels = []
    for threshold in (prob - 0.01, prob + 0.01):
        shifted = LoadedDetector(loaded.model, loaded.name, loaded.input_spec, threshold)
        with TestClient(create_app(shifted)) as client:
            body = post_file(client, data).json()
        assert body["threshold"] == threshold
        labels.append(body["label"])
    assert labels == ["fake", "real"]


def test_gradcam_overlay_is_returned_when_asked(
    client: TestClient, image_bytes: Callable[..., bytes]
) -> None:
    response = post_file(client, image_bytes("JPEG", size=(80, 80)), params={"gradcam": "true"})
    assert response.status_code == 200, response.text
    png = Image.open(io.BytesIO(base64.b64decode(response.json()["gradcam_png"])))
    assert png.format == "PNG" and png.width >= 256  # 64 px model input, enlarged to be seen


def test_face_crop_reports_the_box_it_cropped(make_client: Callable[..., TestClient]) -> None:
    face = draw_face(np.random.default_rng(0), 256)  # a synthetic face the cascade finds
    buffer = io.BytesIO()
    face.save(buffer, format="PNG")
    box = find_largest_face(decode_image(buffer.getvalue()))
    assert box is not None
    response = post_file(make_client(face_crop=True), buffer.getvalue())
    assert response.status_code == 200 and response.json()["face_box"] == box.to_dict()


def test_face_crop_reports_no_box_when_no_face_is_found(
    make_client: Callable[..., TestClient], image_bytes: Callable[..., bytes]
) -> None:
    response = post_file(make_client(face_crop=True), image_bytes("PNG", size=(120, 100)))
    assert response.status_code == 200 and response.json()["face_box"] is None


def truncated_png(image_bytes: Callable[..., bytes]) -> bytes:
    data = image_bytes("PNG", size=(64, 64))
    return data[: len(data) // 2]


BAD_UPLOADS = {
    "text named .jpg": (lambda mk: b"just words\n", "notes.jpg", 415, "not a supported"),
    "svg": (lambda mk: b"<svg xmlns='http://www.w3.org/2000/svg'/>", "a.svg", 415, "JPEG"),
    "pdf": (lambda mk: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "a.png", 415, "a.png"),
    "truncated png": (truncated_png, "cut.png", 400, "cut.png"),
    "magic only": (lambda mk: b"\xff\xd8\xff\xe0" + b"\0" * 20, "x.jpg", 400, "damaged"),
    "empty file": (lambda mk: b"", "empty.png", 400, "empty"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_files_get_a_4xx_json_error(
    case: str, client: TestClient, image_bytes: Callable[..., bytes]
) -> None:
    make, name, status, word = BAD_UPLOADS[case]
    assert_error(post_file(client, make(image_bytes), name=name), status, word)


def test_missing_field_is_422(client: TestClient, image_bytes: Callable[..., bytes]) -> None:
    assert_error(post_file(client, image_bytes(), field="image"), 422, "'file'")
    assert_error(client.post("/api/predict", files={"note": (None, "hello")}), 422, "'file'")


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"json": {"file": "abc"}}, 415),
    ({"data": {"file": "abc"}}, 415),
    ({"content": b"garbage", "headers": {"content-type": "multipart/form-data; boundary=zz"}}, 400),
    ({"content": b"", "headers": {"content-type": "multipart/form-data"}}, 400),
])
def test_malformed_requests_get_a_4xx(client: TestClient, kwargs: dict[str, Any],
                                      status: int) -> None:
    assert_error(client.post("/api/predict", **kwargs), status)


def test_bad_query_and_unknown_routes_are_json(
    client: TestClient, image_bytes: Callable[..., bytes]
) -> None:
    assert_error(post_file(client, image_bytes(), params={"gradcam": "maybe"}), 422, "gradcam")
    assert_error(client.get("/api/nothing"), 404)
    assert_error(client.get("/api/predict"), 405)


def test_more_than_one_file_on_the_single_endpoint_is_413(
    client: TestClient, image_bytes: Callable[..., bytes]
) -> None:
    files = [("file", ("a.png", image_bytes(), "image/png"))] * 2
    assert_error(client.post("/api/predict", files=files), 413, "at most 1")


def test_too_many_pixels_is_413(make_client: Callable[..., TestClient],
                                image_bytes: Callable[..., bytes]) -> None:
    client = make_client(max_pixels=1000)
    assert_error(post_file(client, image_bytes("PNG", size=(48, 40))), 413, "48x40")


def test_upload_size_limit(make_client: Callable[..., TestClient],
                           image_bytes: Callable[..., bytes]) -> None:
    data = image_bytes("BMP", size=(100, 100))  # uncompressed: 30 kB
    assert post_file(make_client(max_upload_bytes=len(data)), data).status_code == 200
    small = make_client(max_upload_bytes=len(data) - 1)
    assert_error(post_file(small, data), 413, "limit")
    huge = b"\xff\xd8\xff" + b"\0" * 400_000
    assert_error(post_file(small, huge), 413, "limit")  # refused on Content-Length alone


def test_a_body_without_content_length_is_counted(
    make_client: Callable[..., TestClient], image_bytes: Callable[..., bytes]
) -> None:
    client = make_client(max_upload_bytes=20_000)
    head = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bmp\"\r\n\r\n")

    def stream(size: int) -> Iterator[bytes]:
        yield head
        for _ in range(size // 1000):
            yield b"\0" * 1000
        yield b"\r\n--b--\r\n"

    headers = {"content-type": "multipart/form-data; boundary=b"}
    response = client.post("/api/predict", content=stream(200_000), headers=headers)
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "limit")


def test_a_trickling_upload_times_out_with_408(loaded: LoadedDetector) -> None:
    """Driven at the ASGI level, where the body can really arrive slowly."""
    app = create_app(loaded, ServeSettings(upload_timeout_s=0.3))
    chunks = [b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.bmp"\r\n\r\n',
              *[b"BM"] * 20]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/predict", "raw_path": b"/api/predict",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
        "headers": [(b"host", b"test"), (b"content-type", b"multipart/form-data; boundary=b")],
    }
    try:
        asyncio.run(app(scope, receive, send))
    finally:
        app.state.service.close()
    assert sent[0]["status"] == 408
    assert b"faster" in b"".join(m.get("body", b"") for m in sent[1:])
    assert chunks, "the whole body was read: the timeout did not cut the upload short"


def test_uploads_never_touch_the_disk(
    make_client: Callable[..., TestClient], image_bytes: Callable[..., bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_disk(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an upload was spooled to disk")

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, no_disk)
    monkeypatch.setattr("starlette.formparsers.SpooledTemporaryFile", no_disk)
    data = image_bytes("BMP", size=(700, 700))  # 1.4 MB: Starlette would spool this to disk
    assert len(data) > 1024 * 1024
    response = post_file(make_client(max_upload_bytes=4 * 1024 * 1024), data, name="big.bmp")
    assert response.status_code == 200, response.text


def test_batch_scores_each_file_and_a_bad_one_fails_alone(
    client: TestClient, loaded: LoadedDetector, image_bytes: Callable[..., bytes]
) -> None:
    good = [image_bytes("JPEG", seed=s) for s in range(3)]
    files = [("files", (f"{i}.jpg", d, "image/jpeg")) for i, d in enumerate(good)]
    files.insert(1, ("files", ("notes.txt", b"hello", "text/plain")))
    response = client.post("/api/predict/batch", files=files)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["filename"] for r in results] == ["0.jpg", "notes.txt", "1.jpg", "2.jpg"]
    assert [r["status"] for r in results] == [200, 415, 200, 200]
    assert results[1]["prediction"] is None and "not a supported" in results[1]["error"]
    for result, data in zip([results[0], *results[2:]], good, strict=True):
        assert result["error"] is None
        assert result["prediction"]["probability_fake"] == pytest.approx(
            expected_probability(loaded, data), abs=1e-6)


def test_batch_limits(make_client: Callable[..., TestClient],
                      image_bytes: Callable[..., bytes]) -> None:
    client = make_client(max_batch_files=2)
    files = [("files", (f"{i}.png", image_bytes(), "image/png")) for i in range(3)]
    assert_error(client.post("/api/predict/batch", files=files), 413, "at most 2")
    assert_error(post_file(client, image_bytes(), url="/api/predict/batch"), 422, "'files'")


def test_an_onnx_export_beside_the_checkpoint_is_used(
    make_client: Callable[..., TestClient], loaded: LoadedDetector, tiny_checkpoint: Path,
    tmp_path: Path, image_bytes: Callable[..., bytes],
) -> None:
    pytest.importorskip("onnxruntime")
    from fakescope.export.onnx_export import export_onnx
    from fakescope.inference.artifacts import default_onnx_path

    checkpoint = tmp_path / "tiny.pt"
    shutil.copy(tiny_checkpoint, checkpoint)
    export_onnx(loaded, default_onnx_path(checkpoint))
    exported = make_client(checkpoint=checkpoint)
    assert exported.get("/api/models").json()["models"][0]["backend"] == "onnx"
    data = image_bytes("PNG", seed=5)
    body = post_file(exported, data, params={"gradcam": "true"}).json()
    assert body["probability_fake"] == pytest.approx(expected_probability(loaded, data), abs=1e-4)
    assert body["gradcam_png"]  # Grad-CAM runs on the PyTorch model
    forced = make_client(checkpoint=checkpoint, backend="torch")
    assert forced.get("/api/models").json()["models"][0]["backend"] == "torch"


def test_models_and_health(client: TestClient, loaded: LoadedDetector) -> None:
    (model,) = client.get("/api/models").json()["models"]
    assert model["name"] == "dcgan_disc64" and model["checkpoint"] == "tiny.pt"
    assert model["backend"] == "torch"  # no ONNX export beside the tiny checkpoint
    assert model["input"] == {"size": 64, "mean": [0.5] * 3, "std": [0.5] * 3,
                              "resize": "short_side_crop"}
    assert model["threshold"] == loaded.threshold and model["face_crop"] is False
    assert model["metrics"] == {"auc": 0.75, "accuracy": 0.7, "ece": None}  # NaN made JSON-safe
    assert "DCGAN" in model["description"]
    health = client.get("/api/health").json()
    defaults = ServeSettings()
    assert health == {"status": "ok", "model": "dcgan_disc64", "queued": 0,
                      "api_key_required": False, "max_upload_bytes": defaults.max_upload_bytes,
                      "max_batch_files": defaults.max_batch_files}


def test_api_key_guards_the_api_but_not_health(
    make_client: Callable[..., TestClient], image_bytes: Callable[..., bytes]
) -> None:
    client = make_client(api_key="s3cret")
    assert_error(post_file(client, image_bytes()), 401, "X-API-Key")
    assert_error(post_file(client, image_bytes(), headers={"X-API-Key": "guess"}), 401)
    assert_error(client.get("/api/models"), 401)
    assert_error(post_file(client, image_bytes(), url="/api/predict/batch", field="files"), 401)
    assert post_file(client, image_bytes(), headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/api/models", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/api/health").json()["api_key_required"] is True
    spec = client.get("/openapi.json").json()
    assert "APIKeyHeader" in spec["components"]["securitySchemes"]


def test_cors_is_off_unless_origins_are_configured(
    make_client: Callable[..., TestClient]
) -> None:
    origin = {"Origin": "https://example.org"}
    closed = make_client().get("/api/health", headers=origin)
    assert "access-control-allow-origin" not in closed.headers
    allowed = make_client(cors_origins=("https://example.org",))
    assert allowed.get("/api/health", headers=origin).headers[
        "access-control-allow-origin"] == "https://example.org"
    other = allowed.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_a_full_queue_is_503_with_retry_after(
    client: TestClient, image_bytes: Callable[..., bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(_: Any) -> Any:
        raise QueueFullError("64 images are already waiting")

    monkeypatch.setattr(client.app.state.service.batcher, "submit", full)  # type: ignore[attr-defined]
    response = post_file(client, image_bytes())
    assert_error(response, 503, "busy")
    assert response.headers["retry-after"] == "1"


def test_a_server_fault_is_a_json_500_without_a_traceback(
    client: TestClient, image_bytes: Callable[..., bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_: Any) -> Any:
        raise ZeroDivisionError("model bug")

    monkeypatch.setattr(client.app.state.service.predictor, "probabilities", broken)  # type: ignore[attr-defined]
    assert_error(post_file(client, image_bytes()), 500, "internal error")


def test_page_and_docs_work_offline(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    for text in (page.text, client.get("/static/style.css").text, client.get("/docs").text):
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
        assert "url(http" not in text and "@import" not in text
    assert client.get("/docs").status_code == 200
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200


def test_openapi_documents_the_upload_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, field in (("/api/predict", "file"), ("/api/predict/batch", "files")):
        schema = paths[path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert schema["required"] == [field]
        assert {"400", "413", "415", "422"} <= set(paths[path]["post"]["responses"])
    assert {"/api/health", "/api/models"} <= set(paths)


def test_concurrent_requests_share_forward_passes(
    loaded: LoadedDetector, image_bytes: Callable[..., bytes]
) -> None:
    app = create_app(loaded, ServeSettings(batch_size=8, max_wait_ms=100.0))
    images = [image_bytes("PNG", seed=s) for s in range(24)]

    async def run_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(*(
                http.post("/api/predict", files={"file": (f"{i}.png", d, "image/png")})
                for i, d in enumerate(images)
            ))

    try:
        responses = asyncio.run(run_all())
        batches = app.state.service.batcher.batches_run
    finally:
        app.state.service.close()
    assert [r.status_code for r in responses] == [200] * len(images)
    for response, data in zip(responses, images, strict=True):
        assert response.json()["probability_fake"] == pytest.approx(
            expected_probability(loaded, data), abs=1e-6)
    assert batches < len(images) / 2  # micro-batching: several images per forward pass


def test_full_size_decoding_is_bounded_by_decode_concurrency(
    loaded: LoadedDetector, image_bytes: Callable[..., bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    active, most = 0, 0
    lock = threading.Lock()

    def slow_decode(upload: Upload, max_pixels: int) -> Image.Image:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return decode_upload(upload, max_pixels)

    monkeypatch.setattr("fakescope.serve.app.decode_upload", slow_decode)
    app = create_app(loaded, ServeSettings(decode_concurrency=2))

    async def run_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(*(
                http.post("/api/predict", files={"file": ("a.png", image_bytes(), "image/png")})
                for _ in range(8)
            ))

    try:
        assert [r.status_code for r in asyncio.run(run_all())] == [200] * 8
    finally:
        app.state.service.close()
    assert most == 2
