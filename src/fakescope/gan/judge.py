"""Judging a trained GAN from its checkpoint: `fakescope gan metrics` and `gan eval-disc`.

`measure_quality`: FD, KID and diversity of the generator next to the real-vs-real floor of
the same real images. `evaluate_discriminator`: paper 000's Fig. 4, D's batch-wise accuracy on
held-out real images (the data set's test, else val, else train split) and on as many
generated ones, written as a figure and a JSON file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fakescope.checkpoints import GanPayload, read_gan_checkpoint
from fakescope.config import from_dict
from fakescope.data.pipeline import PreparedData, prepare_data
from fakescope.data.tensors import real_uint8_batches
from fakescope.gan.config import GanJobConfig
from fakescope.gan.export import DiscriminatorScores, load_discriminator, score_discriminator
from fakescope.gan.metrics import (
    FloorComparison,
    build_feature_extractor,
    check_feature_extractor,
    compare_with_floor,
)
from fakescope.gan.plots import plot_batch_accuracy
from fakescope.gan.sample import load_generator
from fakescope.gan.train import gan_input_spec
from fakescope.runs import write_json


@dataclass(frozen=True)
class DiscriminatorEvaluation:
    checkpoint: Path
    split: str  # the split the real images came from
    held_out: bool  # False: the data has no val/test split, so training images were scored
    scores: DiscriminatorScores
    figure: Path
    summary_file: Path


def checkpoint_data(payload: GanPayload, data: str | None, progress: bool = False
                    ) -> PreparedData:
    """The data set a checkpoint's run trained on, or `data`, prepared at its resolution."""
    config = from_dict(GanJobConfig, payload["config"])
    if data:
        config.data.path = data
    return prepare_data(config.data, gan_input_spec(config), seed=config.run.seed, labelled=False,
                        progress=progress)


@dataclass(frozen=True)
class QualityReport:
    checkpoint: Path
    reals: str  # where the real images came from
    held_out: bool  # False: the run's own training images (no `data` given)
    comparison: FloorComparison

    def to_dict(self) -> dict[str, Any]:
        return {"checkpoint": str(self.checkpoint), "reals": self.reals,
                **self.comparison.to_dict()}


def measure_quality(
    checkpoint: str | Path,
    data: str | None = None,
    n: int = 1000,
    feature_extractor: str = "auto",
    inception_weights: str = "",
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> QualityReport:
    """The generator's quality against the floor, on `n` real images of `data` (default: the
    run's training images): half are the reference, half the floor's second set."""
    check_feature_extractor(feature_extractor)  # a wrong name fails before any data is read
    path, payload = read_gan_checkpoint(checkpoint)
    prepared = checkpoint_data(payload, data, progress)
    extractor = build_feature_extractor(feature_extractor, torch.device(device), inception_weights)
    comparison = compare_with_floor(
        extractor, load_generator(path, device), real_uint8_batches(prepared, n, 50, seed),
        seed=seed,
    )
    reals = data or f"{payload['config']['data']['path']} (the training images)"
    return QualityReport(path, reals, bool(data), comparison)


def evaluate_discriminator(
    checkpoint: str | Path,
    data: str | None = None,
    n: int = 600,
    batch_size: int = 16,
    seed: int = 0,
    out: str | Path | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> DiscriminatorEvaluation:
    """Score `n` real images of `data` (default: the run's) and `n` fakes with D; write
    `disc_accuracy.png` and `.json` into `out` (default: the run's report folder)."""
    path, payload = read_gan_checkpoint(checkpoint)
    prepared = checkpoint_data(payload, data, progress)
    held_out = [s for s in ("val", "test") if s in prepared.split_names()]
    split = held_out[-1] if held_out else "train"
    real = _take(prepared.loader(split, batch_size, shuffle=True, seed=seed), n)
    scores = score_discriminator(load_discriminator(path, device), load_generator(path, device),
                                 real, n, batch_size, seed)
    run_report = path.parent.parent / "report" if path.parent.name == "checkpoints" else path.parent
    folder = Path(out) if out else run_report
    folder.mkdir(parents=True, exist_ok=True)
    figure, summary_file = folder / "disc_accuracy.png", folder / "disc_accuracy.json"
    plot_batch_accuracy(scores.real_accuracy, scores.fake_accuracy, figure)
    write_json(summary_file, {"checkpoint": str(path), "split": split, **scores.summary,
                              "batch_accuracy_real": scores.real_accuracy,
                              "batch_accuracy_fake": scores.fake_accuracy})
    return DiscriminatorEvaluation(path, split, bool(held_out), scores, figure, summary_file)


def _take(loader: Any, n: int) -> Iterator[torch.Tensor]:
    """Normalised image batches from `loader` until n images have been given."""
    given = 0
    for images, _ in loader:
        yield images[: n - given]
        given += len(images)
        if given >= n:
            return
