"""The cross-generator matrix's runs: train each detector on each training set, then score it.

    result = run_xgen(XgenSpec(set_dir=Path("multigen"), detectors=["npr_cnn"], out=Path("x")))
    write_xgen(result, Path("x"))        # xgen.json, xgen.md, xgen_<condition>.png

For each detector and each training set (one family alone, or all families but one), a run
trains on that set's training reals and fakes and fits its calibration and threshold on the
set's validation split (only families it has seen); `fakescope.evaluate.xgen` then scores it
on every family. A training set mixing several families takes an equal share of each, so that
it has as many fakes as a single-family set. A run whose checkpoint already holds a calibration
is reused.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fakescope.checkpoints import load_checkpoint
from fakescope.config import ConfigError, given, load_config, resolve_preset, with_flags
from fakescope.data.multigen_set import REAL_FAMILY
from fakescope.errors import UnknownNameError, failure_line
from fakescope.evaluate.evaluate import CalibrationSteps, calibrate_checkpoint
from fakescope.evaluate.xgen import (
    CONDITIONS,
    MODES,
    Entry,
    XgenResult,
    XgenSpec,
    read_set,
    safe_name,
    score_cells,
)
from fakescope.formatting import csv_bytes
from fakescope.runs import BEST_CHECKPOINT, atomic_write_bytes

if TYPE_CHECKING:
    from fakescope.detect.config import DetectJobConfig


def training_sets(families: Sequence[str], modes: Sequence[str],
                  chosen: Sequence[str] | None) -> list[tuple[str, list[str]]]:
    """(name, families trained on): `dcgan` for one family, `all-but-dcgan` for the rest."""
    for mode in modes:
        if mode not in MODES:
            raise ConfigError(f"unknown mode '{mode}' (choose from {', '.join(MODES)})")
    pivots = list(chosen) if chosen else list(families)
    missing = [f for f in pivots if f not in families]
    if missing:
        raise ConfigError(f"families {missing} are not in the set (it has {', '.join(families)})")
    sets: list[tuple[str, list[str]]] = []
    if "single" in modes:
        sets += [(f, [f]) for f in pivots]
    if "loo" in modes:
        if len(families) < 2:
            raise ConfigError("leave-one-out needs at least two families")
        sets += [(f"all-but-{f}", [g for g in families if g != f]) for f in pivots]
    return sets


def _csv(entries: Sequence[Entry]) -> bytes:
    return csv_bytes(("path", "label", "split"),
                     ({"path": e.path, "label": "fake" if e.label else "real", "split": e.split}
                      for e in entries))


def training_entries(entries: Sequence[Entry], seen: Sequence[str]) -> list[Entry]:
    """Train and val reals, plus an equal share of each seen family's train and val fakes."""
    chosen = [e for e in entries if e.family == REAL_FAMILY and e.split != "test"]
    for split in ("train", "val"):
        for family in seen:
            fakes = [e for e in entries if e.family == family and e.split == split]
            chosen += fakes[: math.ceil(len(fakes) / len(seen))]
    return chosen


def detector_config(name: str) -> DetectJobConfig:
    """A detector's job config: its preset (a built-in name or a YAML path) if there is one,
    else the defaults with that registered model."""
    from fakescope.detect.config import DetectJobConfig
    from fakescope.models.registry import list_detectors

    try:
        preset = resolve_preset(name)
    except ConfigError:
        if name not in list_detectors():
            raise UnknownNameError(
                f"'{name}' is neither a preset nor a registered detector "
                f"({', '.join(list_detectors())})"
            ) from None
        defaults = DetectJobConfig()
        return replace(defaults, model=replace(defaults.model, name=name))
    return load_config(DetectJobConfig, str(preset))


def run_config(spec: XgenSpec, detector: str, set_name: str, data_csv: Path) -> DetectJobConfig:
    """One run's config: the detector's, this run's data and folder, the spec's `--set`
    strings, then its epochs and time budget (which must agree with a `--set` of the same)."""
    base = detector_config(detector)
    placed = replace(
        base,
        data=replace(base.data, path=str(data_csv), cache_dir=str(spec.out / ".cache")),
        run=replace(base.run, root=str(spec.out / "runs" / safe_name(detector)), name=set_name,
                    seed=spec.seed, device=spec.options.device),
    )  # fmt: skip

    def budget(c: DetectJobConfig) -> DetectJobConfig:
        t = c.train
        return replace(c, train=replace(t, epochs=given(spec.epochs, t.epochs),
                                        max_minutes=given(spec.minutes, t.max_minutes)))

    return with_flags(placed, spec.overrides, budget)


def train_run(spec: XgenSpec, detector: str, set_name: str, data_csv: Path) -> Path:
    """Train (or reuse) one detector run and store its calibration and threshold; its best.pt."""
    from fakescope.detect.train import train_detector

    run_dir = spec.out / "runs" / safe_name(detector) / set_name
    best = run_dir / "checkpoints" / BEST_CHECKPOINT
    if best.is_file() and "calibration" in load_checkpoint(best):
        return best
    config = run_config(spec, detector, set_name, data_csv)
    result = train_detector(config, resume=run_dir.is_dir(), progress=spec.options.progress)
    # Stored: the scoring reads it back, and a calibrated checkpoint marks the run done.
    calibrate_checkpoint(result.best_checkpoint, config.data, _calibration_steps(spec),
                         spec.options.device, spec.options.batch_size)
    return result.best_checkpoint


def _calibration_steps(spec: XgenSpec) -> CalibrationSteps:
    """Each run's calibration: it needs a rule, and is stored (the scoring reads it back)."""
    steps = CalibrationSteps.from_options(spec.options.calibration)
    if steps is None:
        raise ConfigError("xgen needs a threshold rule (calibration.rule) to calibrate each run")
    if not spec.options.calibration.store:
        raise ConfigError("calibration.store: xgen always stores each run's calibration (its "
                          "scoring reads it back)")
    return steps


def run_xgen(
    spec: XgenSpec, on_update: Callable[[XgenResult], object] = lambda result: None
) -> XgenResult:
    """Train every detector on every training set and fill the matrix. A (detector, training
    set) run that fails gets its one-line `error` in `runs` and the others go on; `on_update`
    sees the result after every run, so finished ones can be written."""
    from fakescope.detect.train import TrainingInterrupted

    if not spec.detectors:
        raise ConfigError("no detectors given")
    steps = _calibration_steps(spec)
    unknown = [c for c in spec.conditions if c not in CONDITIONS]
    if unknown:
        raise ConfigError(f"unknown conditions {unknown} (choose from {', '.join(CONDITIONS)})")
    for detector in spec.detectors:  # a bad name, preset or --set fails before any training
        run_config(spec, detector, "check", spec.out / "check.csv")
    entries = read_set(spec.set_dir)
    families = list(dict.fromkeys(e.family for e in entries if e.family != REAL_FAMILY))
    sets = training_sets(families, spec.modes, spec.train_families)
    result = XgenResult(str(spec.set_dir), families, spec.conditions,
                        f"{steps.rule} on {steps.split}")
    data_dir = spec.out / "sets"
    test_csv = data_dir / "test.csv"
    atomic_write_bytes(test_csv, _csv([e for e in entries if e.split == "test"]))
    for set_name, seen in sets:
        data_csv = data_dir / f"{set_name}.csv"
        atomic_write_bytes(data_csv, _csv(training_entries(entries, seen)))
        for detector in spec.detectors:
            run: dict[str, Any] = {"detector": detector, "train_set": set_name, "seen": seen}
            try:
                checkpoint = train_run(spec, detector, set_name, data_csv)
                run["checkpoint"] = str(checkpoint)
                cells = score_cells(spec, checkpoint, test_csv, entries, families, seen)
            except TrainingInterrupted:  # Ctrl-C or SIGTERM stops the matrix, not one run
                raise
            except Exception as err:  # this run's row says why; the other runs stand
                run["error"] = failure_line(err)
                cells = []
            result.runs.append(run)
            result.cells += [{"detector": detector, "train_set": set_name, **c} for c in cells]
            on_update(result)
    return result


