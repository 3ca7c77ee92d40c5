"""Grad-CAM overlays of the images an evaluation scored worst (`eval --explain`, the demo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fakescope.data.images import load_image
from fakescope.evaluate.scoring import Scores
from fakescope.inference.gradcam import write_gradcam
from fakescope.models.registry import load_detector


def worst_examples(labels: np.ndarray, probs: np.ndarray, per_class: int) -> list[int]:
    """Indices of the `per_class` images of each class the detector got most wrong (largest
    gap between label and P(fake)), real ones first."""
    picked: list[int] = []
    gap = np.abs(labels - probs)
    for label in (0, 1):
        members = np.flatnonzero(labels == label)
        picked.extend(members[np.argsort(-gap[members], kind="stable")][:per_class].tolist())
    return picked


def explain_worst(
    checkpoint: Path, scores: Scores, per_class: int, face_crop: bool, out: Path
) -> list[Path]:
    """Grad-CAM overlays of the `per_class` worst-scored images of each class, into `out`."""
    loaded = load_detector(checkpoint)
    written = []
    for rank, i in enumerate(worst_examples(scores.labels, scores.probs, per_class)):
        truth = "fake" if scores.labels[i] else "real"
        path = out / f"{rank:02d}-{truth}-p{scores.probs[i]:.2f}-{Path(scores.paths[i]).stem}.png"
        write_gradcam(loaded, load_image(scores.paths[i]), path, face_crop)
        written.append(path)
    return written
