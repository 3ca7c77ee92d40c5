"""`fakescope eval|compare|robustness|predict|report`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fakescope.cli.argtypes import count, device, output_folder, positive_int, seed
from fakescope.cli.errors import EXIT_CODES, SOME_INPUTS_FAILED
from fakescope.cli.eval_options import add_options_args, load_options, scoring_flags
from fakescope.cli.outputs import (
    add_row_outputs,
    check_output_file,
    refuse_data_files_as_inputs,
    row_output,
    write_rows,
)
from fakescope.config import ConfigError, DataConfig, given, parse_override
from fakescope.evaluate.options import EvalOptions
from fakescope.formatting import csv_text, format_probability, format_table

SUMMARY_METRICS = (
    "accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "eer",
    "sensitivity", "specificity", "paper002_sensitivity", "paper002_specificity",
    "log_loss", "brier", "ece",
)  # fmt: skip
SCAN_HINT_FILES = 5000  # beyond this, predict points to `fakescope scan`
# The options each command reads (top-level EvalOptions fields); a --set of another is refused.
SCORING = ("device", "batch_size", "seed", "progress", "split")
USES = {
    "eval": (*SCORING, "calibration", "provenance", "explain"),
    "compare": SCORING,
    "robustness": (*SCORING, "conditions"),
    "predict": ("device", "batch_size", "progress"),
}
def register(subparsers: argparse._SubParsersAction) -> None:
    evaluate = subparsers.add_parser(
        "eval", help="evaluate a detector checkpoint: metrics, curves, calibration, threshold"
    )
    evaluate.add_argument("--checkpoint", required=True, help="detector checkpoint (.pt)")
    _add_data(evaluate)
    evaluate.add_argument(
        "--calibrate-threshold", metavar="RULE",
        help="choose the threshold on --threshold-split: eer, f1, fpr:RATE or a number "
        "(calibration.rule)",
    )
    evaluate.add_argument("--threshold-split",
                          help="split the threshold is chosen on (calibration.split; default val)")
    evaluate.add_argument("--no-store", action="store_true",
                          help="use the calibrated threshold without storing it in the checkpoint")
    evaluate.add_argument("--no-calibration", action="store_true",
                          help="with --calibrate-threshold: fit no temperature (T = 1), choose "
                          "threshold and band on the raw probabilities")
    evaluate.add_argument("--max-fake-called-real", type=_rate, metavar="RATE",
                          help="uncertain band: at most this share of validation fakes below its "
                          "low end, called real (default 0.05)")
    evaluate.add_argument("--max-real-called-fake", type=_rate, metavar="RATE",
                          help="uncertain band: at most this share of validation reals at or above "
                          "its high end, called fake (default 0.05)")
    evaluate.add_argument("--no-shift", action="store_true",
                          help="with --calibrate-threshold: fit temperature and band on the clean "
                          "validation images only, not also on their blurred, JPEG and halved "
                          "copies")
    evaluate.add_argument("--no-uncertain-band", action="store_true",
                          help="with --calibrate-threshold: store no uncertain band (the verdict "
                          "is then the thresholded label)")
    evaluate.add_argument("--explain", type=count, metavar="N",
                          help="Grad-CAM overlays of the N images per class scored most wrongly")
    evaluate.add_argument("--out", type=output_folder,
                          help="output folder (default <run>/evaluation/<name>-<split>)")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.add_argument("--no-provenance", action="store_true",
                          help="do not count the provenance verdicts of the images per class")
    evaluate.set_defaults(handler=_evaluate)

    compare = subparsers.add_parser(
        "compare", help="evaluate every checkpoint of a folder, one table"
    )
    compare.add_argument("--models", required=True, nargs="+",
                         help="folder(s) searched for detector checkpoints, or checkpoint files")
    compare.add_argument("--glob", default=None,
                         help="checkpoint file pattern inside folders, e.g. '*.pt' for every "
                         "checkpoint (default: each run's best.pt, else its last.pt)")
    _add_data(compare)
    compare.add_argument("--out", type=output_folder,
                         help="output folder (default <first folder>/comparison)")
    compare.set_defaults(handler=_compare)

    robust = subparsers.add_parser(
        "robustness", help="re-evaluate under JPEG, blur, downscale and noise of rising strength"
    )
    robust.add_argument("--models", required=True, nargs="+",
                        help="detector checkpoint files, or folders searched for them")
    robust.add_argument("--glob", default="*.pt", help="checkpoint file pattern inside folders")
    robust.add_argument("--corruptions", nargs="+", metavar="KIND",
                        help="jpeg, blur, downscale, noise (default all)")
    _add_data(robust)
    robust.add_argument(
        "--out", type=output_folder,
        help="output folder (default <first model's run>/evaluation/robustness-<split>)"
    )
    robust.set_defaults(handler=_robustness)

    predict = subparsers.add_parser("predict", help="real or fake for image files, folders, globs",
                                    epilog=EXIT_CODES)
    predict.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or globs")
    predict.add_argument("--checkpoint", required=True, help="detector checkpoint (.pt)")
    add_row_outputs(predict, "rows")
    predict.add_argument("--face-crop", action="store_true", help="crop the largest face first")
    predict.add_argument("--explain", metavar="DIR", type=output_folder,
                         help="write a Grad-CAM overlay per image into DIR")
    predict.add_argument("--batch-size", type=positive_int, help="batch_size (default 32)")
    predict.add_argument("--device", type=device, help="auto, cpu, cuda or cuda:N (default auto)")
    predict.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                         help="auto (default): the checkpoint's ONNX export when it is current "
                         "and the device is the CPU, else PyTorch")
    predict.add_argument("--onnx-model", metavar="FILE",
                         help="run this ONNX export (e.g. the .int8.onnx one) instead of PyTorch")
    predict.add_argument("--quiet", action="store_true",
                         help="no progress bar (progress=false; default: a bar on a terminal)")
    predict.add_argument("--no-provenance", action="store_true",
                         help="skip the provenance columns (C2PA, generator metadata, camera "
                         "EXIF; see `fakescope provenance`)")
    add_options_args(predict, "device=cpu")
    predict.set_defaults(handler=_predict)

    report = subparsers.add_parser("report", help="one self-contained HTML page for a run folder")
    report.add_argument("run", help="run folder, or a folder of run folders")
    report.add_argument("--out", help="HTML file to write (default RUN/report/index.html)")
    report.set_defaults(handler=_report)


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= rate < 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share in [0, 1)")
    return rate


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="labelled dataset folder")
    parser.add_argument("--split", help="train, val, test or all (default test)")
    parser.add_argument("--layout", help="dataset layout (default: the training run's, else auto)")
    parser.add_argument("--face-crop", action=argparse.BooleanOptionalAction, default=None,
                        help="crop faces (default: as the checkpoint was trained)")
    parser.add_argument("--limit-per-class", type=positive_int,
                        help="evaluate at most N images per class")
    parser.add_argument("--cache-dir", help="decoded-image cache folder")
    parser.add_argument("--no-cache", action="store_true", help="decode images on the fly")
    parser.add_argument("--seed", type=seed,
                        help="split seed (default: the training run's, so its test split is used)")
    parser.add_argument("--batch-size", type=positive_int, help="default 64")
    parser.add_argument("--device", type=device, help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (progress=false)")
    add_options_args(parser)


def _options(
    args: argparse.Namespace, flags: Callable[[EvalOptions], EvalOptions] | None = None
) -> EvalOptions:
    """The command's EvalOptions: its --config, --set, the scoring flags, then `flags`."""
    scoring = scoring_flags(args)

    def apply(o: EvalOptions) -> EvalOptions:
        return flags(scoring(o)) if flags else scoring(o)

    # Bars in a log too: a run redirected to a file still shows how far it is.
    return load_options(args, apply, USES[args.command], EvalOptions(progress=True))


def _data_config(args: argparse.Namespace, checkpoint: Path) -> DataConfig:
    """The checkpoint's training data settings, pointed at --data, with the flags applied."""
    from fakescope.evaluate.scoring import evaluation_data_config
    from fakescope.models.registry import load_detector

    overrides: dict[str, Any] = {
        "layout": args.layout,
        "face_crop": args.face_crop,
        "limit_per_class": args.limit_per_class,
        "cache_dir": args.cache_dir,
        "cache": False if args.no_cache else None,
    }
    return evaluation_data_config(load_detector(checkpoint), args.data, **overrides)


def _checkpoints(
    models: Sequence[str], pattern: str | None
) -> tuple[list[Path], list[dict[str, str]]]:
    from fakescope.evaluate.compare import find_checkpoints

    found: list[Path] = []
    skipped: list[dict[str, str]] = []
    for item in map(Path, models):
        if item.is_dir():
            paths, passed = find_checkpoints(item, pattern)
            found += paths
            skipped += passed
        elif item.is_file():
            found.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such checkpoint file or folder")
    if not found:
        where = ", ".join(models)
        matching = f" matching '{pattern}'" if pattern else ""
        raise FileNotFoundError(f"no detector checkpoints{matching} in {where}")
    return found, skipped


def _eval_flags(args: argparse.Namespace) -> Callable[[EvalOptions], EvalOptions]:
    """eval's own flags, applied to the options."""
    def apply(o: EvalOptions) -> EvalOptions:
        c = o.calibration
        calibration = replace(
            c,
            rule=given(args.calibrate_threshold, c.rule),
            split=given(args.threshold_split, c.split),
            max_fake_called_real=given(args.max_fake_called_real, c.max_fake_called_real),
            max_real_called_fake=given(args.max_real_called_fake, c.max_real_called_fake),
            store=False if args.no_store else c.store,
            temperature=False if args.no_calibration else c.temperature,
            shift=False if args.no_shift else c.shift,
            band=False if args.no_uncertain_band else c.band,
        )
        return replace(o, calibration=calibration, explain=given(args.explain, o.explain),
                       provenance=False if args.no_provenance else o.provenance)
    return apply


def _fit_flags_given(args: argparse.Namespace) -> list[str]:
    """eval's flags that tune a fit and were given: without a threshold rule, nothing is fitted."""
    tuning = {"--threshold-split": args.threshold_split is not None, "--no-store": args.no_store,
              "--no-calibration": args.no_calibration,
              "--max-fake-called-real": args.max_fake_called_real is not None,
              "--max-real-called-fake": args.max_real_called_fake is not None,
              "--no-shift": args.no_shift, "--no-uncertain-band": args.no_uncertain_band}
    return [flag for flag, on in tuning.items() if on]


def _check_fit_settings(args: argparse.Namespace, options: EvalOptions) -> None:
    """A flag or --set that tunes a fit needs a threshold rule: without one nothing is fitted
    (an options file may hold them for the runs that fit)."""
    if options.calibration.rule is not None:
        return
    tuning = _fit_flags_given(args)
    tuning += [key for key, _ in map(parse_override, args.overrides)
               if key.split(".")[0] == "calibration"]
    if tuning:
        raise ConfigError(f"{', '.join(tuning)}: only with --calibrate-threshold (without it "
                          "nothing is fitted or stored)")


def _evaluate(args: argparse.Namespace) -> int:
    from fakescope.workflows.evaluation import evaluate_and_write

    options = _options(args, _eval_flags(args))
    _check_fit_settings(args, options)
    checkpoint = Path(args.checkpoint)
    result = evaluate_and_write(checkpoint, _data_config(args, checkpoint), options, args.out)
    evaluation, out, written = result.evaluation, result.out, result.written
    fitted = options.calibration
    _report_skipped(evaluation.data.get("bad_files") or [], out / "evaluation.json")
    if args.json:
        print(json.dumps(evaluation.metrics, indent=2))
        return 0
    m = evaluation.metrics
    print(f"{evaluation.model} on {evaluation.split}: {m['n']} images "
          f"({m['n_real']} real, {m['n_fake']} fake)")
    print(f"threshold {format_probability(evaluation.threshold)} "
          f"({evaluation.threshold_source})"
          + ("; stored in the checkpoint" if fitted.rule and fitted.store else ""))
    print(calibration_line(evaluation.calibration, evaluation.threshold, m))
    print(format_table(("metric", "value"), [(k, m.get(k)) for k in SUMMARY_METRICS]))
    print(format_table(("", "predicted real", "predicted fake"),
                       [("true real", m["tn"], m["fp"]), ("true fake", m["fn"], m["tp"])]))
    for title, counts in (("joint decision", evaluation.decisions),
                          ("provenance (metadata claims)", evaluation.provenance)):
        if counts:
            print(format_table((title, "real", "fake"),
                               [(v, counts["real"][v], counts["fake"][v]) for v in counts["real"]]))
    print(f"wrote {len(written)} files to {out}")
    return 0


def _report_skipped(bad_files: list[dict[str, str]], listed_in: Path, shown: int = 3) -> None:
    """On stderr (stdout may be JSON): how many files were left out as unreadable, and a few."""
    if not bad_files:
        return
    print(f"skipped {len(bad_files)} unreadable image files (all listed in {listed_in}):",
          file=sys.stderr)
    for bad in bad_files[:shown]:
        print(f"  {bad['path']}: {bad['reason'].split(': ', 1)[-1]}", file=sys.stderr)


def calibration_line(calibration: dict[str, Any], threshold: float, m: dict[str, Any]) -> str:
    """One line: temperature, uncertain band and ECE before/after on the evaluated split."""
    from fakescope.models.calibration import Calibration

    fitted = Calibration.from_dict(calibration)
    parts = [f"temperature {fitted.temperature:.4g}" if fitted.method != "none"
             else "no temperature scaling"]
    if fitted.has_band:
        low, high = fitted.band(threshold)
        parts.append(f"uncertain band [{format_probability(low)}, {format_probability(high)}) "
                     f"holds {format_probability(m['uncertain_share'])} of the images")
    if m.get("ece_uncalibrated") is not None:
        parts.append(f"ECE {m['ece_uncalibrated']:.4f} before, {m['ece']:.4f} after calibration")
    return "; ".join(parts)


def _compare(args: argparse.Namespace) -> int:
    from fakescope.evaluate.compare import TABLE_COLUMNS, best_by
    from fakescope.workflows.evaluation import compare_and_write

    options = _options(args)
    checkpoints, skipped = _checkpoints(args.models, args.glob)
    first = Path(args.models[0])
    out = Path(args.out) if args.out else (first if first.is_dir() else first.parent) / "comparison"
    comparison, written = compare_and_write(
        checkpoints, _data_config(args, checkpoints[0]), options, out, skipped
    )
    header = ("model", "calibrated", *TABLE_COLUMNS)
    table = comparison.table()
    print(format_table(header, [[row[c] for c in header] for row in table]))
    best = best_by(table)
    print(f"best by ROC-AUC: {best['model']}" + ("" if best["calibrated"] else " (uncalibrated)"))
    if not all(row["calibrated"] for row in table):
        print("uncalibrated rows use the training default threshold 0.5 and raw probabilities: "
              "their accuracy, ECE and verdicts do not compare with calibrated rows (calibrate "
              "with `fakescope eval --calibrate-threshold fpr:0.05`)")
    for item in skipped:
        print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
    for item in comparison.failed:
        print(f"failed {item['path']}: {item['error']}", file=sys.stderr)
    print(f"wrote {len(written)} files to {out}")
    return 1 if comparison.failed else 0  # some models failed; the others' results are written


def _robustness(args: argparse.Namespace) -> int:
    from fakescope.evaluate.evaluate import default_evaluation_dir
    from fakescope.evaluate.robustness import parse_sweeps
    from fakescope.workflows.evaluation import sweep_and_write

    options = _options(args, lambda o: replace(
        o, conditions=tuple(given(args.corruptions, list(o.conditions)))))
    parse_sweeps(options.conditions)  # an unknown corruption fails before any loading
    checkpoints, _ = _checkpoints(args.models, args.glob)
    default_out = default_evaluation_dir(checkpoints[0], options.split)
    out = Path(args.out) if args.out else default_out.with_name(f"robustness-{options.split}")
    result, written = sweep_and_write(
        checkpoints, _data_config(args, checkpoints[0]), options, out
    )
    header = ("model", "corruption", "strength", "accuracy", "roc_auc", "eer")
    measured = [r for r in result.rows if "error" not in r]
    rows = [[r[c] if c in r else r["metrics"][c] for c in header] for r in measured]
    print(format_table(header, rows))
    failed = [r for r in result.rows if "error" in r]
    for r in failed:
        cell = f" {r['corruption']} {r['strength']:g}" if r["corruption"] else ""
        print(f"failed {r['model']}{cell}: {r['error']}", file=sys.stderr)
    print(f"wrote {len(written)} files to {out}")
    return 1 if failed else 0  # some cells failed; the others' results are written


def _predict(args: argparse.Namespace) -> int:
    from fakescope.inference.joint import prediction_rows
    from fakescope.inference.predict import Predictor, expand_inputs
    from fakescope.models.registry import load_detector
    from fakescope.reproducibility import resolve_device

    # The bar only on a terminal: a list of many files would fill a log with it.
    options = load_options(args, scoring_flags(args), USES["predict"],
                           EvalOptions(batch_size=32, progress=sys.stderr.isatty()))
    refuse_data_files_as_inputs(args.paths)
    paths = expand_inputs(args.paths)
    if len(paths) > SCAN_HINT_FILES:
        print(f"hint: for {len(paths)} files `fakescope scan` is the better tool (parallel, "
              "resumable, Parquet output)", file=sys.stderr)
    output = row_output(args, [*paths, Path(args.checkpoint)])
    device = resolve_device(options.device)
    loaded = load_detector(args.checkpoint, device)
    predictor = Predictor(
        loaded, device, options.batch_size, face_crop=args.face_crop, backend=args.backend,
        checkpoint=args.checkpoint, onnx_path=args.onnx_model,
    )  # fmt: skip
    results = predictor.predict_paths(paths, progress=options.progress)
    # The joint decision first, then the detector's fields and the file's provenance columns.
    rows = prediction_rows(results, provenance=not args.no_provenance)
    if args.explain:
        _explain_each(loaded, results, Path(args.explain), args.face_crop)
    write_rows(output, lambda form: json.dumps(rows, indent=2) + "\n" if form == "json"
               else _rows_csv(rows))
    if output.stdout is None:
        table = [
            (r["path"], r["decision"], format_probability(r["probability_fake"]),
             r["verdict"] or "error", r.get("provenance", "-"),
             r["error"] or "; ".join(r["reasons"]))
            for r in rows
        ]
        print(format_table(
            ("path", "decision", "p_fake", "verdict", "provenance", "why / error"), table))
        print(f"{_decision_rule(loaded)}; {sum(r['error'] is None for r in rows)} of "
              f"{len(rows)} images predicted with {predictor.onnx_source or 'PyTorch'}")
    return SOME_INPUTS_FAILED if any(r["error"] for r in rows) else 0


def _decision_rule(loaded: Any) -> str:
    """The threshold, the uncertain band and how it was fitted (or why there is none), the
    temperature, and the "unlike the training data" check, as the checkpoint has them."""
    calibration = loaded.calibration
    text = f"threshold {format_probability(loaded.threshold)}"
    if calibration.method == "none" and not calibration.has_band:
        return (f"{text}, uncalibrated: P(fake) is the raw score and there is no uncertain band "
                "(run `fakescope eval --checkpoint CK --calibrate-threshold fpr:0.05` on the "
                "training data)")
    if calibration.has_band:
        low, high = calibration.band(loaded.threshold)
        text += (f", uncertain from {format_probability(low)} to below "
                 f"{format_probability(high)}")
        text += f" ({calibration.band_basis})" if calibration.band_basis else ""
    else:
        text += f"; {calibration.band_description(loaded.threshold)}"
    if calibration.method != "none":
        text += f" (calibrated P(fake), temperature {calibration.temperature:.3g})"
    if loaded.feature_density is None:
        text += "; no check of how far pictures lie from the training data"
    return text


def _explain_each(loaded: Any, results: Sequence[Any], folder: Path, face_crop: bool) -> None:
    from fakescope.data.images import load_image
    from fakescope.inference.gradcam import write_gradcam

    for index, result in enumerate(results):
        if result.prediction is not None:
            out = folder / f"{index:04d}-{Path(result.path).stem}-gradcam.png"
            write_gradcam(loaded, load_image(result.path), out, face_crop)


def _rows_csv(rows: list[dict[str, Any]]) -> str:
    columns = ["path", "decision", "decision_text", "probability_fake", "label", "verdict",
               "threshold", "band_low", "band_high", "face_box", "reasons", "distance",
               "distance_limit", "error"]
    columns += [c for c in (rows[0] if rows else {}) if c.startswith("provenance")]
    boxed = [{**row, "face_box": None if row["face_box"] is None else json.dumps(row["face_box"]),
              "reasons": "; ".join(row["reasons"])}
             for row in rows]
    return csv_text(columns, boxed)


def _report(args: argparse.Namespace) -> int:
    from fakescope.report.html import write_report

    if args.out:
        check_output_file("--out", Path(args.out), [Path(args.run)])
    print(write_report(Path(args.run), args.out))
    return 0
