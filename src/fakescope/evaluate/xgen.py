"""Cross-generator evaluation: score detectors trained on some generator families on every
family. `fakescope.workflows.xgen` trains the runs and fills the matrix with `score_cells`.

The set is one `fakescope data multigen` built (its manifest.csv gives each image's family and
split). Each run is scored on the held-out test reals together with the held-out test fakes of
each family in turn: ROC-AUC and average precision
(from the log-odds, which calibration cannot tie), accuracy at the stored threshold and ECE (from
the calibrated probabilities) per cell, clean and on JPEG-, blur- and
resize-degraded copies (`fakescope.evaluate.corruptions`). Beside them, the trust figures of
the checkpoint's verdicts (its stored uncertain band, `Calibration.verdict`): the share of the
cell's fakes called real with confidence (below the band), the share of all its images sent to
`uncertain` (inside the band), and the accuracy on the images left (selective accuracy).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata

from fakescope.data.multigen_set import MANIFEST_CSV, REAL_FAMILY
from fakescope.evaluate.choices import XGEN_CONDITIONS, XGEN_MODES
from fakescope.evaluate.corruptions import perturbation
from fakescope.evaluate.options import EvalOptions, xgen_options
from fakescope.formatting import format_value
from fakescope.metrics import binary_metrics, ranking_metrics

MODES = XGEN_MODES
TRUST_METRICS = ("fakes_called_real", "uncertain", "selective_accuracy")
CELL_METRICS = ("roc_auc", "average_precision", "accuracy", "ece", *TRUST_METRICS)
CONDITIONS = XGEN_CONDITIONS


@dataclass
class XgenSpec:
    set_dir: Path
    detectors: list[str]  # preset names (fakescope/presets/) or registry names
    out: Path
    modes: list[str] = field(default_factory=lambda: ["single"])
    train_families: list[str] | None = None  # families to train on / hold out; None: all
    overrides: list[str] = field(default_factory=list)  # --set for every detector run
    epochs: int | None = None  # train.epochs of every run (None: each detector's own)
    minutes: float | None = None  # train.max_minutes of every run (None: each detector's own)
    # Device, batch size, progress, the seed (of the training runs and the split), the
    # calibration fitted after each run (it needs a rule) and the test conditions.
    options: EvalOptions = field(default_factory=xgen_options)

    @property
    def conditions(self) -> list[str]:
        return list(self.options.conditions or CONDITIONS)

    @property
    def seed(self) -> int:
        return 0 if self.options.seed is None else self.options.seed


@dataclass
class Entry:
    path: str  # absolute
    label: int
    split: str
    family: str


@dataclass
class XgenResult:
    set_dir: str
    families: list[str]
    conditions: list[str]
    threshold_rule: str
    cells: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> XgenResult:
        return cls(**{k: v for k, v in data.items() if k != "summary"})

    def summary(self) -> list[dict[str, Any]]:
        """Per detector, training set and condition: means over unseen and seen families."""
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for cell in self.cells:
            groups.setdefault((cell["detector"], cell["train_set"], cell["condition"]), []).append(
                cell
            )
        rows = []
        for (detector, train_set, condition), cells in groups.items():
            row: dict[str, Any] = {"detector": detector, "train_set": train_set,
                                   "condition": condition}
            for kind, seen in (("unseen", False), ("seen", True)):
                chosen = [c for c in cells if c["seen"] is seen]
                for metric in CELL_METRICS:  # cells of older files lack the trust figures
                    row[f"{kind}_{metric}"] = _mean([c.get(metric) for c in chosen])
            rows.append(row)
        return rows


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(kept)) if kept else None


def read_set(set_dir: Path) -> list[Entry]:
    """The images of a multigen set with their labels, splits and families."""
    manifest = set_dir / MANIFEST_CSV
    if not manifest.is_file():
        raise FileNotFoundError(
            f"{manifest} not found: build the set first with `fakescope data multigen`"
        )
    with manifest.open(newline="") as handle:
        return [
            Entry(str((set_dir / row["path"]).resolve()), int(row["label"] == "fake"),
                  row["split"], row["family"])
            for row in csv.DictReader(handle)
        ]


def trust_metrics(labels: np.ndarray, verdicts: Sequence[str]) -> dict[str, float | None]:
    """Fakes called real with confidence (their share of the fakes), images sent to
    `uncertain` (their share of all) and accuracy on the images with a real/fake verdict;
    None where a share has no images to count."""
    said = np.asarray(verdicts)
    fakes, decided = labels == 1, said != "uncertain"
    called = np.where(said == "fake", 1, 0)
    return {
        "fakes_called_real": float(np.mean(said[fakes] == "real")) if fakes.any() else None,
        "uncertain": float(np.mean(~decided)) if len(said) else None,
        "selective_accuracy": (float(np.mean(called[decided] == labels[decided]))
                               if decided.any() else None),
    }


def safe_name(name: str) -> str:
    """A folder/file name for a detector (a preset path gives its stem) or condition."""
    base = Path(name).stem if name.endswith((".yaml", ".yml")) else name
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in base)


def _ranks(values: np.ndarray) -> np.ndarray:
    """Scores in [0, 1] in the order of `values`, ties kept as ties."""
    return (rankdata(values) - 1) / max(len(values) - 1, 1)


def _perturb(condition: str, seed: int) -> Callable[[torch.Tensor, int], torch.Tensor] | None:
    corruption = CONDITIONS[condition]
    if corruption is None:
        return None
    return perturbation(*corruption, seed)


def score_cells(
    spec: XgenSpec, checkpoint: Path, test_csv: Path, entries: Sequence[Entry],
    families: Sequence[str], seen: Sequence[str],
) -> list[dict[str, Any]]:
    """One cell per condition and test family: held-out reals + that family's held-out fakes."""
    from fakescope.evaluate.scoring import (
        evaluation_data_config,
        prepare_evaluation_data,
        score_split,
        scoring_path,
    )
    from fakescope.models.registry import load_detector
    from fakescope.reproducibility import resolve_device

    device, batch_size = resolve_device(spec.options.device), spec.options.batch_size
    loaded = load_detector(checkpoint, device)
    data = evaluation_data_config(loaded, str(test_csv), cache_dir=str(spec.out / ".cache"))
    prepared = prepare_evaluation_data(loaded, data, spec.seed)
    family_of = {e.path: e.family for e in entries}
    path = scoring_path(loaded, prepared, "test", device, batch_size, len(spec.conditions))
    cells = []
    for condition in spec.conditions:
        scores = score_split(loaded, prepared, "test", device, batch_size,
                             _perturb(condition, spec.seed), spec.options.progress,
                             forward=path.model)
        of = np.array([family_of[str(Path(p).resolve())] for p in scores.paths])
        verdicts = np.array([loaded.calibration.verdict(float(p), loaded.threshold)
                             for p in scores.probs])
        for family in families:
            mask = (of == REAL_FAMILY) | (of == family)
            metrics = binary_metrics(scores.labels[mask], scores.probs[mask], loaded.threshold)
            # Ranking metrics from the raw log-odds: a temperature keeps their order, but
            # probabilities it sharpens can round to exactly 0 or 1 and tie.
            assert scores.log_odds is not None  # score_split always keeps them
            metrics.update(ranking_metrics(scores.labels[mask], _ranks(scores.log_odds[mask])))
            metrics.update(trust_metrics(scores.labels[mask], verdicts[mask]))
            cells.append({
                "condition": condition, "test_family": family, "seen": family in seen,
                **{m: metrics.get(m) for m in CELL_METRICS},
                "n_real": metrics["n_real"], "n_fake": metrics["n_fake"],
                "threshold": loaded.threshold,
            })  # fmt: skip
    return cells


def xgen_markdown(result: XgenResult) -> str:
    """A summary table, then per condition and metric a matrix (rows: detector and training
    set, columns: test family; * marks a family the detector trained on)."""
    lines = [
        "| detector | trained on | condition | unseen ROC-AUC | unseen AP | unseen accuracy | "
        "unseen ECE | unseen fakes called real | uncertain (unseen cells) | selective accuracy "
        "(unseen) | seen ROC-AUC | seen accuracy | seen ECE |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result.summary():
        lines.append(
            f"| {row['detector']} | {row['train_set']} | {row['condition']} | "
            + " | ".join(format_value(row[k]) for k in (
                "unseen_roc_auc", "unseen_average_precision", "unseen_accuracy", "unseen_ece",
                "unseen_fakes_called_real", "unseen_uncertain", "unseen_selective_accuracy",
                "seen_roc_auc", "seen_accuracy", "seen_ece"))
            + " |"
        )
    for condition in result.conditions:
        for metric in CELL_METRICS:
            lines += ["", f"**{metric}, {condition}** (* = a family seen in training)", "",
                      "| detector | trained on | " + " | ".join(result.families) + " |",
                      "|---|---|" + "---|" * len(result.families)]
            for run in result.runs:
                if "error" in run:
                    lines.append(f"| {run['detector']} | {run['train_set']} | failed: "
                                 f"{run['error']} |")
                    continue
                cells = {c["test_family"]: c for c in result.cells
                         if c["detector"] == run["detector"] and c["train_set"] == run["train_set"]
                         and c["condition"] == condition}
                values = [format_value(cells[f].get(metric)) + ("*" if cells[f]["seen"] else "")
                          for f in result.families]
                lines.append(f"| {run['detector']} | {run['train_set']} | "
                             + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"
