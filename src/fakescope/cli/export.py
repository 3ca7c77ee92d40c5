"""`fakescope export`: a detector checkpoint as ONNX (float32, optionally int8) for onnxruntime."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fakescope.cli.argtypes import int_between, positive_int, seed
from fakescope.cli.outputs import check_output_file
from fakescope.config import ConfigError
from fakescope.formatting import format_probability

MIB = 1024 * 1024
# The opsets PyTorch's ONNX exporters accept (torch.onnx._constants.ONNX_MIN/MAX_OPSET); an
# older one than the detector's layers need is refused by the exporter, in one line.
OPSETS = (7, 23)


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
    export.add_argument("--opset", type=int_between(*OPSETS),
                        help=f"ONNX opset, {OPSETS[0]} to {OPSETS[1]} (default 18)")
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
        type=positive_int,
        default=32,
        metavar="N",
        help="how many calibration pictures (default 32)",
    )
    export.add_argument("--data", help="labelled dataset to measure the int8 accuracy cost on")
    export.add_argument(
        "--split", default="test", help="split of --data the cost is measured on (default test)"
    )
    export.add_argument("--limit-per-class", type=positive_int,
                        help="use at most N images per class")
    export.add_argument("--no-cache", action="store_true", help="decode --data on the fly")
    export.add_argument(
        "--seed",
        type=seed,
        help="split seed (default: the training run's, so its test split is used)",
    )
    export.add_argument("--json", action="store_true", help="print the results as JSON")
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from fakescope.export.checkpoint import Int8Settings, export_checkpoint
    from fakescope.export.onnx_export import OPSET

    if not args.int8 and (args.data or args.calibration_data):
        raise ConfigError("--data and --calibration-data are for --int8")
    if args.out:
        check_output_file("--out", Path(args.out), [Path(args.checkpoint)])
    int8 = None if not args.int8 else Int8Settings(
        method=args.int8_method, calibration_data=args.calibration_data,
        calibration_images=args.calibration_images, data=args.data, split=args.split,
        limit_per_class=args.limit_per_class, cache=not args.no_cache, seed=args.seed,
    )  # fmt: skip
    result = export_checkpoint(args.checkpoint, args.out, args.exporter, args.opset or OPSET,
                               int8, progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    exported = result.onnx
    print(f"wrote {exported.path} ({exported.size_bytes / MIB:.2f} MiB); onnxruntime matches "
          f"PyTorch on {exported.check_batch} random images: max |P(fake) diff| "
          f"{exported.max_probability_diff:.2e}, max |logit diff| {exported.max_logit_diff:.2e} "
          f"(logits up to {exported.max_abs_logit:.3g})")
    if result.int8 is not None:
        q = result.int8
        how = f", calibrated on {q.calibration_images} pictures" if q.calibration_images else ""
        print(f"wrote {q.path} ({q.size_bytes / MIB:.2f} MiB, {q.method} int8{how})")
        if q.cost is not None:
            cost = q.cost
            print(f"int8 cost on {cost.split} ({cost.n} images, "
                  f"threshold {format_probability(cost.threshold)}): "
                  f"accuracy {cost.accuracy_fp32:.4f} -> {cost.accuracy_int8:.4f}, "
                  f"max |P(fake) diff| {cost.max_probability_diff:.4f} "
                  f"(mean {cost.mean_probability_diff:.4f}), "
                  f"{cost.changed_decisions} decisions changed")
    return 0
