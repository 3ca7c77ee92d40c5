"""Fuzzing every operation of the server's own OpenAPI schema with hypothesis: each request is
drawn from what the schema declares (its query parameters, its multipart fields), then bent
(garbage values, unknown parameters, wrong field names, odd file names, hostile bytes, wrong
content types). Whatever is sent, the answer is never a 5xx; an error is a one-line JSON
`error`, and a success carries every field its response schema requires. Offline, in-process,
bounded by the example counts."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakescope.models.registry import LoadedDetector
from fakescope.serve.app import create_app
from fakescope.serve.settings import ServeSettings

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow on hostile files
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def app_client(loaded: LoadedDetector) -> Iterator[TestClient]:
    app = create_app(loaded, ServeSettings(max_upload_bytes=64 * 1024, max_pixels=1_000_000,
                                           max_batch_files=4))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def schema(app_client: TestClient) -> dict[str, Any]:
    return dict(app_client.app.openapi())  # type: ignore[attr-defined]


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in schema["paths"].items()
            for method, op in ops.items()]


def required_fields(schema: dict[str, Any], op: dict[str, Any]) -> list[str]:
    """The fields the 200 response's schema requires."""
    ref = op["responses"]["200"]["content"]["application/json"]["schema"].get("$ref", "")
    component = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    return list(component.get("required", []))


def query_value(spec: dict[str, Any]) -> st.SearchStrategy[str]:
    declared = {"boolean": st.sampled_from(["true", "false", "1", "0"]),
                "integer": st.integers().map(str)}.get(spec.get("type", ""), st.text(max_size=8))
    return st.one_of(declared, st.text(max_size=20))  # valid or garbage


@st.composite
def upload(draw: st.DrawFn, seeds: list[bytes]) -> tuple[str, bytes, str]:
    name = draw(st.one_of(st.sampled_from(["a.png", "../../etc/passwd", "", "x" * 300]),
                          st.text(max_size=40)))
    body = draw(st.one_of(st.binary(max_size=2048),
                          st.builds(lambda s, cut, tail: s[:cut] + tail, st.sampled_from(seeds),
                                    st.integers(0, 400), st.binary(max_size=64)),
                          st.sampled_from(seeds)))
    mime = draw(st.sampled_from(["image/png", "application/octet-stream", "text/plain", ""]))
    return name, body, mime


@st.composite
def request(draw: st.DrawFn, schema: dict[str, Any], seeds: list[bytes]) -> dict[str, Any]:
    path, method, op = draw(st.sampled_from(operations(schema)))
    params = {p["name"]: draw(query_value(p["schema"])) for p in op.get("parameters", [])
              if draw(st.booleans())}
    params.update(draw(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8),
                                       max_size=2)))
    headers = draw(st.dictionaries(st.sampled_from(["X-API-Key", "Accept", "X-Forwarded-For"]),
                                   st.text(alphabet=st.characters(min_codepoint=32,
                                                                  max_codepoint=126),
                                           max_size=20), max_size=2))
    call: dict[str, Any] = {"method": method, "url": path, "params": params, "headers": headers,
                            "op": op}
    body = op.get("requestBody", {}).get("content", {}).get("multipart/form-data")
    if body is None:
        return call
    fields = list(body["schema"]["properties"])
    kind = draw(st.sampled_from(["multipart", "multipart", "multipart", "json", "raw"]))
    if kind == "json":
        call["json"] = draw(st.dictionaries(st.text(max_size=5), st.text(max_size=5),
                                            max_size=2))
    elif kind == "raw":
        call["content"] = draw(st.binary(max_size=256))
    else:
        names = draw(st.lists(st.sampled_from([*fields, "wrong"]), min_size=0, max_size=5))
        call["files"] = [(name, draw(upload(seeds))) for name in names] or None
    return call


@pytest.fixture(scope="module")
def seeds(image_bytes: Callable[..., bytes]) -> list[bytes]:
    return [image_bytes(fmt, size=(24, 20), seed=2) for fmt in ("PNG", "JPEG", "GIF", "BMP")]


def check(schema: dict[str, Any], op: dict[str, Any], status: int, body: Any) -> None:
    assert status < 500, body
    if status >= 400:
        assert isinstance(body, dict) and body["error"] and "\n" not in body["error"], body
    else:
        assert all(field in body for field in required_fields(schema, op)), body


def test_every_operation_is_fuzzed(schema: dict[str, Any]) -> None:
    """The fuzzer covers what the schema declares (so a new endpoint joins it by itself)."""
    assert {(p, m) for p, m, _ in operations(schema)} >= {
        ("/api/predict", "post"), ("/api/predict/batch", "post"), ("/api/models", "get"),
        ("/api/health", "get")}


@FUZZ
@given(data=st.data())
def test_requests_drawn_from_the_schema_never_get_a_5xx(
    app_client: TestClient, schema: dict[str, Any], seeds: list[bytes], data: st.DataObject
) -> None:
    call = data.draw(request(schema, seeds))
    op = call.pop("op")
    response = app_client.request(**call)
    check(schema, op, response.status_code, response.json())


def test_a_real_picture_through_each_upload_operation_meets_its_schema(
    app_client: TestClient, schema: dict[str, Any], seeds: list[bytes]
) -> None:
    for path, method, op in operations(schema):
        body = op.get("requestBody", {}).get("content", {}).get("multipart/form-data")
        if body is None:
            continue
        (field,) = body["schema"]["properties"]
        response = app_client.request(method, path, files=[(field, ("a.png", io.BytesIO(
            seeds[0]), "image/png"))])
        assert response.status_code == 200, response.text
        check(schema, op, 200, response.json())
