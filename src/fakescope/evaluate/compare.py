"""Comparing detectors: every checkpoint of a folder evaluated on the same images, one table.

Models with different input specs get the data prepared once per spec, split with one seed, so
every model is measured on the same test images. A model that fails (an unreadable checkpoint, a
decoder error) is recorded in `failed` with its one-line reason and the others go on; the
caller's `on_update` sees the comparison after every model, so finished ones can be written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakescope.checkpoints import CheckpointError, checkpoint_kind
from fakescope.config import DataConfig
from fakescope.data.pipeline import PreparedData
from fakescope.data.transforms import InputSpec
from fakescope.errors import failure_line
from fakescope.evaluate.evaluate import Evaluation, evaluate_loaded, metrics_csv, model_name
from fakescope.evaluate.options import EvalOptions
from fakescope.evaluate.scoring import prepare_evaluation_data, training_seed
from fakescope.models.registry import load_detector
from fakescope.reproducibility import resolve_device
from fakescope.runs import (
    BEST_CHECKPOINT,
    COMPARISON_FILE,
    LAST_CHECKPOINT,
    atomic_write_bytes,
    write_json,
)

TABLE_COLUMNS = (
    "accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "eer",
    "paper002_sensitivity", "paper002_specificity", "log_loss", "brier", "ece", "threshold",
)  # fmt: skip
# Step checkpoints hold a training state to resume from, not a model to compare.
_RESUME_STATE_PREFIX = "ckpt-"


@dataclass
class Comparison:
    split: str
    evaluations: list[Evaluation] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # path, reason
    failed: list[dict[str, str]] = field(default_factory=list)  # path, error (one line)

    def table(self) -> list[dict[str, Any]]:
        """One row per model with the headline metrics and whether its threshold and
        probabilities were calibrated (an uncalibrated row's threshold is the training default,
        so its accuracy, ECE and verdicts are not comparable with the calibrated rows')."""
        return [
            {"model": e.model, "calibrated": is_calibrated(e),
             **{c: e.metrics.get(c) for c in TABLE_COLUMNS}}
            for e in self.evaluations
        ]  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "evaluations": [e.to_dict() for e in self.evaluations],
            "skipped": self.skipped,
            "failed": self.failed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        return cls(
            split=data["split"],
            evaluations=[Evaluation.from_dict(e) for e in data["evaluations"]],
            skipped=list(data.get("skipped", [])),
            failed=list(data.get("failed", [])),
        )


def find_checkpoints(
    folder: str | Path, pattern: str | None = None
) -> tuple[list[Path], list[dict[str, str]]]:
    """Detector checkpoints matching `pattern` under `folder` (recursively, sorted), and the
    files passed over with the reason: other kinds (GAN states), resume states, unreadable.

    With no `pattern`, a run's checkpoints/ folder gives one model: its best.pt, or its last.pt
    when the run wrote no best.pt (a `skipped` entry for the missing best.pt says so)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder of checkpoints")
    found: list[Path] = []
    skipped: list[dict[str, str]] = []
    for path in sorted(folder.rglob(pattern or "*.pt")):
        if path.name.startswith(_RESUME_STATE_PREFIX):
            skipped.append({"path": str(path), "reason": "a training state to resume from"})
            continue
        try:
            kind = checkpoint_kind(path)
        except CheckpointError as err:
            skipped.append({"path": str(path), "reason": str(err)})
            continue
        if kind == "detector":
            found.append(path)
        else:
            skipped.append({"path": str(path), "reason": f"a '{kind}' checkpoint, not a detector"})
    return (found, skipped) if pattern else _best_of_each_run(found, skipped)


def _best_of_each_run(
    found: list[Path], skipped: list[dict[str, str]]
) -> tuple[list[Path], list[dict[str, str]]]:
    """Of each run's checkpoints/ folder only best.pt, else last.pt; other folders keep all."""
    by_folder: dict[Path, list[Path]] = {}
    for path in found:
        by_folder.setdefault(path.parent, []).append(path)
    chosen: list[Path] = []
    for folder, paths in by_folder.items():
        names = {p.name: p for p in paths}
        if folder.name == "checkpoints" and BEST_CHECKPOINT in names:
            chosen.append(names[BEST_CHECKPOINT])
        elif folder.name == "checkpoints" and LAST_CHECKPOINT in names:
            chosen.append(names[LAST_CHECKPOINT])
            skipped.append({"path": str(folder / BEST_CHECKPOINT),
                            "reason": f"not written by this run; its {LAST_CHECKPOINT} is "
                                      "scored instead"})
        else:
            chosen += paths
    return chosen, skipped


def _unique_names(checkpoints: Sequence[Path]) -> list[str]:
    names = [model_name(c) for c in checkpoints]
    if len(set(names)) == len(names):
        return names
    return [str(c.with_suffix("")) for c in checkpoints]


def compare_checkpoints(
    checkpoints: Sequence[str | Path],
    data: DataConfig,
    options: EvalOptions | None = None,
    on_update: Callable[[Comparison], None] = lambda comparison: None,
) -> Comparison:
    """Evaluate each checkpoint at its stored threshold on the same `options.split` of `data`.

    `options.seed` splits the data; by default the first checkpoint's training seed. A
    checkpoint that fails is recorded in `failed`; `on_update` runs after each checkpoint.
    """
    if not checkpoints:
        raise ValueError("no detector checkpoints to compare")
    options = options or EvalOptions()
    seed = options.seed
    paths = [Path(c) for c in checkpoints]
    torch_device = resolve_device(options.device)
    comparison = Comparison(split=options.split)
    prepared_by_spec: dict[InputSpec, PreparedData] = {}
    for path, name in zip(paths, _unique_names(paths), strict=True):
        try:
            loaded = load_detector(path, torch_device)
            if seed is None:
                seed = training_seed(loaded)
            if loaded.input_spec not in prepared_by_spec:
                prepared_by_spec[loaded.input_spec] = prepare_evaluation_data(
                    loaded, data, seed, options.progress
                )
            evaluation, _ = evaluate_loaded(
                loaded, prepared_by_spec[loaded.input_spec], options, torch_device,
                (str(path), name),
            )
        except Exception as err:  # one model's failure must not lose the others' results
            comparison.failed.append({"path": str(path), "error": failure_line(err)})
        else:
            comparison.evaluations.append(evaluation)
        on_update(comparison)
    return comparison


def write_comparison(comparison: Comparison, out_dir: Path) -> list[Path]:
    """comparison.json (everything, for reports) and comparison.csv (the table)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out_dir / COMPARISON_FILE, out_dir / "comparison.csv"
    write_json(json_path, comparison.to_dict())
    atomic_write_bytes(csv_path, metrics_csv(comparison.evaluations))
    return [json_path, csv_path]


def read_comparison(path: Path) -> Comparison:
    return Comparison.from_dict(json.loads(path.read_text()))


def is_calibrated(evaluation: Evaluation) -> bool:
    """Whether the checkpoint's temperature or threshold was fitted on data (not defaults)."""
    calibration = evaluation.calibration or {}
    fitted = calibration.get("method", "none") != "none" or calibration.get("band_low") is not None
    return fitted or evaluation.threshold_source != "checkpoint"


def best_by(table: list[dict[str, Any]], metric: str = "roc_auc") -> dict[str, Any]:
    """The row of a comparison table with the highest `metric`, calibrated rows first (accuracy
    breaks ties; a missing value ranks last)."""
    return max(table, key=lambda r: (r.get("calibrated", True), r.get(metric) or -1.0,
                                     r.get("accuracy") or -1.0))
