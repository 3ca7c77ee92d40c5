"""The API's `decision`: the pixel verdict and the provenance joined by the server's policy,
beside the raw ones, in single and batch answers and in the OpenAPI schema."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from provenancefiles import camera_exif, encode, jpeg_with_exif, manifest, png_with_text, sign

from fakescope.inference.decision import DECISIONS
from fakescope.inference.decision_policy import DecisionPolicy
from fakescope.models.registry import LoadedDetector
from fakescope.serve.schemas import DecisionCode

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
A1111 = {"parameters": "a face\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, Seed: 1"}


@pytest.fixture
def answers(loaded: LoadedDetector, make_client: Callable[..., TestClient]) -> Any:
    """`answers(verdict, **settings)`: a client whose detector always says `verdict` (its
    threshold at 0 or 1, no band), so each table cell can be reached through the API."""

    def factory(verdict: str, **settings: Any) -> TestClient:
        forced = dataclasses.replace(loaded, threshold=0.0 if verdict == "fake" else 1.0)
        return make_client(detector=forced, **settings)

    return factory


def post(client: TestClient, data: bytes, name: str) -> dict[str, Any]:
    response = client.post("/api/predict", files={"file": (name, data, "application/octet-stream")})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("verdict", ["real", "fake"])
def test_a_png_declaring_generation_is_treated_as_generated(answers: Any, verdict: str) -> None:
    body = post(answers(verdict), png_with_text(A1111), "sd.png")
    assert body["verdict"] == verdict  # the raw verdicts stay as they were
    assert body["provenance"]["verdict"] == "declared-generated"
    seen = "does not see it" if verdict == "real" else "agrees"
    assert body["decision"] == "generated"
    assert body["decision_text"] == (
        f"declared generated (unsigned PNG text); the pixel detector {seen}: treat as generated")


@pytest.mark.parametrize(("verdict", "expected"), [("real", "likely-real"),
                                                   ("fake", "likely-generated")])
def test_camera_exif_is_weak_evidence(answers: Any, verdict: str, expected: str) -> None:
    body = post(answers(verdict), jpeg_with_exif(camera_exif()), "camera.jpg")
    assert body["provenance"]["verdict"] == "camera-metadata"
    assert body["decision"] == expected
    assert body["decision_text"].startswith(
        f"camera capture claim (unsigned EXIF); the detector says {verdict}: ")


def test_a_signed_capture_claim_against_a_fake_verdict_goes_to_review(answers: Any) -> None:
    pytest.importorskip("c2pa")
    captured = sign(encode("JPEG"), "JPEG", manifest("digitalCapture"))
    body = post(answers("fake"), captured, "signed.jpg")
    assert body["provenance"]["verdict"] == "camera-metadata"
    assert body["decision"] == "review"
    assert body["decision_text"] == ("camera capture claim (valid C2PA, signer not on a trust "
                                     "list); the detector says fake: review")
    overriding = answers("fake", decision_policy=DecisionPolicy(capture_override_from="signed"))
    assert post(overriding, captured, "signed.jpg")["decision"] == "likely-real"


def test_the_policy_setting_changes_the_decision(answers: Any) -> None:
    cautious = answers("real", decision_policy=DecisionPolicy(trust_unsigned_generated=False))
    body = post(cautious, png_with_text(A1111), "sd.png")
    assert body["decision"] == "review"
    assert body["decision_text"].endswith("the pixel detector does not see it: review")
    info = cautious.get("/api/models").json()["models"][0]
    assert info["decision_policy"]["trust_unsigned_generated"] is False


def test_without_provenance_the_pixels_decide(answers: Any) -> None:
    body = post(answers("fake", provenance=False), png_with_text(A1111), "sd.png")
    assert body["provenance"] is None
    assert body["decision"] == "likely-generated"
    assert body["decision_text"] == "provenance not read; the detector says fake: likely generated"


def test_batch_items_carry_their_own_decision(answers: Any) -> None:
    files = [
        ("files", ("sd.png", png_with_text(A1111), "image/png")),
        ("files", ("notes.txt", b"not a picture", "text/plain")),
        ("files", ("camera.jpg", jpeg_with_exif(camera_exif()), "image/jpeg")),
    ]
    response = answers("real").post("/api/predict/batch", files=files)
    results = response.json()["results"]
    assert [r["decision"] for r in results] == ["generated", None, "likely-real"]
    assert results[0]["decision_text"].endswith(": treat as generated")
    assert results[1]["decision_text"] is None and results[1]["status"] == 415
    assert results[0]["prediction"]["verdict"] == "real"  # raw verdicts beside it


def test_the_schema_documents_the_decision(client: TestClient) -> None:
    assert set(get_args(DecisionCode)) == set(DECISIONS)
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("PredictResponse", "BatchItem"):
        properties = schemas[name]["properties"]
        assert "docs/verdicts.md" in properties["decision"]["description"]
        codes = [option.get("enum") for option in properties["decision"]["anyOf"]]
        assert set(DECISIONS) in [set(c) for c in codes if c]
        assert "treat as generated" in properties["decision_text"]["description"]
        assert "decision" not in schemas[name].get("required", [])  # additive: old clients
    assert "decision_policy" in schemas["ModelInfo"]["properties"]
