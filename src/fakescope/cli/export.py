"""`fakescope export`: a detector checkpoint as ONNX (float32, optionally int8) for onnxruntime."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fakescope.config import ConfigError
from fakescope.evaluate.display import format_probability

if TYPE_CHECKING:
    import numpy as np

    from fakescope.data.pipeline import PreparedData
    from fakescope.models.registry import LoadedDetector

MIB = 1024 * 1024
NO_CALIBRATION = (
    "static int8 needs calibration pictures: give --calibration-data PATH or --data (its train "
    "split is used), or use --int8-method dynamic"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser(
        "export",
        help="export a detector to ONNX (picked up by predict and serve), optionally int8",
    )
    export.add_argument("--checkpoint", required=True, help="detector checkpoint (.pt)")
    export.add_argument(
        "--onnx",
        action="store_true",
        help="write the float32 ONNX file (the default; --int8 writes it too)",
    )
    export.add_argument("--out", help="float32 ONNX file (default: the checkpoint's path, .onnx)")
    export.add_argument(
        "--exporter",
        choices=["torchscript", "dynamo"],
        default="torchscript",
        help="torchscript (default) or dynamo (needs onnxscript)",
    )
    export.add_argument("--opset", type=int, help="ONNX opset (default 18)")
    export.add_argument(
        "--int8",
        action="store_true",
        help="also write an int8 file (<out>.int8.onnx) for CPU serving",
    )
    export.add_argument(
        "--int8-method",
        choices=["static", "dynamic"],
        default="static",
        help="static (calibrated, fast int8 convolutions; default) or dynamic",
    )
    export.add_argument(
        "--calibration-data",
        metavar="PATH",
        help="pictures to calibrate static int8 on: folder, file or glob "
        "(default: the train split of --data)",
    )
    export.add_argument(
        "--calibration-images",
        type=int,
        default=32,
        metavar="N",
        help="how many calibration pictures (default 32)",
    )
    export.add_argument("--data", help="labelled dataset to measure the int8 accuracy cost on")
    export.add_argument(
        "--split", default="test", help="split of --data the cost is measured on (default test)"
    )
    export.add_argument("--limit-per-class", type=int, help="use at most N images per class")
    export.add_argument("--no-cache", action="store_true", help="decode --data on the fly")
    export.add_argument(
        "--seed",
        type=int,
        help="split seed (default: the training run's, so its test split is used)",
    )
    export.add_argument("--json", action="store_true", help="print the results as JSON")
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from fakescope.export.onnx_export import OPSET, export_onnx
    from fakescope.inference.artifacts import default_onnx_path, int8_onnx_path
    from fakescope.models.registry import load_detector

    checkpoint = Path(args.checkpoint)
    loaded = load_detector(checkpoint, "cpu")
    fp32 = Path(args.out) if args.out else default_onnx_path(checkpoint)
    if args.int8 and fp32.suffix != ".onnx":
        raise ConfigError(f"--out must end in .onnx when --int8 is given, got {fp32}")
    if not args.int8 and (args.data or args.calibration_data):
        raise ConfigError("--data and --calibration-data are for --int8")
    if args.int8 and args.int8_method == "static" and not (args.calibration_data or args.data):
        raise ConfigError(NO_CALIBRATION)
    exported = export_onnx(loaded, fp32, args.exporter, args.opset or OPSET)
    results: dict[str, Any] = {"onnx": exported.to_dict()}
    lines = [
        f"wrote {fp32} ({exported.size_bytes / MIB:.2f} MiB); onnxruntime matches PyTorch on "
        f"{exported.check_batch} random images: max |P(fake) diff| "
        f"{exported.max_probability_diff:.2e}, max |logit diff| {exported.max_logit_diff:.2e} "
        f"(logits up to {exported.max_abs_logit:.3g})"
    ]
    if args.int8:
        results["int8"], int8_lines = _quantize(args, loaded, fp32, int8_onnx_path(fp32))
        lines += int8_lines
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("\n".join(lines))
    return 0


def _quantize(
    args: argparse.Namespace, loaded: LoadedDetector, fp32: Path, out: Path
) -> tuple[dict[str, Any], list[str]]:
    from fakescope.export.quantize import quantization_cost, quantize_onnx
    from fakescope.inference.runtime import OnnxDetector

    prepared = _prepared_data(args, loaded) if args.data else None
    pixels = _calibration(args, loaded, prepared) if args.int8_method == "static" else None
    quantize_onnx(fp32, out, args.int8_method, pixels)
    size = out.stat().st_size
    calibrated = 0 if pixels is None else len(pixels)
    results: dict[str, Any] = {
        "path": str(out), "method": args.int8_method, "size_bytes": size,
        "calibration_images": calibrated,
    }  # fmt: skip
    how = f", calibrated on {calibrated} pictures" if calibrated else ""
    lines = [f"wrote {out} ({size / MIB:.2f} MiB, {args.int8_method} int8{how})"]
    if prepared is not None:
        cost = quantization_cost(
            OnnxDetector(fp32), OnnxDetector(out), prepared, args.split, loaded.threshold,
            calibration=loaded.calibration,
        )
        results["cost"] = cost.to_dict()
        lines.append(
            f"int8 cost on {cost.split} ({cost.n} images, "
            f"threshold {format_probability(cost.threshold)}): "
            f"accuracy {cost.accuracy_fp32:.4f} -> {cost.accuracy_int8:.4f}, "
            f"max |P(fake) diff| {cost.max_probability_diff:.4f} "
            f"(mean {cost.mean_probability_diff:.4f}), "
            f"{cost.changed_decisions} decisions changed"
        )
    return results, lines


def _prepared_data(args: argparse.Namespace, loaded: LoadedDetector) -> PreparedData:
    from fakescope.evaluate.scoring import (
        evaluation_data_config,
        prepare_evaluation_data,
        training_seed,
    )

    data = evaluation_data_config(
        loaded, args.data, limit_per_class=args.limit_per_class,
        cache=False if args.no_cache else None,
    )  # fmt: skip
    seed = training_seed(loaded) if args.seed is None else args.seed
    return prepare_evaluation_data(loaded, data, seed, progress=sys.stderr.isatty())


def _calibration(
    args: argparse.Namespace, loaded: LoadedDetector, prepared: PreparedData | None
) -> np.ndarray:
    """Calibration pictures from --calibration-data, else from the train split of --data (never
    the split the cost is measured on), preprocessed as the checkpoint was trained."""
    from fakescope.evaluate.scoring import evaluation_data_config
    from fakescope.export.quantize import calibration_images
    from fakescope.inference.predict import expand_inputs

    if args.calibration_data:
        source, paths = args.calibration_data, expand_inputs([args.calibration_data])
    elif prepared is not None and prepared.size("train"):
        source, paths = args.data, [sample.path for sample in prepared.samples("train")]
    else:
        raise ConfigError(NO_CALIBRATION)
    face_crop = evaluation_data_config(loaded, source).face_crop
    return calibration_images(paths, loaded.input_spec, args.calibration_images, face_crop)
