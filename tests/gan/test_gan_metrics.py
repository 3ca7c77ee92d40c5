"""FD and KID agree with reference math; the offline fallback is named for what it is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from gan.tiny_gan import TinyPixelFeatures

from fakescope.data.tensors import to_uint8
from fakescope.gan import metrics
from fakescope.gan.metrics import (
    QualityMeter,
    Statistics,
    build_feature_extractor,
    features_to_kid,
    features_to_statistics,
    metric_names,
    pairwise_diversity,
    statistics_to_fd,
)
from fakescope.models.dcgan import Generator


def fd_with_scipy(a: Statistics, b: Statistics) -> float:
    """pytorch-fid's formula, with scipy's matrix square root."""
    covmean = scipy.linalg.sqrtm(a.sigma @ b.sigma).real
    diff = a.mu - b.mu
    return float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2 * np.trace(covmean))


def test_fd_agrees_with_scipy_and_is_zero_on_itself() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(300, 12, generator=gen, dtype=torch.float64)
    b = 0.7 * torch.randn(300, 12, generator=gen, dtype=torch.float64) + 0.3
    sa, sb = features_to_statistics(a), features_to_statistics(b)
    assert statistics_to_fd(sa, sb) == pytest.approx(fd_with_scipy(sa, sb), rel=1e-6)
    assert statistics_to_fd(sa, sa) == pytest.approx(0.0, abs=1e-8)


def test_fd_of_two_known_gaussians() -> None:
    # Diagonal covariances: FD = |mu_a - mu_b|^2 + sum (sqrt(var_a) - sqrt(var_b))^2.
    a = Statistics(np.array([0.0, 1.0]), np.diag([1.0, 4.0]))
    b = Statistics(np.array([3.0, 1.0]), np.diag([9.0, 1.0]))
    assert statistics_to_fd(a, b) == pytest.approx(9.0 + (1 - 3) ** 2 + (2 - 1) ** 2, rel=1e-9)


def kid_by_hand(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3 (Binkowski et al.)."""
    d, m = x.shape[1], len(x)
    k = lambda p, q: (p @ q.T / d + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    off = lambda mat: (mat.sum() - np.trace(mat)) / (m * (m - 1))  # noqa: E731
    return float(off(kxx) + off(kyy) - 2 * kxy.mean())


def test_kid_agrees_with_the_formula() -> None:
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(40, 6, generator=gen, dtype=torch.float64)
    b = torch.randn(40, 6, generator=gen, dtype=torch.float64) + 0.5
    # One subset of every sample: the estimate is exact, and its spread is 0.
    mean, std = features_to_kid(a, b, subsets=1, subset_size=40)
    assert mean == pytest.approx(kid_by_hand(a.numpy(), b.numpy()), rel=1e-9)
    assert std == 0.0
    # The subset size is capped at the smaller side instead of failing.
    mean_small, _ = features_to_kid(a, b[:10], subsets=3, subset_size=1000)
    assert mean_small > 0


def test_metric_names_never_call_a_stand_in_fid() -> None:
    assert metric_names("inception") == ("fid", "kid")
    assert metric_names("efflite0") == ("fd_efflite0", "kid_efflite0")


def test_diversity_is_mean_pairwise_distance() -> None:
    points = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    assert pairwise_diversity(points) == pytest.approx((5 + 0 + 5) / 3)
    assert pairwise_diversity(torch.ones(5, 3)) == 0.0


def test_to_uint8_maps_the_tanh_range() -> None:
    assert to_uint8(torch.tensor([-1.0, 0.0, 1.0, 2.0])).tolist() == [0, 128, 255, 255]


def test_offline_auto_falls_back_to_efficientnet_lite0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "local_inception_weights", lambda configured="": None)
    monkeypatch.setattr(metrics, "download_inception_weights", lambda timeout_s=20.0: None)
    extractor = build_feature_extractor("auto", torch.device("cpu"))
    assert extractor.name == "efflite0"
    features = extractor(torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8))
    assert features.shape == (2, 1280) and torch.isfinite(features).all()
    with pytest.raises(FileNotFoundError, match="efflite0"):
        build_feature_extractor("inception", torch.device("cpu"))


def test_a_configured_inception_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Inception weights not found"):
        metrics.local_inception_weights(str(tmp_path / "missing.pth"))


def test_quality_meter_scores_a_generator_against_reals() -> None:
    torch.manual_seed(0)
    generator = Generator(32, base_width=4)
    real = [torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8) for _ in range(2)]
    meter = QualityMeter(TinyPixelFeatures(), real, kid_subsets=4, kid_subset_size=8,
                         batch_size=5)
    first = meter.measure(generator)
    assert set(first) == {"fd_tinypixels", "kid_tinypixels", "kid_tinypixels_std"}
    assert meter.num_samples == 12 and first["fd_tinypixels"] > 0
    assert meter.measure(generator) == first  # a fixed sample: same generator, same numbers
