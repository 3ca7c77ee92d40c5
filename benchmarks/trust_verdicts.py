"""Verdicts on generators a detector never saw: calibration on clean validation images alone
against calibration with shifted copies, a minimum band and the training-data check.

    python benchmarks/trust_verdicts.py --set-dir SET --out DIR [--families dcgan,small_data]
                                        [--loo]

SET is a `fakescope data multigen` set. For each training family, one detector run (the
recommended `lite0_probe` preset unless --detector says otherwise) trains on the set's training
reals and that family's fakes, exactly as `fakescope xgen --mode single` trains it; with --loo,
on all of them but that one instead (`xgen --mode loo`; the content-matched families are never
trained on either way). Then, from the
same checkpoint and the same scores, three calibrations are fitted on its validation split:

    clean     temperature, `fpr:0.05` threshold and band on the clean validation images (what
              `eval --calibrate-threshold` did before the offset, shifted copies, the minimum
              band and the training-data check existed)
    anchored  the same with the offset that puts P(fake) = 0.5 at the threshold
    current   what `eval` and `train` fit now: the offset, temperature and band also on blurred,
              JPEG-compressed and halved copies, the band at least 1 log-odds either side of the
              threshold, and pictures beyond the feature-density limit sent to "uncertain"

With --folds, a fourth calibration for every run trained on two or more families:

    folds     `calibration.family_folds`: one fold run per training family
              (`fakescope.workflows.family_folds`, the same preset on the run's images without
              that family's fakes); temperature and band fitted on the fold models' scores of
              their held-out family's validation fakes and the validation reals, plus the
              shifted copies; offset and threshold as in current

and every family's held-out test fakes are scored with the held-out test reals. Per cell it
reports ROC-AUC (from the log-odds), accuracy at the threshold and ECE (15 bins), the share of
fakes called real outside the band (confidently wrong), the share of all images sent to
"uncertain", and the accuracy on the images that got a verdict (selective accuracy), plus
ROC-AUC after blur sigma 1 and 0.5x resize. Families named in --content-families (by default
`autoencoder`: real content, generated pixels) are summarised apart from the GAN families.
Writes trust_verdicts.json and prints a Markdown summary.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from fakescope.config import override_settings
from fakescope.data.multigen_set import REAL_FAMILY
from fakescope.detect.config import DetectJobConfig
from fakescope.detect.train import train_detector
from fakescope.evaluate.calibrate import BandTargets, fit_calibration
from fakescope.evaluate.choices import REAL_ANCHORED_RULE
from fakescope.evaluate.corruptions import perturbation
from fakescope.evaluate.evaluate import SHIFTS_TEXT, shifted_log_odds
from fakescope.evaluate.feature_density import fit_density, split_features
from fakescope.evaluate.scoring import (
    evaluation_data_config,
    prepare_evaluation_data,
    score_split,
)
from fakescope.evaluate.threshold import ThresholdRule
from fakescope.evaluate.xgen import Entry, read_set
from fakescope.formatting import csv_bytes
from fakescope.metrics import expected_calibration_error
from fakescope.models.calibration import Calibration
from fakescope.models.registry import load_detector
from fakescope.runs import atomic_write_bytes
from fakescope.workflows.family_folds import fold_logits, train_fold
from fakescope.workflows.xgen import detector_config, training_entries

VARIANTS = ("clean", "anchored", "current", "folds")
CONDITIONS = {"clean": None, "blur1": ("blur", 1.0), "resize0.5": ("downscale", 0.5)}


def entries_csv(path: Path, entries: list[Entry]) -> Path:
    rows = ({"path": e.path, "label": "fake" if e.label else "real", "split": e.split}
            for e in entries)
    atomic_write_bytes(path, csv_bytes(("path", "label", "split"), rows))
    return path


def train(args: argparse.Namespace, name: str, data_csv: Path) -> tuple[DetectJobConfig, Path]:
    """One run on the training reals and one training set's fakes (reused when trained)."""
    run_dir = args.out / "runs" / name
    best = run_dir / "checkpoints" / "best.pt"
    base = detector_config(args.detector)
    config = override_settings(replace(
        base,
        data=replace(base.data, path=str(data_csv), cache_dir=str(args.out / ".cache")),
        run=replace(base.run, root=str(run_dir.parent), name=name, seed=args.seed, device="cpu"),
    ), args.set)  # fmt: skip
    if best.is_file():
        return config, best
    return config, train_detector(config, resume=run_dir.is_dir(), progress=False).best_checkpoint


def verdicts(probs: np.ndarray, calibration: Calibration, threshold: float,
             unlike: np.ndarray) -> np.ndarray:
    """0 real, 1 fake, -1 uncertain: by the band, and uncertain wherever `unlike`."""
    low, high = calibration.band(threshold)
    out = np.where(probs >= high, 1, np.where(probs < low, 0, -1))
    return np.where(unlike, -1, out)


def cell(labels: np.ndarray, log_odds: np.ndarray, calibration: Calibration, threshold: float,
         unlike: np.ndarray) -> dict[str, float | None]:
    probs = calibration.probability(log_odds)
    said = verdicts(probs, calibration, threshold, unlike)
    decided = said >= 0
    fakes = labels == 1
    return {
        "roc_auc": float(roc_auc_score(labels, log_odds)),
        "accuracy": float(np.mean((probs >= threshold) == fakes)),
        "ece": float(expected_calibration_error(labels, probs, 15)),
        "fakes_called_real": float(np.mean(said[fakes] == 0)),
        "reals_called_fake": float(np.mean(said[~fakes] == 1)),
        "uncertain_share": float(np.mean(~decided)),
        "selective_accuracy": (float(np.mean(said[decided] == labels[decided]))
                               if decided.any() else None),
    }


def measure_run(args: argparse.Namespace, seen: list[str], config: DetectJobConfig,
                checkpoint: Path, train_csv: Path, test_csv: Path,
                family_of: dict[str, str]) -> list[dict[str, Any]]:
    device = torch.device("cpu")
    loaded = load_detector(checkpoint, device)
    cache = str(args.out / ".cache")
    own = prepare_evaluation_data(
        loaded, evaluation_data_config(loaded, str(train_csv), cache_dir=cache), args.seed)
    test = prepare_evaluation_data(
        loaded, evaluation_data_config(loaded, str(test_csv), cache_dir=cache), args.seed)
    val = score_split(loaded, own, "val", device)
    assert val.log_odds is not None
    rule = ThresholdRule.parse(REAL_ANCHORED_RULE)
    shifted = (*shifted_log_odds(loaded, own, "val", device, 64), SHIFTS_TEXT)
    fitted = {
        "clean": fit_calibration(val.labels, val.log_odds, "val", BandTargets(), rule,
                                 min_band=0.0, anchor=False),
        "anchored": fit_calibration(val.labels, val.log_odds, "val", BandTargets(), rule,
                                    min_band=0.0),
        "current": fit_calibration(val.labels, val.log_odds, "val", BandTargets(), rule,
                                   shifted=shifted),
    }  # fmt: skip
    if args.folds and len(seen) >= 2:
        folds_started = time.process_time()
        checkpoints = {f: train_fold(config, own, f, checkpoint.parent.parent, False)
                       for f in sorted(seen)}
        folds = fold_logits(checkpoints, own, rule, "cpu")
        fitted["folds"] = fit_calibration(val.labels, val.log_odds, "val", BandTargets(), rule,
                                          shifted=shifted, folds=folds)
        print(f"fold runs and scoring: {time.process_time() - folds_started:.0f} CPU s "
              "(this process)", file=sys.stderr)
    density = fit_density(loaded, own, device)
    scored = {}
    for name, corruption in CONDITIONS.items():
        perturb = None if corruption is None else perturbation(*corruption)
        scored[name] = score_split(loaded, test, "test", device, perturb=perturb)
    base = scored["clean"]
    assert base.log_odds is not None
    distances = (density.distance(split_features(loaded, test, "test", device))
                 if density is not None else np.zeros(len(base.labels)))
    unlike = distances > density.limit if density is not None else np.zeros(len(distances), bool)
    of = np.array([family_of[str(Path(p).resolve())] for p in base.paths])
    rows = []
    for test_family in sorted(set(of) - {REAL_FAMILY}):
        mask = (of == REAL_FAMILY) | (of == test_family)
        y, z = base.labels[mask], base.log_odds[mask]
        row: dict[str, Any] = {"train_families": seen, "test_family": test_family,
                               "seen": test_family in seen}
        for variant, (calibration, threshold) in fitted.items():
            flagged = (unlike[mask] if variant in ("current", "folds")
                       else np.zeros(mask.sum(), bool))
            row[variant] = cell(y, z, calibration, threshold, flagged)
            row[variant]["temperature"] = calibration.temperature
        for name in ("blur1", "resize0.5"):
            other = scored[name]
            assert other.log_odds is not None
            row[f"roc_auc_{name}"] = float(roc_auc_score(other.labels[mask], other.log_odds[mask]))
            # verdicts on the degraded copies, by the band alone (features not re-read)
            for variant, (calibration, threshold) in fitted.items():
                row[f"{variant}_{name}"] = cell(other.labels[mask], other.log_odds[mask],
                                                calibration, threshold, np.zeros(mask.sum(), bool))
        row["unlike_share_reals"] = float(np.mean(unlike[of == REAL_FAMILY]))
        row["unlike_share_fakes"] = float(np.mean(unlike[of == test_family]))
        rows.append(row)
    return rows


def _mean(rows: list[dict[str, Any]], *keys: str) -> float | None:
    values = []
    for row in rows:
        value: Any = row
        for key in keys:
            value = value[key]
        if value is not None and math.isfinite(value):
            values.append(value)
    return float(np.mean(values)) if values else None


def summary(rows: list[dict[str, Any]], content: set[str]) -> str:
    unseen = [r for r in rows if not r["seen"]]
    groups = {
        "unseen GAN families": [r for r in unseen if r["test_family"] not in content],
        "unseen content-matched families": [r for r in rows if r["test_family"] in content],
        "seen family": [r for r in rows if r["seen"]],
    }
    metrics = ("roc_auc", "accuracy", "ece", "fakes_called_real", "reals_called_fake",
               "uncertain_share", "selective_accuracy")
    lines = ["| cells | calibration | " + " | ".join(metrics) + " | ROC-AUC blur 1 | "
             "ROC-AUC resize 0.5 |", "|---|---|" + "---|" * (len(metrics) + 2)]
    for name, chosen in groups.items():
        if not chosen:
            continue
        for variant in [v for v in VARIANTS if v in chosen[0]]:
            values = [_mean(chosen, variant, m) for m in metrics]
            values += [_mean(chosen, "roc_auc_blur1"), _mean(chosen, "roc_auc_resize0.5")]
            text = " | ".join("-" if v is None else f"{v:.3f}" for v in values)
            lines.append(f"| {name} ({len(chosen)}) | {variant} | {text} |")
    degraded = ("accuracy", "fakes_called_real", "reals_called_fake", "uncertain_share",
                "selective_accuracy")
    lines += ["", "Degraded test images (verdicts by the band alone), unseen GAN families:", "",
              "| condition | calibration | " + " | ".join(degraded) + " |",
              "|---|---|" + "---|" * len(degraded)]
    for condition in ("blur1", "resize0.5"):
        for variant in [v for v in VARIANTS if f"{v}_{condition}" in rows[0]]:
            values = [_mean(groups["unseen GAN families"], f"{variant}_{condition}", m)
                      for m in degraded]
            text = " | ".join("-" if v is None else f"{v:.3f}" for v in values)
            lines.append(f"| {condition} | {variant} | {text} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--families", help="training families, comma-separated (default: every "
                        "family not in --content-families)")
    parser.add_argument("--content-families", default="autoencoder",
                        help="real-content families, never trained on, summarised apart")
    parser.add_argument("--detector", default="lite0_probe", help="preset or registry name")
    parser.add_argument("--loo", action="store_true",
                        help="train on all training families but one, for each in turn")
    parser.add_argument("--folds", action="store_true",
                        help="also fit the held-out-family fold calibration (fold runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every run (repeatable)")
    args = parser.parse_args(argv)
    started = time.time()
    entries = read_set(args.set_dir)
    content = set(args.content_families.split(",")) if args.content_families else set()
    families = list(dict.fromkeys(e.family for e in entries if e.family != REAL_FAMILY))
    chosen = args.families.split(",") if args.families else [f for f in families
                                                             if f not in content]
    family_of = {e.path: e.family for e in entries}
    test_csv = entries_csv(args.out / "sets" / "test.csv", [e for e in entries
                                                             if e.split == "test"])
    sets = ([(f"all-but-{f}", [g for g in chosen if g != f]) for f in chosen] if args.loo
            else [(f, [f]) for f in chosen])
    rows = []
    for name, seen in sets:
        train_csv = entries_csv(args.out / "sets" / f"{name}.csv",
                                training_entries(entries, seen))
        config, checkpoint = train(args, name, train_csv)
        rows += measure_run(args, seen, config, checkpoint, train_csv, test_csv, family_of)
        print(f"{name}: done at {time.time() - started:.0f} s", file=sys.stderr)
    result = {"set_dir": str(args.set_dir), "detector": args.detector, "families": chosen,
              "loo": args.loo, "folds": args.folds, "overrides": args.set, "rows": rows,
              "seconds": time.time() - started, "cpu_seconds": time.process_time()}
    (args.out / "trust_verdicts.json").write_text(json.dumps(result, indent=2) + "\n")
    print(summary(rows, content))
    return 0


if __name__ == "__main__":
    sys.exit(main())
