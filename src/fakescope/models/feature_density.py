"""How far a picture lies from what a detector was trained on, in the detector's own features.

A detector's probability only means something for pictures like those it learned from; a cat
photo shown to a face detector, or a generator whose pixels look like nothing in training, can
get any score at all, often an extreme one. `FeatureDensity` is a probabilistic PCA model
(Tipping & Bishop 1999) of the pooled features of the training images, reals and fakes
together: the squared Mahalanobis distance under it,

    d2(x) = sum_i (u_i . (x - mean))^2 / var_i  +  |residual outside the k components|^2 / noise,

is large for pictures unlike the training data (Lee et al. 2018 use the same distance on
pooled features to flag out-of-distribution inputs). `limit` is the distance that only
`rate` of held-out validation pictures exceed; beyond it a verdict becomes "uncertain". Only
the k principal directions are stored, so the model stays small in the checkpoint. Fitting
lives in `fakescope.evaluate.feature_density`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class FeatureDensity:
    mean: np.ndarray  # (d,)
    components: np.ndarray  # (k, d), orthonormal rows
    variances: np.ndarray  # (k,), the variance along each component
    noise_variance: float  # the mean variance of the directions left out
    limit: float  # d2 beyond which a picture counts as unlike the training data
    rate: float  # the share of validation pictures beyond `limit` when it was fitted
    fitted_on: str = ""  # e.g. "train (1000 images); limit on val"

    def distance(self, features: Any) -> np.ndarray:
        """Squared Mahalanobis distance of each row of `features` (n, d)."""
        x = np.asarray(features, dtype=np.float64).reshape(len(features), -1) - self.mean
        projected = x @ self.components.T
        inside = np.sum(projected**2 / self.variances, axis=1)
        residual = np.maximum(np.sum(x**2, axis=1) - np.sum(projected**2, axis=1), 0.0)
        return np.asarray(inside + residual / self.noise_variance)

    def unlike(self, distance: float) -> bool:
        return distance > self.limit

    def to_payload(self) -> dict[str, Any]:
        """As stored in a detector checkpoint (tensors and numbers: loads with weights_only)."""
        return {
            "mean": torch.from_numpy(self.mean.astype(np.float32)),
            "components": torch.from_numpy(self.components.astype(np.float32)),
            "variances": torch.from_numpy(self.variances.astype(np.float32)),
            "noise_variance": float(self.noise_variance),
            "limit": float(self.limit),
            "rate": float(self.rate),
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any] | None) -> FeatureDensity | None:
        """The stored model; None for checkpoints fitted without one (or before it existed)."""
        if not data:
            return None

        def array(key: str) -> np.ndarray:
            value = data[key]
            value = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            return value.astype(np.float64)

        return cls(
            mean=array("mean"),
            components=array("components"),
            variances=array("variances"),
            noise_variance=float(data["noise_variance"]),
            limit=float(data["limit"]),
            rate=float(data["rate"]),
            fitted_on=str(data.get("fitted_on", "")),
        )
