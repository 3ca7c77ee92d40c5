"""Verdicts a user can act on: a band that never silently collapses, calibration that allows for
shifted pictures, and "unlike the training data" for pictures far from what the detector saw."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fakescope.checkpoints import read_detector
from fakescope.cli import main
from fakescope.config import DataConfig
from fakescope.data.transforms import IMAGENET_MEAN, IMAGENET_STD, InputSpec
from fakescope.evaluate.calibrate import MIN_BAND_LOG_ODDS, BandTargets, fit_calibration
from fakescope.evaluate.evaluate import evaluate_checkpoint
from fakescope.evaluate.feature_density import fit_feature_density
from fakescope.evaluate.options import CalibrationOptions, EvalOptions
from fakescope.evaluate.threshold import ThresholdRule
from fakescope.inference.predict import Predictor
from fakescope.models.calibration import Calibration
from fakescope.models.feature_density import FeatureDensity
from fakescope.models.pretrained import NO_WEIGHTS, Pretrained
from fakescope.models.registry import (
    Detector,
    build_detector,
    load_detector,
    register_detector,
    save_detector,
)

RULE = ThresholdRule("fpr", 0.05)
SPEC = InputSpec(size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD, resize="resize")
PIXELS = "eval_test_coarse_pixels"


class CoarsePixels(Detector):
    """Features = the picture and its square averaged to 4x4 (96 numbers): a feature space
    where a face, a grey card and colour noise really differ, unlike a random conv's pooled
    channels."""

    input_spec = SPEC

    def __init__(self) -> None:
        super().__init__()
        self.pool = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten())
        self.head = torch.nn.Linear(96, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.pool(x), self.pool(x * x)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def head_parameters(self) -> Iterator[torch.nn.Parameter]:
        return self.head.parameters()

    def gradcam_layer(self) -> torch.nn.Module:
        return self.pool


@register_detector(PIXELS, "test-only detector on coarse pixels")
def coarse_pixels(pretrained: Pretrained = NO_WEIGHTS) -> Detector:
    return CoarsePixels()


@pytest.fixture
def pixels_checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "run" / "checkpoints" / "best.pt"
    save_detector(path, build_detector(PIXELS), PIXELS, {}, SPEC)
    return path


def _logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


def test_a_perfectly_separated_split_still_gets_a_band_and_says_how() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 200)
    log_odds = np.where(labels == 1, 8.0, -8.0) + rng.normal(0, 0.5, 400)
    calibration, threshold = fit_calibration(labels, log_odds, "val", BandTargets(), RULE)
    low, high = calibration.band(threshold)
    assert _logit(low) <= _logit(threshold) - MIN_BAND_LOG_ODDS + 1e-9
    assert _logit(high) >= _logit(threshold) + MIN_BAND_LOG_ODDS - 1e-9
    assert "at least 1 log-odds" in calibration.band_basis
    assert calibration.band_description(threshold).startswith("uncertain from")


def test_without_a_band_the_reason_is_stored_and_shown() -> None:
    labels = np.repeat([0, 1], 50)
    log_odds = np.where(labels == 1, 2.0, -2.0)
    calibration, threshold = fit_calibration(labels, log_odds, "val", None, RULE)
    assert not calibration.has_band
    assert "--no-uncertain-band" in calibration.band_description(threshold)
    # a checkpoint from before bands existed says so too
    assert "without one" in Calibration().band_description(0.5)


def test_shifted_copies_soften_an_over_confident_temperature() -> None:
    """Clean scores far apart, shifted copies that overlap: fitting on both gives a larger
    temperature (less confident probabilities) and a wider band than clean scores alone."""
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 300)
    clean = np.where(labels == 1, 6.0, -6.0) + rng.normal(0, 1.0, 600)
    shifted = np.where(labels == 1, 1.0, -1.0) + rng.normal(0, 2.0, 600)
    alone, _ = fit_calibration(labels, clean, "val", BandTargets(), RULE)
    both, t_both = fit_calibration(labels, clean, "val", BandTargets(), RULE,
                                   shifted=(labels, shifted, "copies"))  # fmt: skip
    assert both.temperature > 1.3 * alone.temperature
    assert "val + copies" in both.band_basis
    width = _logit(both.band(t_both)[1]) - _logit(both.band(t_both)[0])
    assert width > 2 * MIN_BAND_LOG_ODDS


def test_the_density_flags_far_pictures_and_held_out_ones_at_its_rate() -> None:
    """Features near a 5-dimensional subspace of 40: held-out draws of the same distribution
    are flagged at about the fitted rate (5 %), draws off the subspace nearly always."""
    rng = np.random.default_rng(2)
    basis = rng.normal(size=(5, 40))

    def draw(n: int) -> np.ndarray:
        return rng.normal(size=(n, 5)) @ basis + 0.05 * rng.normal(size=(n, 40))

    density = fit_feature_density(draw(800), draw(400), rate=0.05)
    held_out = draw(2000)
    flagged = float(np.mean(density.distance(held_out) > density.limit))
    assert 0.01 <= flagged <= 0.12
    # off the training subspace (another domain): nearly all flagged
    far = rng.normal(size=(200, 40))
    assert float(np.mean(density.distance(far) > density.limit)) > 0.95
    # a payload round trip keeps the distances
    again = FeatureDensity.from_payload(density.to_payload())
    assert again is not None
    assert np.allclose(again.distance(far), density.distance(far), rtol=1e-4)
    assert FeatureDensity.from_payload(None) is None


def test_eval_calibration_stores_the_density_and_predict_flags_noise(
    pixels_checkpoint: Path, data_config: DataConfig, faces: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert read_detector(pixels_checkpoint).get("feature_density") is None
    assert load_detector(pixels_checkpoint).feature_density is None  # old checkpoints load
    fit = EvalOptions(device="cpu", calibration=CalibrationOptions(rule=str(RULE)))
    evaluate_checkpoint(pixels_checkpoint, data_config, fit)
    loaded = load_detector(pixels_checkpoint)
    assert loaded.feature_density is not None and loaded.calibration.has_band
    assert "blurred" in loaded.calibration.band_basis
    # Pictures from a far distribution (for this feature space): flat black and white cards.
    far = [Image.new("RGB", (40, 40), (v, v, v)) for v in (0, 255)]
    predictor = Predictor(loaded)
    unlike = predictor.predict_images(far)
    assert all(any("unlike the training data" in r for r in p.reasons) for p in unlike)
    assert all(p.verdict == "uncertain" for p in unlike)
    assert all(p.distance is not None and p.distance > p.distance_limit for p in unlike)
    # ...while the training faces themselves mostly stay within the limit
    own = predictor.predict_paths(sorted((faces / "real").glob("*"))[:10])
    within = [r for r in own if r.prediction and r.prediction.distance is not None
              and r.prediction.distance <= r.prediction.distance_limit]  # fmt: skip
    assert len(within) >= 7
    # the CLI's JSON carries the reasons and the distance
    noise_file = tmp_path / "card.png"
    far[0].save(noise_file)
    out = tmp_path / "rows.json"
    assert main(["predict", str(noise_file), "--checkpoint", str(pixels_checkpoint),
                 "--quiet", "--device", "cpu", "--no-provenance", "--out", str(out)]) == 0
    row = json.loads(out.read_text())[0]
    assert row["verdict"] == "uncertain"
    assert any("unlike the training data" in r for r in row["reasons"])
    assert "uncertain from" in capsys.readouterr().out


def test_a_large_picture_is_noted_and_a_missing_face_is_uncertain(
    two_logit_checkpoint: Path,
) -> None:
    predictor = Predictor(load_detector(two_logit_checkpoint), face_crop=True)
    big = Image.fromarray(np.full((300, 451, 3), 128, dtype=np.uint8))
    (prediction,) = predictor.predict_images([big])
    assert prediction.verdict == "uncertain"
    assert any("no face found" in r for r in prediction.reasons)
    assert any("451x300 picture was resized" in r for r in prediction.reasons)


def test_density_distance_matches_a_full_covariance_mahalanobis() -> None:
    """With every component kept, d2 is the plain Mahalanobis distance under the sample
    covariance (scikit-learn's PCA uses the n - 1 normaliser)."""
    rng = np.random.default_rng(5)
    train = rng.normal(size=(500, 6)) * np.array([3, 2, 1, 0.5, 0.2, 0.1])
    density = fit_feature_density(train, train[:50])
    x = rng.normal(size=(10, 6))
    cov = np.cov(train, rowvar=False)
    centred = x - train.mean(axis=0)
    expected = np.einsum("ij,jk,ik->i", centred, np.linalg.inv(cov), centred)
    assert np.allclose(density.distance(x), expected, rtol=1e-6)
    assert torch.is_tensor(density.to_payload()["components"])


def test_lite0_features_flag_far_domains_but_not_held_out_faces() -> None:
    """The recommended detector's own features (frozen ImageNet EfficientNet-Lite0, pooled over
    every stage): fitted on synthetic faces, the density flags about its rate of held-out faces
    and nearly every picture of colour noise, rendered text and camera photographs."""
    from PIL import ImageDraw
    from skimage import data

    from fakescope.data.synth import draw_face, image_rng
    from fakescope.data.transforms import Normalizer, preprocess

    model = build_detector("lite0_probe", pretrained="imagenet", multilevel=True).eval()
    spec = InputSpec(size=64, mean=model.input_spec.mean, std=model.input_spec.std)
    normalizer = Normalizer(spec)

    def features(images: list[Image.Image]) -> np.ndarray:
        pixels = np.stack([preprocess(image, spec) for image in images])
        batch = normalizer(torch.from_numpy(pixels).permute(0, 3, 1, 2))
        with torch.inference_mode():
            return model.features(batch).numpy()

    faces = [draw_face(image_rng(0, 0, i), 64) for i in range(520)]
    train, val, held_out = features(faces[:300]), features(faces[300:420]), features(faces[420:])
    density = fit_feature_density(train, val, rate=0.02)
    flagged_faces = float(np.mean(density.distance(held_out) > density.limit))
    assert flagged_faces <= 0.10

    rng = np.random.default_rng(0)
    noise = [Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
             for _ in range(10)]  # fmt: skip
    text = []
    for i in range(10):
        card = Image.new("RGB", (64, 64), "white")
        ImageDraw.Draw(card).text((2, 8 + 3 * i), f"invoice {i}\ntotal 4{i}.00", fill="black")
        text.append(card)
    photos = [Image.fromarray(getattr(data, name)()).convert("RGB").resize((64, 64))
              for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick")]
    far = features(noise + text + photos)
    assert float(np.mean(density.distance(far) > density.limit)) >= 0.9


def test_the_threshold_calibrates_to_one_half_so_fake_calls_read_as_fake() -> None:
    """Reals near -2, fakes near +12: `fpr:0.05` puts the threshold among the reals' top
    scores, far below the detector's own boundary. Anchored, a picture between the two (a fake
    of another generator, say, at log-odds 4) is called fake with P(fake) above one half; without
    the offset it was called fake at a probability that says it is most likely real."""
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], 200)
    log_odds = np.where(labels == 1, 12.0, -2.0) + rng.normal(0, 1.0, 400)
    anchored, threshold = fit_calibration(labels, log_odds, "val", BandTargets(), RULE)
    assert threshold == pytest.approx(0.5, abs=1e-6)
    assert anchored.offset == pytest.approx(np.quantile(log_odds[labels == 0], 0.95), abs=0.3)
    between = float(anchored.probability(np.array([4.0]))[0])
    assert between > 0.5
    plain, plain_threshold = fit_calibration(labels, log_odds, "val", BandTargets(), RULE,
                                             anchor=False)  # fmt: skip
    assert plain.offset == 0.0
    p_plain = float(plain.probability(np.array([4.0]))[0])
    assert p_plain >= plain_threshold  # called fake...
    # ...and the anchored probability is the one that agrees with that call
    assert between > p_plain
    # a fixed threshold is a probability, not a place among the scores: no offset
    fixed, _ = fit_calibration(labels, log_odds, "val", BandTargets(), ThresholdRule("fixed", 0.5))
    assert fixed.offset == 0.0
