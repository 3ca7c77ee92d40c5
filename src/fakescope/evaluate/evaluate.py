"""Evaluating one detector checkpoint on a labelled data set.

    evaluation, scores = evaluate_checkpoint("runs/x/checkpoints/best.pt", DataConfig(path="data"))
    write_evaluation(evaluation, scores, out_dir)   # evaluation.json, metrics.csv, predictions.csv

How it runs (device, batch size, split, calibration, ...) is one `EvalOptions`
(`fakescope.evaluate.options`).

With a threshold rule (`eer`, `f1`, `fpr:0.05`) the calibration (temperature and uncertain
band, `fakescope.evaluate.calibrate`) and then the threshold are first chosen on another split
(validation by default), optionally stored in the checkpoint, and then applied to the evaluated
split, so the test images never influence the threshold they are judged by. Every metric is
measured on the calibrated probabilities; ECE, log loss and the reliability diagram are also
reported before calibration. Plots of an evaluation are drawn by `fakescope.report.plots` from
the saved JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fakescope.config import DataConfig
from fakescope.data.pipeline import PreparedData
from fakescope.evaluate.calibrate import BandTargets, FoldLogits, fit_calibration
from fakescope.evaluate.corruptions import perturbation
from fakescope.evaluate.feature_density import fit_density
from fakescope.evaluate.options import CalibrationOptions, EvalOptions
from fakescope.evaluate.scoring import (
    Scores,
    prepare_evaluation_data,
    score_split,
    scoring_path,
    training_seed,
)
from fakescope.evaluate.threshold import ThresholdRule, store_threshold
from fakescope.formatting import csv_bytes
from fakescope.metrics import (
    binary_metrics,
    pr_points,
    probability_metrics,
    reliability_bins,
    roc_points,
)
from fakescope.models.calibration import Calibration
from fakescope.models.registry import LoadedDetector, load_detector
from fakescope.reproducibility import resolve_device
from fakescope.runs import EVALUATION_FILE, atomic_write_bytes, write_json

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
    # joint decisions of pixel verdict and provenance per class, counted with the provenance
    # (`fakescope.inference.decision`; {"real": {"likely-real": 95, ...}, "fake": {...}})
    decisions: dict[str, dict[str, int]] = field(default_factory=dict)
    # the calibration the probabilities were computed with (`Calibration.to_dict`), and the
    # reliability diagram of the same images before it (the raw sigmoid of the log-odds)
    calibration: dict[str, Any] = field(default_factory=dict)
    reliability_uncalibrated: dict[str, list[Any]] = field(default_factory=dict)

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
    calibration: Calibration | None = None,
) -> Evaluation:
    """Metrics, confusion matrix and curves of one set of (calibrated) scores at `threshold`,
    with the uncertain band's shares and, when the raw log-odds are known, the probability
    metrics and reliability diagram before calibration."""
    calibration = calibration or Calibration()
    metrics: dict[str, Any] = binary_metrics(
        scores.labels, scores.probs, threshold, RELIABILITY_BINS
    )
    metrics.update(band_metrics(scores.labels, scores.probs, threshold, calibration))
    uncalibrated: dict[str, list[Any]] = {}
    if scores.log_odds is not None:
        raw = Calibration().probability(scores.log_odds)
        before = probability_metrics(scores.labels, raw, RELIABILITY_BINS)
        metrics.update({f"{k}_uncalibrated": v for k, v in before.items()})
        uncalibrated = reliability_bins(scores.labels, raw, RELIABILITY_BINS).to_dict()
    metrics["temperature"] = calibration.temperature
    return Evaluation(
        model=model,
        checkpoint=checkpoint,
        detector=detector,
        split=split,
        threshold=float(threshold),
        threshold_source=threshold_source,
        metrics=metrics,
        confusion=[[metrics["tn"], metrics["fp"]], [metrics["fn"], metrics["tp"]]],
        roc=roc_points(scores.labels, scores.probs),
        pr=pr_points(scores.labels, scores.probs),
        reliability=reliability_bins(scores.labels, scores.probs, RELIABILITY_BINS).to_dict(),
        data=data or {},
        calibration=calibration.to_dict(),
        reliability_uncalibrated=uncalibrated,
    )


def band_metrics(
    labels: Any, probs: Any, threshold: float, calibration: Calibration
) -> dict[str, Any]:
    """How the uncertain band splits these images: the band, the share called uncertain (of
    all, of reals, of fakes), and the accuracy on the images that got a real/fake verdict."""
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    low, high = calibration.band(threshold)
    uncertain = (p >= low) & (p < high)
    decided = ~uncertain
    correct = (p >= high) == (y == 1)

    def share(mask: np.ndarray, within: np.ndarray) -> float | None:
        return float(mask[within].mean()) if within.any() else None

    return {
        "band_low": low,
        "band_high": high,
        "uncertain_share": share(uncertain, np.ones_like(uncertain)),
        "uncertain_real": share(uncertain, y == 0),
        "uncertain_fake": share(uncertain, y == 1),
        "decided_accuracy": share(correct, decided),
    }


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


DEFAULT_BAND = BandTargets()
# Copies of the calibration split that calibration also fits on, so that its temperature and
# band allow for pictures that were re-encoded, softened or shrunk on their way (what the
# robustness sweep and unseen generators show the detectors meet).
SHIFTS: tuple[tuple[str, float], ...] = (("blur", 1.0), ("jpeg", 75.0), ("downscale", 0.5))
SHIFTS_TEXT = "its copies blurred (sigma 1 px), JPEG-compressed (quality 75) and halved in size"


def shifted_log_odds(
    loaded: LoadedDetector,
    prepared: PreparedData,
    split: str,
    device: torch.device,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, raw log-odds) of every image of `split` under each of `SHIFTS`, concatenated."""
    labels, log_odds = [], []
    for kind, strength in SHIFTS:
        scores = score_split(loaded, prepared, split, device, batch_size,
                             perturbation(kind, strength))
        assert scores.log_odds is not None  # score_split always keeps them
        labels.append(scores.labels)
        log_odds.append(scores.log_odds)
    return np.concatenate(labels), np.concatenate(log_odds)


def calibrate_threshold(
    loaded: LoadedDetector,
    prepared: PreparedData,
    rule: ThresholdRule,
    split: str,
    device: torch.device,
    batch_size: int,
    band: BandTargets | None = DEFAULT_BAND,
    temperature_scaling: bool = True,
    shift: bool = True,
    folds: FoldLogits | None = None,
) -> tuple[float, Calibration, dict[str, Any]]:
    """The calibration fitted on `split` (temperature unless `temperature_scaling` is off, and
    the uncertain band for `band`, none when None; both on `split` and its `SHIFTS` copies
    unless `shift` is off, on `folds` in place of `split` when given), the threshold `rule`
    picks on the calibrated probabilities of `split`, and the metrics they give there."""
    scores = score_split(loaded, prepared, split, device, batch_size)
    assert scores.log_odds is not None  # score_split always keeps them
    shifted = None
    if shift:
        shifted = (*shifted_log_odds(loaded, prepared, split, device, batch_size), SHIFTS_TEXT)
    calibration, threshold = fit_calibration(
        scores.labels, scores.log_odds, split, band, rule, temperature_scaling, shifted,
        folds=folds,
    )
    probs = calibration.probability(scores.log_odds)
    metrics: dict[str, Any] = binary_metrics(scores.labels, probs, threshold, RELIABILITY_BINS)
    metrics.update(band_metrics(scores.labels, probs, threshold, calibration))
    return threshold, calibration, metrics


def evaluate_loaded(
    loaded: LoadedDetector,
    prepared: PreparedData,
    options: EvalOptions,
    device: torch.device,
    names: tuple[str, str] = ("", ""),
    threshold_source: str = "checkpoint",
) -> tuple[Evaluation, Scores]:
    """Score `options.split` with an already loaded detector on `device` (resolved from
    `options.device`) and measure it at its threshold; `names` is (checkpoint, display name)."""
    split, batch_size = options.split, options.batch_size
    path = scoring_path(loaded, prepared, split, device, batch_size)
    scores = score_split(loaded, prepared, split, device, batch_size, progress=options.progress,
                         forward=path.model)
    checkpoint, name = names
    evaluation = evaluate_scores(
        scores,
        loaded.threshold,
        model=name or loaded.name,
        checkpoint=checkpoint,
        detector=loaded.name,
        split=split,
        threshold_source=threshold_source,
        data=prepared.report.to_dict(),
        calibration=loaded.calibration,
    )
    return evaluation, scores


@dataclass(frozen=True)
class CalibrationSteps:
    """How `calibrate_loaded` fits: the threshold rule and its split, the band's targets (None:
    no band), temperature scaling, shifted copies, the "unlike the training data" model, and a
    note for the stored `band_basis` (e.g. why held-out-family folds were not used)."""

    rule: ThresholdRule
    split: str = "val"
    band: BandTargets | None = DEFAULT_BAND
    temperature_scaling: bool = True
    shift: bool = True
    density: bool = True
    note: str = ""

    @classmethod
    def from_options(cls, fit: CalibrationOptions) -> CalibrationSteps | None:
        """The steps `fit` asks for; None when it names no rule (nothing is fitted)."""
        if fit.rule is None:
            return None
        targets = BandTargets(fit.max_fake_called_real, fit.max_real_called_fake)
        band = targets if fit.band else None
        return cls(ThresholdRule.parse(fit.rule), fit.split, band, fit.temperature, fit.shift)


def calibrate_loaded(
    loaded: LoadedDetector,
    prepared: PreparedData,
    steps: CalibrationSteps,
    device: torch.device,
    batch_size: int = 64,
    checkpoint: str | Path | None = None,
    folds: FoldLogits | None = None,
) -> tuple[float, str]:
    """Fit the calibration, threshold and "unlike the training data" model of `loaded` on
    `steps.split` (temperature and band on held-out-family `folds` when given), apply them to
    `loaded`, and store them in `checkpoint` when given; returns (threshold, where it came
    from, e.g. "fpr:0.05 on val")."""
    threshold, calibration, measured = calibrate_threshold(
        loaded, prepared, steps.rule, steps.split, device, batch_size, steps.band,
        steps.temperature_scaling, steps.shift, folds,
    )  # fmt: skip
    if steps.note:
        calibration = replace(calibration, band_basis=f"{calibration.band_basis}; {steps.note}")
    loaded.calibration = calibration
    loaded.threshold = threshold
    density = (fit_density(loaded, prepared, device, batch_size, val_split=steps.split)
               if steps.density else None)
    loaded.feature_density = density or loaded.feature_density
    if checkpoint is not None:
        store_threshold(checkpoint, threshold, steps.rule, steps.split, measured, calibration,
                        density)  # fmt: skip
    fixed = steps.rule.method == "fixed"
    return threshold, f"fixed {steps.rule}" if fixed else f"{steps.rule} on {steps.split}"


def calibrate_checkpoint(
    checkpoint: str | Path,
    data: DataConfig,
    steps: CalibrationSteps,
    device: str = "auto",
    batch_size: int = 64,
) -> LoadedDetector:
    """Calibrate a checkpoint on its training run's split of `data` and store the result in
    it (what `fakescope xgen` does after each run); the calibrated detector."""
    torch_device = resolve_device(device)
    loaded = load_detector(checkpoint, torch_device)
    prepared = prepare_evaluation_data(loaded, data, training_seed(loaded), False)
    calibrate_loaded(loaded, prepared, steps, torch_device, batch_size, checkpoint)
    return loaded


def evaluate_checkpoint(
    checkpoint: str | Path, data: DataConfig, options: EvalOptions | None = None
) -> tuple[Evaluation, Scores]:
    """Evaluate a detector checkpoint on `options.split` of `data` (`all` for every image).

    `options.seed` is the one the data was split with; by default the training run's seed
    stored in the checkpoint, so the test split is the one training held out. With a
    `options.calibration.rule`, the calibration (temperature, uncertain band, shifted copies:
    `CalibrationOptions`), the threshold and the "unlike the training data" model
    (`fakescope.evaluate.feature_density`) are chosen on `options.calibration.split` and, when
    `store`, written into the checkpoint together. Without it, the checkpoint's own are used.
    """
    options = options or EvalOptions()
    checkpoint = Path(checkpoint)
    torch_device = resolve_device(options.device)
    loaded = load_detector(checkpoint, torch_device)
    seed = training_seed(loaded) if options.seed is None else options.seed
    prepared = prepare_evaluation_data(loaded, data, seed, options.progress)
    source = "checkpoint"
    steps = CalibrationSteps.from_options(options.calibration)
    if steps is not None:
        store = checkpoint if options.calibration.store else None
        _, source = calibrate_loaded(loaded, prepared, steps, torch_device, options.batch_size,
                                     store)  # fmt: skip
    names = (str(checkpoint), model_name(checkpoint))
    return evaluate_loaded(loaded, prepared, options, torch_device, names, source)


def predictions_csv(
    scores: Scores, threshold: float, calibration: Calibration | None = None
) -> bytes:
    """One row per image: path, true label, calibrated P(fake), predicted label (at the
    threshold) and verdict (real, uncertain or fake, by the uncertain band)."""
    calibration = calibration or Calibration()
    names = ("real", "fake")
    rows = [
        {"path": path, "label": names[int(label)], "probability_fake": float(prob),
         "predicted": names[int(prob >= threshold)],
         "verdict": calibration.verdict(float(prob), threshold)}
        for path, label, prob in zip(scores.paths, scores.labels, scores.probs, strict=True)
    ]  # fmt: skip
    return csv_bytes(["path", "label", "probability_fake", "predicted", "verdict"], rows)


def metrics_csv(evaluations: list[Evaluation]) -> bytes:
    """One row per evaluation: model, split, threshold source, then every metric."""
    columns: list[str] = []
    for evaluation in evaluations:
        columns += [k for k in evaluation.metrics if k not in columns]
    rows = [
        {"model": e.model, "split": e.split, "threshold_source": e.threshold_source, **e.metrics}
        for e in evaluations
    ]
    return csv_bytes(["model", "split", "threshold_source", *columns], rows)


def write_evaluation(evaluation: Evaluation, scores: Scores | None, out_dir: Path) -> list[Path]:
    """Write evaluation.json, metrics.csv and (with scores) predictions.csv into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / EVALUATION_FILE, out_dir / "metrics.csv"]
    write_json(written[0], evaluation.to_dict())
    atomic_write_bytes(written[1], metrics_csv([evaluation]))
    if scores is not None:
        written.append(out_dir / "predictions.csv")
        calibration = Calibration.from_dict(evaluation.calibration)
        atomic_write_bytes(
            written[-1], predictions_csv(scores, evaluation.threshold, calibration)
        )
    return written


def read_evaluation(path: Path) -> Evaluation:
    return Evaluation.from_dict(json.loads(path.read_text()))
