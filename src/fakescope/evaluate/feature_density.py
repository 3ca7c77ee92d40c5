"""Fitting a detector's "unlike the training data" model (`FeatureDensity`) at calibration time.

    density = fit_density(loaded, prepared, device)      # None where the detector has no features

The probabilistic PCA is fitted with scikit-learn on the pooled features of (at most
`MAX_TRAIN_IMAGES`, spread over the whole split) training images, reals and fakes together, and
its limit is the distance that `rate` of the validation images exceed, so about that share of
pictures like the training data are flagged, and every picture further out than the held-out
ones.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.decomposition import PCA

from fakescope.data.pipeline import PreparedData
from fakescope.inference.tiles import is_native
from fakescope.models.feature_density import FeatureDensity
from fakescope.models.registry import LoadedDetector

MAX_TRAIN_IMAGES = 1000
COMPONENTS = 64
DEFAULT_RATE = 0.01  # share of held-out in-distribution pictures called unlike the training data


def has_features(loaded: LoadedDetector) -> bool:
    """Whether the density can be fitted: a pooled-feature detector scored on resized pictures
    (native-resolution detectors score tiles, whose features describe parts of a picture)."""
    if is_native(loaded.model):
        return False
    try:
        loaded.model.features(torch.zeros(1, 3, loaded.input_spec.size, loaded.input_spec.size))
    except NotImplementedError:
        return False
    return True


def _spread_batches(count: int, wanted: int) -> set[int]:
    """Indices of about `wanted` of `count` batches, evenly spread (splits may be class-sorted)."""
    step = max(1, math.ceil(count / max(1, wanted)))
    return set(range(0, count, step))


@torch.inference_mode()
def split_features(
    loaded: LoadedDetector,
    prepared: PreparedData,
    split: str,
    device: torch.device,
    batch_size: int = 64,
    max_images: int | None = None,
) -> np.ndarray:
    """Pooled features (n, d) of the images of `split`, unaugmented, at most `max_images` of
    them taken in batches spread over the split."""
    loader = prepared.loader(split, batch_size, shuffle=False, augment=False)
    keep = _spread_batches(len(loader), math.ceil((max_images or 10**12) / batch_size))
    rows = [
        loaded.model.features(images.to(device)).float().cpu().numpy()
        for number, (images, _) in enumerate(loader) if number in keep
    ]  # fmt: skip
    width = rows[0].shape[1] if rows else 0
    return np.concatenate(rows).reshape(-1, width) if rows else np.zeros((0, width))


def fit_feature_density(
    train: np.ndarray, val: np.ndarray, rate: float = DEFAULT_RATE, fitted_on: str = ""
) -> FeatureDensity:
    """A probabilistic PCA of `train` features with its limit at the (1 - rate) quantile of the
    distances of `val` features."""
    if len(train) < 3 or len(val) < 1:
        raise ValueError(f"too few images to fit ({len(train)} training, {len(val)} validation)")
    # At most a quarter as many components as images, so the variance left over (which every
    # direction outside the components is given) is estimated from many directions, not from
    # the last few, nearly empty ones of a small sample.
    k = max(1, min(COMPONENTS, len(train) // 4, train.shape[1] - 1))
    pca = PCA(n_components=k, random_state=0).fit(train)
    variances = np.asarray(pca.explained_variance_, dtype=np.float64)
    floor = 1e-6 * max(float(variances.max()), 1e-12)  # a constant direction must not divide by 0
    density = FeatureDensity(
        mean=np.asarray(pca.mean_, dtype=np.float64),
        components=np.asarray(pca.components_, dtype=np.float64),
        variances=np.maximum(variances, floor),
        noise_variance=max(float(pca.noise_variance_), floor),
        limit=math.inf,
        rate=rate,
        fitted_on=fitted_on,
    )
    limit = float(np.quantile(density.distance(val), 1.0 - rate, method="higher"))
    return FeatureDensity(**{**density.__dict__, "limit": limit})


def fit_density(
    loaded: LoadedDetector,
    prepared: PreparedData,
    device: torch.device,
    batch_size: int = 64,
    rate: float = DEFAULT_RATE,
    val_split: str = "val",
) -> FeatureDensity | None:
    """The density of `loaded`'s features on the training split, its limit set on `val_split`;
    None when the detector has no pooled features or the data has no training split."""
    if not has_features(loaded) or "train" not in prepared.split_names():
        return None
    train = split_features(loaded, prepared, "train", device, batch_size, MAX_TRAIN_IMAGES)
    val = split_features(loaded, prepared, val_split, device, batch_size)
    if len(train) < 3 or len(val) < 1:
        return None
    fitted_on = f"train ({len(train)} images), limit on {val_split} ({len(val)} images)"
    return fit_feature_density(train, val, rate, fitted_on)
