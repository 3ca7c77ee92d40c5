"""The API reports the calibrated P(fake), the verdict (real, uncertain, fake) and the band."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from fakescope.data.images import decode_image
from fakescope.inference.predict import Predictor
from fakescope.models.calibration import Calibration
from fakescope.models.registry import LoadedDetector
from fakescope.serve.app import create_app


def calibrated(loaded: LoadedDetector, low: float, high: float) -> LoadedDetector:
    calibration = Calibration(
        method="temperature", temperature=4.0, band_low=low, band_high=high, fitted_on="val"
    )
    return dataclasses.replace(loaded, threshold=(low + high) / 2, calibration=calibration)


def test_the_schema_names_the_verdicts_and_the_band(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    body = schemas["PredictionBody"]
    assert set(body["properties"]["verdict"]["enum"]) == {"real", "uncertain", "fake"}
    assert {"verdict", "band_low", "band_high"} <= set(body["required"])
    assert {"band_low", "band_high", "temperature", "calibration"} <= set(
        schemas["ModelInfo"]["properties"]
    )


def test_predict_reports_the_verdict_of_the_band(
    loaded: LoadedDetector, image_bytes: Callable[..., bytes]
) -> None:
    data = image_bytes("PNG", size=(90, 70), seed=3)
    raw = Predictor(loaded).log_odds(
        [Predictor(loaded).model_input(decode_image(data))[0]]
    )[0]
    prob = float(Calibration(method="temperature", temperature=4.0).probability(raw))
    verdicts = []
    for low, high in ((prob - 0.05, prob + 0.05), (prob + 0.01, prob + 0.05),
                      (prob - 0.05, prob - 0.01)):  # fmt: skip
        with TestClient(create_app(calibrated(loaded, low, high))) as client:
            body = client.post("/api/predict", files={"file": ("f.png", data)}).json()
            info = client.get("/api/models").json()["models"][0]
        assert body["probability_fake"] == pytest.approx(prob, abs=1e-6)
        assert (body["band_low"], body["band_high"]) == pytest.approx((low, high))
        assert info["band_low"] == pytest.approx(low) and info["temperature"] == 4.0
        assert info["calibration"]["fitted_on"] == "val"
        verdicts.append(body["verdict"])
    assert verdicts == ["uncertain", "real", "fake"]


def test_batch_items_carry_the_verdict(
    loaded: LoadedDetector, image_bytes: Callable[..., bytes]
) -> None:
    files = [("files", (f"{i}.png", image_bytes("PNG", seed=i))) for i in range(3)]
    with TestClient(create_app(calibrated(loaded, 0.0, 1.0))) as client:
        body = client.post("/api/predict/batch", files=files).json()
    assert [r["prediction"]["verdict"] for r in body["results"]] == ["uncertain"] * 3


def test_a_checkpoint_without_calibration_has_no_band(client: TestClient,
                                                      image_bytes: Callable[..., bytes]) -> None:
    body = client.post("/api/predict", files={"file": ("f.png", image_bytes("PNG"))}).json()
    assert body["band_low"] == body["band_high"] == body["threshold"]
    assert body["verdict"] == body["label"]


def test_a_native_resolution_detector_is_served_on_tiles(
    image_bytes: Callable[..., bytes],
) -> None:
    import torch

    from fakescope.models.registry import build_detector

    torch.manual_seed(0)
    model = build_detector("npr_cnn").eval()
    npr = LoadedDetector(model, "npr_cnn", model.input_spec)
    data = image_bytes("PNG", size=(200, 150), seed=4)  # 3 x 2 tiles of 64 px
    picture = Predictor(npr).model_input(decode_image(data))[0]
    assert picture.shape == (150, 200, 3)  # unresized
    expected = Predictor(npr).probabilities([picture])[0]
    with TestClient(create_app(npr)) as client:
        body = client.post("/api/predict?gradcam=true", files={"file": ("f.png", data)}).json()
    assert body["probability_fake"] == pytest.approx(expected, abs=1e-6)
    assert body["gradcam_png"]  # explains the centre tile
