"""Evaluating one detector checkpoint on a labelled data set.

    evaluation = evaluate_checkpoint("runs/x/checkpoints/best.pt", DataConfig(path="data"))
    write_evaluation(evaluation, scores, out_dir)   # evaluation.json, metrics.csv, predictions.csv

With a threshold rule (`eer`, `f1`, `fpr:0.05`) the threshold is first chosen on another split
(validation by default), optionally stored in the checkpoint, and then applied to the evaluated
split, so the test images never influence the threshold they are judged by. Plots of an
evaluation are drawn by `fakescope.report.plots` from the saved JSON.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from fakescope.config import DataConfig
from fakescope.data.pipeline import PreparedData
from fakescope.evaluate.metrics import binary_metrics, pr_points, reliability_bins, roc_points
from fakescope.evaluate.scoring import (
    Scores,
    prepare_evaluation_data,
    score_split,
    training_seed,
)
from fakescope.evaluate.threshold import ThresholdRule, choose_threshold, store_threshold
from fakescope.models.registry import LoadedDetector, load_detector
from fakescope.reproducibility import resolve_device
from fakescope.runs import atomic_write_bytes, write_json

EVALUATION_FILE = "evaluation.json"
RELIABILITY_BINS = 15


@dataclass
class Evaluation:
    """Everything one evaluation measured; JSON-safe through `to_dict`."""

    model: str  # display name
    checkpoint: str
    detector: str  # registry name
    split: str
    threshold: float
    threshold_source: str  # "checkpoint", or the rule and split that chose it, e.g. "eer on val"
    metrics: dict[str, Any]
    confusion: list[list[int]]  # rows true real/fake, columns predicted real/fake
    roc: dict[str, list[float]]
    pr: dict[str, list[float]]
    reliability: dict[str, list[Any]]
    data: dict[str, Any] = field(default_factory=dict)  # the data report
    # provenance verdicts per class ({"real": {"no-provenance": 98, ...}, "fake": {...}}), when
    # counted: what the files' metadata declares, apart from the detector's scores
    provenance: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        return cls(**data)


def evaluate_scores(
    scores: Scores,
    threshold: float,
    model: str,
    checkpoint: str,
    detector: str,
    split: str,
    threshold_source: str,
    data: dict[str, Any] | None = None,
) -> Evaluation:
    """Metrics, confusion matrix and curves of one set of scores at `threshold`."""
    metrics = binary_metrics(scores.labels, scores.probs, threshold, RELIABILITY_BINS)
    return Evaluation(
        model=model,
        checkpoint=checkpoint,
        detector=detector,
        split=split,
        threshold=float(threshold),
        threshold_source=threshold_source,
        metrics=metrics,
        confusion=[[metrics["tn"], metrics["fp"]], [metrics["fn"], metrics["tp"]]],  # type: ignore[list-item]
        roc=roc_points(scores.labels, scores.probs),
        pr=pr_points(scores.labels, scores.probs),
        reliability=reliability_bins(scores.labels, scores.probs, RELIABILITY_BINS).to_dict(),
        data=data or {},
    )


def model_name(checkpoint: Path) -> str:
    """A readable name for a checkpoint: `<run>/<file stem>` inside a run folder."""
    if checkpoint.parent.name == "checkpoints":
        return f"{checkpoint.parent.parent.name}/{checkpoint.stem}"
    return checkpoint.stem


def default_evaluation_dir(checkpoint: Path, split: str) -> Path:
    """`<run>/evaluation/<stem>-<split>/` for a checkpoint in a run folder, else beside it."""
    in_run = checkpoint.parent.name == "checkpoints"
    home = checkpoint.parent.parent if in_run else checkpoint.parent
    return home / "evaluation" / f"{checkpoint.stem}-{split}"


def calibrate_threshold(
    loaded: LoadedDetector,
    prepared: PreparedData,
    rule: ThresholdRule,
    split: str,
    device: torch.device,
    batch_size: int,
) -> tuple[float, dict[str, Any]]:
    """The threshold `rule` picks on `split`, and the metrics it gives there."""
    scores = score_split(loaded, prepared, split, device, batch_size)
    threshold = choose_threshold(scores.labels, scores.probs, rule)
    return threshold, binary_metrics(scores.labels, scores.probs, threshold, RELIABILITY_BINS)


def evaluate_loaded(
    loaded: LoadedDetector,
    prepared: PreparedData,
    split: str,
    device: torch.device,
    checkpoint: str = "",
    name: str = "",
    threshold: float | None = None,
    threshold_source: str = "checkpoint",
    batch_size: int = 64,
    progress: bool = False,
) -> tuple[Evaluation, Scores]:
    """Score `split` with an already loaded detector and measure it (at its stored threshold
    unless `threshold` is given)."""
    scores = score_split(loaded, prepared, split, device, batch_size, progress=progress)
    evaluation = evaluate_scores(
        scores,
        loaded.threshold if threshold is None else threshold,
        model=name or loaded.name,
        checkpoint=checkpoint,
        detector=loaded.name,
        split=split,
        threshold_source=threshold_source,
        data=prepared.report.to_dict(),
    )
    return evaluation, scores


def evaluate_checkpoint(
    checkpoint: str | Path,
    data: DataConfig,
    split: str = "test",
    threshold_rule: ThresholdRule | None = None,
    threshold_split: str = "val",
    store: bool = True,
    device: str = "auto",
    batch_size: int = 64,
    seed: int | None = None,
    progress: bool = False,
) -> tuple[Evaluation, Scores]:
    """Evaluate a detector checkpoint on `split` of `data` (`all` for every image).

    `seed` is the one the data was split with; by default the training run's seed stored in
    the checkpoint, so the test split is the one training held out. With `threshold_rule`, the
    threshold is chosen on `threshold_split` and, when `store`, written into the checkpoint.
    """
    checkpoint = Path(checkpoint)
    torch_device = resolve_device(device)
    loaded = load_detector(checkpoint, torch_device)
    prepared = prepare_evaluation_data(
        loaded, data, training_seed(loaded) if seed is None else seed, progress
    )
    threshold, source = loaded.threshold, "checkpoint"
    if threshold_rule is not None:
        threshold, calibration = calibrate_threshold(
            loaded, prepared, threshold_rule, threshold_split, torch_device, batch_size
        )
        fixed = threshold_rule.method == "fixed"
        source = f"fixed {threshold_rule}" if fixed else f"{threshold_rule} on {threshold_split}"
        if store:
            store_threshold(checkpoint, threshold, threshold_rule, threshold_split, calibration)
    return evaluate_loaded(
        loaded,
        prepared,
        split,
        torch_device,
        checkpoint=str(checkpoint),
        name=model_name(checkpoint),
        threshold=threshold,
        threshold_source=source,
        batch_size=batch_size,
        progress=progress,
    )


def predictions_csv(scores: Scores, threshold: float) -> bytes:
    """One row per image: path, true label, P(fake), predicted label."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["path", "label", "probability_fake", "predicted"])
    names = ("real", "fake")
    for path, label, prob in zip(scores.paths, scores.labels, scores.probs, strict=True):
        writer.writerow([path, names[int(label)], f"{prob:.6f}", names[int(prob >= threshold)]])
    return buffer.getvalue().encode()


def metrics_csv(evaluations: list[Evaluation]) -> bytes:
    """One row per evaluation: model, split, threshold source, then every metric."""
    columns: list[str] = []
    for evaluation in evaluations:
        columns += [k for k in evaluation.metrics if k not in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["model", "split", "threshold_source", *columns])
    for e in evaluations:
        values = [_cell(e.metrics.get(c)) for c in columns]
        writer.writerow([e.model, e.split, e.threshold_source, *values])
    return buffer.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_evaluation(evaluation: Evaluation, scores: Scores | None, out_dir: Path) -> list[Path]:
    """Write evaluation.json, metrics.csv and (with scores) predictions.csv into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / EVALUATION_FILE, out_dir / "metrics.csv"]
    write_json(written[0], evaluation.to_dict())
    atomic_write_bytes(written[1], metrics_csv([evaluation]))
    if scores is not None:
        written.append(out_dir / "predictions.csv")
        atomic_write_bytes(written[-1], predictions_csv(scores, evaluation.threshold))
    return written


def read_evaluation(path: Path) -> Evaluation:
    return Evaluation.from_dict(json.loads(path.read_text()))
