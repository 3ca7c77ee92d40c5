"""Calibrating a detector for generator families it never saw: held-out-family folds.

    steps = CalibrationSteps(ThresholdRule.parse("fpr:0.05"))
    loaded, outcome = calibrate_run(config, run.path, best, steps)

A detector trained on fakes of several families (`fake/<family>/` folders, as `fakescope data
multigen` lays them out) has no validation fakes of a generator it never saw, so a calibration
fitted on its validation split vouches only for the families it knows. With K >= 2 families,
one fold run per family trains the same preset on the run's training and validation images
without that family's fakes (`<run>/folds/without-<family>/`); each fold model then scores the
run's validation split, and its scores of the reals and of the held-out family's fakes, measured
from its own threshold, are pooled (`fakescope.evaluate.calibrate.fold_scores`). The run's own
model keeps its offset and its threshold, chosen on its own validation split, and takes the
temperature and the band fitted on the pooled fold scores and its shifted validation copies
(`fit_calibration(folds=...)`); `band_basis` says "held-out-family folds (K folds: names)".

`calibration.family_folds: auto` uses folds when the run has two or more families with
validation fakes and the model is a frozen-feature probe (a fold run costs what the run did;
a probe's is minutes); otherwise the reason they were not used is recorded in `band_basis`.
With one family nothing changes. Fold runs resume or are reused as any run is, so an
interrupted calibration loses no training.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from fakescope.data.layouts import FAKE, Sample, fake_family
from fakescope.data.pipeline import PreparedData
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.train import train_detector
from fakescope.distributed import context_from_environment
from fakescope.evaluate.calibrate import FoldLogits, fold_scores, pool_folds
from fakescope.evaluate.evaluate import CalibrationSteps, calibrate_loaded
from fakescope.evaluate.scoring import prepare_evaluation_data, score_split, training_seed
from fakescope.evaluate.threshold import ThresholdRule
from fakescope.formatting import csv_bytes
from fakescope.models.registry import Detector, LoadedDetector, load_detector
from fakescope.reproducibility import resolve_device
from fakescope.runs import atomic_write_bytes

log = logging.getLogger("fakescope.detect.folds")  # shown with training's lines
FOLDS_DIR = "folds"


@dataclass
class FoldOutcome:
    """Whether the calibration used held-out-family folds, over which families, or why not."""

    families: list[str]  # fake families of the run's training and validation images
    used: bool = False
    reason: str = ""  # why folds were not used ("" when they were, or with one family)
    checkpoints: list[Path] = field(default_factory=list)  # the fold models'

    def describe(self) -> str:
        if self.used:
            return (f"held-out-family folds: {len(self.families)} fold runs "
                    f"({', '.join(self.families)})")
        return f"held-out-family folds: off ({self.reason})" if self.reason else ""


def family_counts(samples: Iterable[Sample]) -> Counter[str]:
    """Fakes per family; fakes outside family folders count under ""."""
    return Counter(fake_family(s.path) or "" for s in samples if s.label == FAKE)


def is_frozen_probe(model: Detector) -> bool:
    """Whether only a head trains (a frozen-feature probe): a fold run is then cheap."""
    return next(iter(model.backbone_parameters()), None) is None


def folds_off_reason(
    mode: str | bool, train: Counter[str], val: Counter[str], probe: bool, distributed: bool,
    budgeted: bool = False,
) -> str:
    """Why held-out-family folds are not used ("" when they are) for `calibration.family_folds`
    = `mode`, given the fakes per family of the training and validation splits and whether the
    run had a time budget."""
    if mode is False:
        return "calibration.family_folds is off"
    if "" in train or "" in val:
        return "some fakes lie outside fake/<family>/ folders"
    for split, counts in (("training", train), ("validation", val)):
        missing = sorted(f for f in (train | val) if not counts.get(f))
        if missing:
            return f"no {split} fakes of {', '.join(missing)}"
    if distributed:
        return "fold runs are not started under torchrun"
    if mode == "auto" and budgeted:
        return ("the run has a time budget and fold runs would train past it: set "
                "calibration.family_folds=true to run them anyway")
    if mode == "auto" and not probe:
        return ("the model's backbone trains, so each fold run costs a full training: set "
                "calibration.family_folds=true to run them")
    return ""


def fold_samples(prepared: PreparedData, family: str) -> list[Sample]:
    """The run's training and validation images without `family`'s fakes, splits kept."""
    return [s for split in ("train", "val") for s in prepared.samples(split)
            if not (s.label == FAKE and fake_family(s.path) == family)]


def fold_config(config: DetectJobConfig, data_csv: Path, root: Path, name: str) -> DetectJobConfig:
    """The run's settings, trained on `data_csv` (fixed splits, no subset limits) as run
    `root/name`."""
    data = replace(config.data, path=str(data_csv), layout="csv", limit_per_class=None,
                   limit_fraction=None)
    return replace(config, data=data, run=replace(config.run, root=str(root), name=name))


def train_fold(
    config: DetectJobConfig, prepared: PreparedData, family: str, run_dir: Path, progress: bool
) -> Path:
    """Train (or resume, or reuse) the fold run that never sees `family`; its best.pt."""
    root = run_dir / FOLDS_DIR
    name = f"without-{family}"
    data_csv = root / f"{name}.csv"
    rows = ({"path": str(Path(s.path).resolve()), "label": "fake" if s.label else "real",
             "split": s.split} for s in fold_samples(prepared, family))
    atomic_write_bytes(data_csv, csv_bytes(("path", "label", "split"), rows))
    fold = fold_config(config, data_csv, root, name)
    log.info("fold run without %s: %s", family, root / name)
    return train_detector(fold, resume=(root / name).is_dir(), progress=progress).best_checkpoint


def fold_logits(
    checkpoints: dict[str, Path], prepared: PreparedData, rule: ThresholdRule, device: str,
    batch_size: int = 64,
) -> FoldLogits:
    """Each fold model's scores of the validation reals and its held-out family's validation
    fakes, measured from its own threshold (`fold_scores`), pooled."""
    torch_device = resolve_device(device)
    parts = {}
    for family, checkpoint in checkpoints.items():
        scores = score_split(load_detector(checkpoint, torch_device), prepared, "val",
                             torch_device, batch_size)
        assert scores.log_odds is not None  # score_split always keeps them
        held_out = np.array([fake_family(Path(p)) == family for p in scores.paths])
        parts[family] = fold_scores(scores.labels, scores.log_odds, held_out, rule)
    return pool_folds(parts)


def calibrate_run(
    config: DetectJobConfig,
    run_dir: Path,
    checkpoint: Path,
    steps: CalibrationSteps,
    progress: bool = False,
    batch_size: int = 64,
    budgeted: bool = False,
) -> tuple[LoadedDetector, FoldOutcome]:
    """Calibrate a finished run's `checkpoint` on its validation split with `steps` and store
    the result in it, with held-out-family folds as `config.calibration.family_folds`, the data
    and the run's time budget (`budgeted`: fold runs would train past it) decide; the
    calibrated detector and how folds were used."""
    device = resolve_device(config.run.device)
    loaded = load_detector(checkpoint, device)
    prepared = prepare_evaluation_data(loaded, config.data, training_seed(loaded))
    train, val = (family_counts(prepared.samples(split)) for split in ("train", "val"))
    outcome = FoldOutcome(sorted(f for f in train | val if f))
    folds = None
    if len(outcome.families) >= 2:
        outcome.reason = folds_off_reason(
            config.calibration.family_folds, train, val, is_frozen_probe(loaded.model),
            context_from_environment().enabled, budgeted,
        )  # fmt: skip
        if not outcome.reason:
            folds = _run_folds(config, prepared, outcome, run_dir, steps.rule, progress,
                               batch_size)
    elif config.calibration.family_folds is True:
        found = ", ".join(outcome.families) or "fake/"
        outcome.reason = f"one fake family ({found}): nothing to hold out"
    note = f"no held-out-family folds: {outcome.reason}" if outcome.reason else ""
    calibrate_loaded(loaded, prepared, replace(steps, note=note), device, batch_size,
                     checkpoint, folds)  # fmt: skip
    return loaded, outcome


def _run_folds(
    config: DetectJobConfig, prepared: PreparedData, outcome: FoldOutcome, run_dir: Path,
    rule: ThresholdRule, progress: bool, batch_size: int,
) -> FoldLogits:
    checkpoints = {f: train_fold(config, prepared, f, run_dir, progress)
                   for f in outcome.families}
    outcome.used, outcome.checkpoints = True, list(checkpoints.values())
    return fold_logits(checkpoints, prepared, rule, config.run.device, batch_size)

