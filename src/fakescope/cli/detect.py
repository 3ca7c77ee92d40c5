"""`fakescope train` and `fakescope search`: detector training and hyper-parameter search."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fakescope.cli.argtypes import device, positive_float, positive_int
from fakescope.cli.outputs import check_output_file
from fakescope.cli.training import BUDGET_RULE
from fakescope.config import ConfigError, given, load_with_flags
from fakescope.runs import require_checkpoint

if TYPE_CHECKING:  # the library loads inside the commands, so `--help` stays quick
    from fakescope.detect.config import DetectJobConfig
    from fakescope.detect.train import TrainResult
    from fakescope.evaluate.calibration_plan import BudgetedCalibration
    from fakescope.evaluate.threshold import ThresholdRule


_FAMILY_FOLDS: dict[str, Literal["auto"] | bool] = {"auto": "auto", "on": True, "off": False}


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="a preset name (fakescope/presets/) or a YAML path")
    parser.add_argument("--data", help="dataset folder (data.path)")
    parser.add_argument("--model", help="registered detector name (model.name)")
    parser.add_argument("--pretrained", help="none, imagenet or a weights file (model.pretrained)")
    parser.add_argument("--epochs", type=positive_int, help="train.epochs")
    parser.add_argument("--batch-size", type=positive_int, help="train.batch_size")
    parser.add_argument("--max-minutes", type=positive_float,
                        help="time budget (train.max_minutes); " + BUDGET_RULE)
    parser.add_argument("--device", type=device, help="auto, cpu, cuda or cuda:N (run.device)")
    parser.add_argument("--root", help="folder holding run folders (run.root)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key, e.g. --set train.lr=0.0005 (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train", help="train a real-vs-fake detector")
    _add_common(train)
    train.add_argument("--name", help="run folder name (run.name)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run's latest checkpoint instead of starting over")
    train.add_argument("--calibrate-threshold", default="fpr:0.05", metavar="RULE",
                       help="at the end, fit best.pt's temperature, threshold (eer, f1, "
                       "fpr:RATE, fixed:P), uncertain band and training-data check on the "
                       "validation split and store them (default: fpr:0.05)")
    train.add_argument("--no-calibration", action="store_true",
                       help="leave best.pt uncalibrated (threshold 0.5, no band); calibrate "
                       "later with `fakescope eval --calibrate-threshold`")
    train.add_argument("--family-folds", choices=sorted(_FAMILY_FOLDS),
                       help="fit the temperature and band on held-out-family fold runs, one per "
                       "fake/<family>/ folder (calibration.family_folds; default auto: on for "
                       "frozen-feature probes with two or more families)")
    train.set_defaults(handler=_train)

    search = subparsers.add_parser("search", help="search detector hyper-parameters with Optuna")
    _add_common(search)
    search.add_argument("--trials", type=positive_int,
                        help="trials to finish in total (search.trials)")
    search.add_argument("--storage", help="study database URL, e.g. sqlite:///s.db or "
                        "postgresql://user@host/db (search.storage)")
    search.add_argument("--sampler", choices=["random", "tpe"], help="search.sampler")
    search.add_argument("--study", help="study name (search.study)")
    search.add_argument("--out", help="where to write the best preset (search.preset_out)")
    search.set_defaults(handler=_search)


Flags = Callable[["DetectJobConfig"], "DetectJobConfig"]


def _load(args: argparse.Namespace, command_flags: Flags) -> DetectJobConfig:
    """The preset, `--set`, then the flags both commands share and then `command_flags`."""
    from fakescope.detect.config import DetectJobConfig
    from fakescope.models.pretrained import Pretrained

    pretrained = None if args.pretrained is None else Pretrained.parse(args.pretrained)

    def flags(c: DetectJobConfig) -> DetectJobConfig:
        m, t, r = c.model, c.train, c.run
        return command_flags(replace(
            c,
            data=replace(c.data, path=given(args.data, c.data.path)),
            model=replace(m, name=given(args.model, m.name),
                          pretrained=given(pretrained, m.pretrained)),
            train=replace(t, epochs=given(args.epochs, t.epochs),
                          batch_size=given(args.batch_size, t.batch_size),
                          max_minutes=given(args.max_minutes, t.max_minutes)),
            run=replace(r, device=given(args.device, r.device), root=given(args.root, r.root)),
        ))  # fmt: skip

    return load_with_flags(DetectJobConfig, args.config, args.overrides, flags)


def _progress(args: argparse.Namespace) -> bool:
    # Bars in a log too: a run redirected to a file still shows how far it is.
    return not args.quiet


def _train(args: argparse.Namespace) -> int:
    from fakescope.cli.training import log_lines
    from fakescope.detect.train import train_detector
    from fakescope.distributed import context_from_environment
    from fakescope.evaluate.calibration_plan import BudgetedCalibration
    from fakescope.evaluate.evaluate import CalibrationSteps
    from fakescope.evaluate.threshold import ThresholdRule
    from fakescope.training.budget import END_WORK_SHARE, process_start

    def flags(c: DetectJobConfig) -> DetectJobConfig:
        folds = c.calibration.family_folds
        if args.family_folds is not None:
            folds = _FAMILY_FOLDS[args.family_folds]
        return replace(c, run=replace(c.run, name=given(args.name, c.run.name)),
                       calibration=replace(c.calibration, family_folds=folds))

    config = _load(args, flags)
    rule = None if args.no_calibration else ThresholdRule.parse(args.calibrate_threshold)
    if args.resume:
        require_checkpoint(config.run.root, config.run.name)
    # The calibration at the end is part of the run, so of its time budget.
    minutes = config.train.max_minutes
    calibration = None if rule is None else BudgetedCalibration(
        CalibrationSteps(rule), END_WORK_SHARE * minutes * 60 if minutes else math.inf)
    with log_lines("fakescope.detect"):
        result = train_detector(config, resume=args.resume, progress=_progress(args),
                                started=process_start(config.train.budget_clock),
                                end_work=calibration.seconds if calibration else None)
    if not context_from_environment().is_main:  # under torchrun, rank 0 speaks for all
        return 0
    m = result.metrics
    print(f"run: {result.run.path}")
    print(f"stopped: {result.stop_reason} after {result.epochs_run} epochs; best epoch "
          f"{result.best_epoch}: val loss {m['val_loss']:.4f}, accuracy {m['val_accuracy']:.4f}, "
          f"F1 {m['val_f1']:.4f}, ROC-AUC {m['val_roc_auc']:.4f}")
    print(f"speed: {result.speed.describe()}, {m['images_per_second']:.1f} training images/s")
    if result.compile_report:
        print(f"torch.compile: {result.compile_report}")
    print(f"best: {result.best_checkpoint}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    with log_lines("fakescope.detect"):
        lines = _calibrate(result, config, rule, calibration, _progress(args))
    print("\n".join(lines))
    return 0


def _calibrate(
    result: TrainResult, config: DetectJobConfig, rule: ThresholdRule | None,
    calibration: BudgetedCalibration | None, progress: bool,
) -> list[str]:  # fmt: skip
    """Calibrate the run's best checkpoint on its validation split, as much of it as the time
    budget has left (`fakescope.evaluate.calibration_plan`), with held-out-family fold runs
    where `calibration.family_folds` says; lines on the outcome."""
    from fakescope.formatting import format_probability
    from fakescope.workflows.family_folds import calibrate_run

    checkpoint = result.best_checkpoint
    later = (f"`fakescope eval --checkpoint {checkpoint} --data {config.data.path} "
             f"--calibrate-threshold {rule or 'fpr:0.05'}`")
    if rule is None or calibration is None:
        return [f"uncalibrated (--no-calibration): calibrate with {later}"]
    plan = calibration.plan(result.seconds_left)
    if plan.steps is None:
        return [f"uncalibrated: the time budget has {result.seconds_left:.0f} s left and "
                f"calibrating on the validation split takes about {plan.cheapest_s:.0f} s; "
                f"calibrate with {later}"]
    loaded, folds = calibrate_run(config, result.run.path, checkpoint, plan.steps, progress,
                                  budgeted=math.isfinite(calibration.allowance_s))
    density = "a training-data check" if loaded.feature_density else "no training-data check"
    cut = (f" (cut to the time budget: {plan.cut}; the full calibration: {later})"
           if plan.cut else "")
    line = (f"calibrated on val ({rule}){cut}: threshold {format_probability(loaded.threshold)}, "
            f"temperature {loaded.calibration.temperature:.3g}, "
            f"{loaded.calibration.band_description(loaded.threshold)}; {density}; stored in "
            f"{checkpoint}")
    described = folds.describe()
    return [described, line] if described else [line]


def _search(args: argparse.Namespace) -> int:
    import optuna

    from fakescope.detect.search import run_search
    from fakescope.distributed import context_from_environment

    if context_from_environment().enabled:
        raise ConfigError("a search is not a torchrun job: start one `fakescope search` per "
                         "machine or GPU, all with the same --storage database")
    if args.quiet:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.out:
        check_output_file("--out", Path(args.out), [])

    def search_flags(c: DetectJobConfig) -> DetectJobConfig:
        s = c.search
        return replace(c, search=replace(
            s, trials=given(args.trials, s.trials), storage=given(args.storage, s.storage),
            sampler=given(args.sampler, s.sampler), study=given(args.study, s.study),
            preset_out=given(args.out, s.preset_out),
        ))  # fmt: skip

    config = _load(args, search_flags)
    result = run_search(config, progress=_progress(args))
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in sorted(result.best_params.items()))
    print(f"study '{result.study}' in {result.storage}: {result.trials_complete} complete, "
          f"{result.trials_pruned} pruned, {result.trials_failed} failed")
    print(f"best trial {result.best_trial}: {config.search.metric} = {result.best_value:.4f} "
          f"({params})")
    print(f"preset: {result.preset_path}")
    return 0
