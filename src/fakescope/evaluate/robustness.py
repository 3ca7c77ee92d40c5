"""Robustness sweep: re-evaluate detectors on corrupted copies of the same images.

Corruptions act on the uint8 pictures the model would see (after resize), one strength at a
time, and metrics use each checkpoint's stored threshold:

    jpeg       re-compression quality 100 -> 30
    blur       Gaussian blur sigma (pixels) 0 -> 3
    downscale  shrink by a factor, then enlarge back: 1 -> 0.25
    noise      additive Gaussian noise, std as a share of the 0-255 range: 0 -> 0.1

Noise is drawn from a generator seeded by (seed, batch number), so every model sees the same
noisy pictures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from fakescope.config import ConfigError, DataConfig
from fakescope.data.pipeline import PreparedData
from fakescope.data.transforms import InputSpec
from fakescope.errors import failure_line
from fakescope.evaluate.corruptions import CORRUPTIONS
from fakescope.evaluate.evaluate import model_name
from fakescope.evaluate.options import EvalOptions
from fakescope.evaluate.scoring import (
    prepare_evaluation_data,
    score_split,
    scoring_path,
    training_seed,
)
from fakescope.metrics import binary_metrics
from fakescope.models.registry import load_detector
from fakescope.reproducibility import resolve_device
from fakescope.runs import ROBUSTNESS_FILE, write_json

DEFAULT_SWEEPS: dict[str, tuple[float, ...]] = {
    "jpeg": (100, 90, 70, 50, 30),
    "blur": (0.0, 0.5, 1.0, 2.0, 3.0),
    "downscale": (1.0, 0.75, 0.5, 0.25),
    "noise": (0.0, 0.02, 0.05, 0.1),
}
STRENGTH_NAMES = {
    "jpeg": "JPEG quality",
    "blur": "blur sigma (px)",
    "downscale": "scale factor",
    "noise": "noise std (share of range)",
}
SWEPT_METRICS = ("accuracy", "roc_auc", "f1", "eer", "log_loss")


def parse_sweeps(kinds: Sequence[str] | None) -> dict[str, tuple[float, ...]]:
    """The default strengths of the named corruptions (all of them when `kinds` is empty)."""
    if not kinds:
        return dict(DEFAULT_SWEEPS)
    unknown = [k for k in kinds if k not in DEFAULT_SWEEPS]
    if unknown:
        known = ", ".join(DEFAULT_SWEEPS)
        raise ConfigError(f"unknown corruption '{unknown[0]}' (known: {known})")
    return {k: DEFAULT_SWEEPS[k] for k in kinds}


@dataclass
class Robustness:
    """One row per (model, corruption, strength) with that setting's metrics."""

    split: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Robustness:
        return cls(**data)

    def models(self) -> list[str]:
        return list(dict.fromkeys(row["model"] for row in self.rows))

    def series(self, model: str, kind: str, metric: str) -> tuple[list[float], list[float | None]]:
        """(strengths, metric values) of one model under one corruption."""
        rows = [r for r in self.rows if r["model"] == model and r["corruption"] == kind]
        return [r["strength"] for r in rows], [r["metrics"].get(metric) for r in rows]


def _corrupt(
    kind: str, strength: float, seed: int, images: torch.Tensor, number: int
) -> torch.Tensor:
    return CORRUPTIONS[kind](images, strength, seed * 1_000_003 + number)


def robustness_sweep(
    checkpoints: Sequence[str | Path],
    data: DataConfig,
    options: EvalOptions | None = None,
    sweeps: dict[str, tuple[float, ...]] | None = None,
    on_update: Callable[[Robustness], None] = lambda result: None,
) -> Robustness:
    """Evaluate every checkpoint on `options.split` under every corruption strength of
    `sweeps` (default: the default strengths of `options.conditions`).

    `options.seed` splits the data (by default the first checkpoint's training seed) and seeds
    the noise; all models are measured on the same images. A model or a cell that fails gets a
    row with its one-line `error` (and no metrics) and the others go on; `on_update` runs after
    each model.
    """
    options = options or EvalOptions()
    split, batch_size, seed, progress = (options.split, options.batch_size, options.seed,
                                         options.progress)
    torch_device = resolve_device(options.device)
    result = Robustness(split=split)
    prepared_by_spec: dict[InputSpec, PreparedData] = {}
    sweeps = sweeps or parse_sweeps(options.conditions)
    points = len(checkpoints) * sum(len(strengths) for strengths in sweeps.values())
    bar = tqdm(total=points, desc="robustness", unit="sweep", disable=not progress)
    passes = sum(len(strengths) for strengths in sweeps.values())
    for checkpoint in map(Path, checkpoints):
        name = model_name(checkpoint)
        try:
            loaded = load_detector(checkpoint, torch_device)
            if seed is None:
                seed = training_seed(loaded)
            if loaded.input_spec not in prepared_by_spec:
                prepared = prepare_evaluation_data(loaded, data, seed, progress)
                prepared_by_spec[loaded.input_spec] = prepared
            prepared = prepared_by_spec[loaded.input_spec]
            path = scoring_path(loaded, prepared, split, torch_device, batch_size, passes)
        except Exception as err:  # this model's cells fail; the other models' stand
            result.rows.append(_failed_row(name, None, None, err))
            bar.update(passes)
            on_update(result)
            continue
        for kind, strengths in sweeps.items():
            for strength in strengths:
                perturb = partial(_corrupt, kind, float(strength), seed)
                try:
                    scores = score_split(
                        loaded, prepared, split, torch_device, batch_size, perturb, progress,
                        forward=path.model,
                    )
                    metrics = binary_metrics(scores.labels, scores.probs, loaded.threshold)
                except Exception as err:  # one cell's failure keeps the other cells
                    result.rows.append(_failed_row(name, kind, float(strength), err))
                else:
                    result.rows.append({"model": name, "corruption": kind,
                                        "strength": float(strength), "metrics": metrics})
                bar.update()
        on_update(result)
    bar.close()
    return result


def _failed_row(
    model: str, kind: str | None, strength: float | None, err: Exception
) -> dict[str, Any]:
    return {"model": model, "corruption": kind, "strength": strength, "metrics": {},
            "error": failure_line(err)}


def write_robustness(result: Robustness, out_dir: Path) -> Path:
    """Save the sweep as robustness.json in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ROBUSTNESS_FILE
    write_json(path, result.to_dict())
    return path
