"""Collapse watch: are the generator's samples as varied as real images? (paper 004's failure)

A collapsed generator maps most latents to the same few images, so the mean pairwise distance
between the features of its samples falls far below that between real images. The watch reports
their ratio (1 = as varied as the data) and flags it when it drops under a threshold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from fakescope.errors import DataError
from fakescope.gan.metrics import (
    FeatureExtractor,
    extract_features,
    generated_features,
    pairwise_diversity,
)
from fakescope.models.gan_registry import ImageGenerator


@dataclass(frozen=True)
class DiversityCheck:
    diversity: float  # mean pairwise feature distance among generated samples
    real_diversity: float  # the same among real images
    ratio: float  # diversity / real_diversity
    collapsed: bool  # ratio below the threshold

    def message(self) -> str:
        return (
            f"possible mode collapse: sample diversity is {self.ratio:.2f} of the real images' "
            "(paper 004's failure); try LeakyReLU in G, a higher lr, or instance noise"
        )


class CollapseWatch:
    """Compares the diversity of a fixed set of samples with that of a fixed set of real images."""

    def __init__(
        self,
        extractor: FeatureExtractor,
        real_batches: Iterable[torch.Tensor],
        num_samples: int = 64,
        threshold: float = 0.3,
        seed: int = 0,
    ) -> None:
        self.extractor = extractor
        self.real_diversity = pairwise_diversity(extract_features(extractor, real_batches))
        if self.real_diversity <= 0:
            raise DataError("the real images used by the collapse watch are all identical")
        self.num_samples, self.threshold, self.seed = num_samples, threshold, seed

    def check(self, generator: ImageGenerator) -> DiversityCheck:
        features = generated_features(self.extractor, generator, self.num_samples,
                                      self.num_samples, self.seed)
        diversity = pairwise_diversity(features)
        ratio = diversity / self.real_diversity
        return DiversityCheck(diversity, self.real_diversity, ratio, ratio < self.threshold)
