"""Sample quality: Fréchet distance and KID on image features, and a diversity score.

Stages, each a plain function of tensors so they test without weights:

    images --extractor--> features --features_to_statistics--> (mu, sigma) --statistics_to_fd--> FD
    features x features --features_to_kid--> KID mean, std
    features --pairwise_diversity--> mean pairwise distance (collapse watch, paper 004)

With torch-fidelity's Inception-v3 the distances are the standard FID and KID. Where its weights
are not available (offline), the same distances are taken on EfficientNet-Lite0 ImageNet features
and named after it (`fd_efflite0`, `kid_efflite0`): they rank models like FID does, but their
values are not comparable with published FIDs, so they are never called FID.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fakescope.data.tensors import to_uint8
from fakescope.errors import DataError, UnknownNameError
from fakescope.gan.sample import generate_batches
from fakescope.models.gan_registry import ImageGenerator

INCEPTION = "inception"
EFFLITE0 = "efflite0"
PIXELS = "pixels"


class FeatureExtractor(Protocol):
    """uint8 images (N, 3, H, W) in [0, 255] -> float features (N, F); `name` labels the metrics."""

    name: str

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


ExtractorBuilder = Callable[[torch.device, str], FeatureExtractor]  # (device, inception weights)
_EXTRACTORS: dict[str, ExtractorBuilder] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register_feature_extractor(
    name: str, description: str
) -> Callable[[ExtractorBuilder], ExtractorBuilder]:
    """Decorator: register a factory `f(device, inception_weights) -> FeatureExtractor` under
    `name`, the name `metrics.feature_extractor`, `collapse.features` and `--feature-extractor`
    take."""

    def decorator(factory: ExtractorBuilder) -> ExtractorBuilder:
        if name in _EXTRACTORS:
            raise ValueError(f"feature extractor '{name}' is registered twice")
        _EXTRACTORS[name] = factory
        _DESCRIPTIONS[name] = description
        return factory

    return decorator


def list_feature_extractors() -> dict[str, str]:
    """Registered feature extractor names and one-line descriptions."""
    return dict(sorted(_DESCRIPTIONS.items()))


def check_feature_extractor(name: str) -> None:
    """An UnknownNameError listing the registered names when `name` is not one of them."""
    if name not in _EXTRACTORS:
        known = ", ".join(sorted(_EXTRACTORS))
        raise UnknownNameError(f"unknown feature extractor '{name}' (registered: {known})")


def build_feature_extractor(
    name: str, device: torch.device, inception_weights: str = ""
) -> FeatureExtractor:
    """The registered extractor `name` on `device`; `inception_weights` is a configured path to
    torch-fidelity's Inception file (empty: the cache or the standard download)."""
    check_feature_extractor(name)
    return _EXTRACTORS[name](device, inception_weights)


class InceptionFeatures:
    """torch-fidelity's Inception-v3 (the FID network), 2048-d pool features."""

    name = INCEPTION

    def __init__(self, weights: Path, device: torch.device) -> None:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        self.model = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights)
        ).to(device)
        self.device = device

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        (features,) = self.model(images.to(self.device))
        return features.float()


class EfficientNetLite0Features:
    """EfficientNet-Lite0 with its packaged ImageNet weights: 1280-d pooled features at 224x224."""

    name = EFFLITE0

    def __init__(self, device: torch.device) -> None:
        from fakescope.models.efficientnet_lite import LITE0, imagenet_model

        spec = LITE0.input_spec
        model = imagenet_model(LITE0)
        model.reset_classifier(0)  # type: ignore[operator]  # forward now returns pooled features
        self.model: nn.Module = model.to(device).eval()
        # channels_last: less CPU time per 224-px batch on a CPU, same features within 1e-5
        # (benchmarks/results/fp32_paths.md, "FD features"); measured on the CPU only.
        on_cpu = device.type == "cpu"
        self.memory_format = torch.channels_last if on_cpu else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        self.size = spec.size
        self.mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)
        self.device = device

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device).float() / 255.0
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True)
        x = ((x - self.mean) / self.std).contiguous(memory_format=self.memory_format)
        return self.model(x).float()


class PixelFeatures:
    """Downsampled pixels (16x16x3 in [0, 1]): a weight-free, very cheap stand-in for features."""

    name = PIXELS

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(images.float() / 255.0, 16).flatten(1)


def _cached_inception_path() -> Path:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(URL_INCEPTION_V3)


def local_inception_weights(configured: str = "") -> Path | None:
    """The Inception weights file: the configured path, else torch-fidelity's file in torch's
    hub cache if present, else None. A configured path that does not exist is an error."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"Inception weights not found: {path}")
        return path
    cached = _cached_inception_path()
    return cached if cached.is_file() else None


def download_inception_weights(timeout_s: float = 20.0) -> Path | None:
    """torch-fidelity's standard download into torch's hub cache; None when offline."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    target = _cached_inception_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)  # urllib inside torch.hub takes no timeout of its own
    try:
        torch.hub.download_url_to_file(URL_INCEPTION_V3, str(target), progress=False)
    except (OSError, ValueError):  # URLError and socket timeouts are OSErrors
        return None
    finally:
        socket.setdefaulttimeout(previous)
    return target


@register_feature_extractor(INCEPTION, "torch-fidelity's Inception-v3: the FID network, 2048-d")
def _inception(device: torch.device, inception_weights: str) -> FeatureExtractor:
    weights = local_inception_weights(inception_weights) or download_inception_weights()
    if weights is None:
        raise FileNotFoundError(
            "Inception weights are not on disk and cannot be downloaded: set "
            "metrics.inception_weights to the file, or use metrics.feature_extractor=efflite0"
        )
    return InceptionFeatures(weights, device)


@register_feature_extractor(EFFLITE0, "EfficientNet-Lite0, packaged ImageNet weights, 1280-d")
def _efflite0(device: torch.device, inception_weights: str) -> FeatureExtractor:
    return EfficientNetLite0Features(device)


@register_feature_extractor(PIXELS, "16x16 downsampled pixels: weight-free and very cheap")
def _pixels(device: torch.device, inception_weights: str) -> FeatureExtractor:
    return PixelFeatures()


@register_feature_extractor("auto", "inception where its weights load, else efflite0 (offline)")
def _auto(device: torch.device, inception_weights: str) -> FeatureExtractor:
    weights = local_inception_weights(inception_weights) or download_inception_weights()
    return InceptionFeatures(weights, device) if weights else EfficientNetLite0Features(device)


def metric_names(extractor_name: str) -> tuple[str, str]:
    """Log names of the two distances; FID and KID only on the Inception network defining them."""
    if extractor_name == INCEPTION:
        return "fid", "kid"
    return f"fd_{extractor_name}", f"kid_{extractor_name}"


def generated_features(
    extractor: FeatureExtractor, generator: ImageGenerator, n: int, batch_size: int, seed: int
) -> torch.Tensor:
    """Features of the generator's first n images of `seed` (eval mode, any batch size)."""

    batches = generate_batches(generator, n, batch_size, seed)
    return extract_features(extractor, (to_uint8(b) for b in batches))


def extract_features(extractor: FeatureExtractor, batches: Iterable[torch.Tensor]) -> torch.Tensor:
    """Features of every uint8 batch, concatenated on the CPU in float64."""
    parts = [extractor(batch).detach().cpu().double() for batch in batches]
    if not parts:
        raise DataError("no images to extract features from")
    return torch.cat(parts)


@dataclass(frozen=True)
class Statistics:
    """Mean and covariance of a feature set: all FD needs to know about one side."""

    mu: np.ndarray
    sigma: np.ndarray


def features_to_statistics(features: torch.Tensor) -> Statistics:
    from torch_fidelity.metric_fid import fid_features_to_statistics

    stats = fid_features_to_statistics(features.double().cpu())
    return Statistics(mu=stats["mu"], sigma=stats["sigma"])


def statistics_to_fd(a: Statistics, b: Statistics) -> float:
    """Fréchet distance between two Gaussians, ||mu_a - mu_b||² + Tr(Sa + Sb - 2 (Sa Sb)^½)."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    result = fid_statistics_to_metric(
        {"mu": a.mu, "sigma": a.sigma}, {"mu": b.mu, "sigma": b.sigma}, verbose=False
    )
    return float(result[KEY_METRIC_FID])


def features_to_kid(
    a: torch.Tensor, b: torch.Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel Inception Distance (cubic polynomial kernel MMD²) mean and std over random subsets;
    the subset size is capped at the smaller feature set."""
    from torch_fidelity.metric_kid import (
        KEY_METRIC_KID_MEAN,
        KEY_METRIC_KID_STD,
        kid_features_to_metric,
    )

    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise DataError("KID needs at least 2 images on each side")
    result = kid_features_to_metric(
        a.double().cpu(), b.double().cpu(), kid_subsets=subsets, kid_subset_size=size,
        rng_seed=seed, verbose=False,
    )
    return float(result[KEY_METRIC_KID_MEAN]), float(result[KEY_METRIC_KID_STD])


def pairwise_diversity(features: torch.Tensor) -> float:
    """Mean Euclidean distance over all pairs: near 0 when every sample looks the same."""
    if len(features) < 2:
        raise DataError("diversity needs at least 2 samples")
    return float(torch.pdist(features.double()).mean())


class QualityMeter:
    """FD and KID of a generator's samples against a fixed set of real images.

    The real features are extracted once; every `measure` draws the same latents (fixed seed),
    so changes between epochs come from the generator, not from the sample.
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        real_batches: Iterable[torch.Tensor],
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        batch_size: int = 50,
        seed: int = 0,
    ) -> None:
        self.extractor = extractor
        self.real_features = extract_features(extractor, real_batches)
        self.real_statistics = features_to_statistics(self.real_features)
        self.kid_subsets, self.kid_subset_size = kid_subsets, kid_subset_size
        self.batch_size, self.seed = batch_size, seed
        self.fd_name, self.kid_name = metric_names(extractor.name)

    @property
    def num_samples(self) -> int:
        return len(self.real_features)

    def measure(self, generator: ImageGenerator) -> dict[str, float]:
        """{fd name: value, kid name: mean, kid name + '_std': std} over as many fakes as reals."""
        fake = generated_features(self.extractor, generator, self.num_samples, self.batch_size,
                                  self.seed)
        kid_mean, kid_std = features_to_kid(
            self.real_features, fake, self.kid_subsets, self.kid_subset_size, self.seed
        )
        return {
            self.fd_name: statistics_to_fd(self.real_statistics, features_to_statistics(fake)),
            self.kid_name: kid_mean,
            f"{self.kid_name}_std": kid_std,
        }


@dataclass(frozen=True)
class FloorComparison:
    """A generator's FD/KID/diversity against real images, next to the same numbers for a second
    set of real images (the floor: what a perfect generator would score with as many images).

    FD and KID on a few hundred images are biased upward by the sample size, so their raw values
    mean little; the ratio to the floor measured on the same images does."""

    fd_name: str
    kid_name: str
    images: int  # on each side of every comparison
    fake: dict[str, float]  # fd, kid, kid_std, diversity (ratio to the reals' diversity)
    floor: dict[str, float]  # the same, second real half against the first

    def fd_ratio(self) -> float:
        return self.fake["fd"] / self.floor["fd"] if self.floor["fd"] > 0 else float("inf")

    def to_dict(self) -> dict[str, object]:
        return {
            "fd_name": self.fd_name, "kid_name": self.kid_name, "images": self.images,
            "fake": dict(self.fake), "floor": dict(self.floor),
            "fd_over_floor": round(self.fd_ratio(), 4),
        }


def _side(
    reference: torch.Tensor, other: torch.Tensor, subsets: int, seed: int
) -> dict[str, float]:
    # subsets of half the images, so the KID's spread over subsets means something
    kid, kid_std = features_to_kid(reference, other, subsets, max(2, len(other) // 2), seed)
    return {
        "fd": statistics_to_fd(features_to_statistics(reference), features_to_statistics(other)),
        "kid": kid,
        "kid_std": kid_std,
        "diversity": pairwise_diversity(other) / pairwise_diversity(reference),
    }


def compare_with_floor(
    extractor: FeatureExtractor,
    generator: ImageGenerator,
    real_batches: Iterable[torch.Tensor],
    batch_size: int = 50,
    seed: int = 0,
    kid_subsets: int = 100,
) -> FloorComparison:
    """Split the real images (uint8 batches, in a shuffled order) into halves A and B; score B
    against A (the floor) and as many generated images against A (the generator)."""
    real = extract_features(extractor, real_batches)
    half = len(real) // 2
    if half < 2:
        raise DataError("comparing with the real-vs-real floor needs at least 4 real images")
    reference, second = real[:half], real[half : 2 * half]
    fake = generated_features(extractor, generator, half, batch_size, seed)
    fd_name, kid_name = metric_names(extractor.name)
    return FloorComparison(
        fd_name, kid_name, half,
        fake=_side(reference, fake, kid_subsets, seed),
        floor=_side(reference, second, kid_subsets, seed),
    )
