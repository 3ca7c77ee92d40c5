"""One detector checkpoint evaluated and written out: what `fakescope eval` and the demo run.

The sequence: calibrate and choose the threshold on `threshold_split` (when a rule is given),
score `split`, count the provenance verdicts (optional), write evaluation.json, the metric and
prediction CSVs and the plots, then Grad-CAM overlays of the worst-scored images (optional).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fakescope.config import DataConfig
from fakescope.evaluate.calibrate import BandTargets
from fakescope.evaluate.evaluate import (
    DEFAULT_BAND,
    Evaluation,
    default_evaluation_dir,
    evaluate_checkpoint,
    write_evaluation,
)
from fakescope.evaluate.explain import explain_worst
from fakescope.evaluate.scoring import Scores
from fakescope.evaluate.threshold import ThresholdRule
from fakescope.provenance import verdict_counts
from fakescope.report.plots import write_evaluation_plots


@dataclass(frozen=True)
class WrittenEvaluation:
    evaluation: Evaluation
    scores: Scores
    out: Path  # the folder everything was written into
    written: list[Path]


def evaluate_and_write(
    checkpoint: str | Path,
    data: DataConfig,
    split: str = "test",
    threshold_rule: ThresholdRule | None = None,
    threshold_split: str = "val",
    out: str | Path | None = None,
    store: bool = True,
    device: str = "auto",
    batch_size: int = 64,
    seed: int | None = None,
    progress: bool = False,
    band: BandTargets | None = DEFAULT_BAND,
    temperature_scaling: bool = True,
    provenance: bool = True,
    explain_per_class: int = 0,
) -> WrittenEvaluation:
    """Evaluate `checkpoint` on `split` of `data` and write the results into `out` (default:
    the checkpoint's run, `evaluation/<split>/`); the arguments are `evaluate_checkpoint`'s."""
    checkpoint = Path(checkpoint)
    evaluation, scores = evaluate_checkpoint(
        checkpoint, data, split, threshold_rule, threshold_split, store=store, device=device,
        batch_size=batch_size, seed=seed, progress=progress, band=band,
        temperature_scaling=temperature_scaling,
    )
    if provenance:
        evaluation.provenance = verdict_counts(scores.paths, scores.labels.tolist())
    folder = Path(out) if out else default_evaluation_dir(checkpoint, split)
    written = write_evaluation(evaluation, scores, folder)
    written += write_evaluation_plots(evaluation, folder)
    if explain_per_class > 0:
        written += explain_worst(
            checkpoint, scores, explain_per_class, data.face_crop, folder / "gradcam"
        )
    return WrittenEvaluation(evaluation, scores, folder, written)
