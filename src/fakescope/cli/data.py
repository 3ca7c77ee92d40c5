"""`fakescope data inspect|synth|cache|multigen`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fakescope.cli.argtypes import output_folder, positive_int, seed
from fakescope.config import DataConfig
from fakescope.data.layouts import LAYOUT_NAMES


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="inspect datasets, draw demo faces, build caches")
    commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    layouts = ["auto", *LAYOUT_NAMES]

    inspect = commands.add_parser("inspect", help="layout, counts, image sizes and bad files")
    inspect.add_argument("path", help="dataset folder, CSV manifest or image-list file")
    inspect.add_argument("--layout", default="auto", choices=layouts)
    inspect.add_argument("--workers", type=positive_int, default=None, help="decoding processes")
    inspect.add_argument("--json", action="store_true", help="print the report as JSON")
    inspect.set_defaults(handler=_inspect)

    synth = commands.add_parser(
        "synth", help="draw synthetic demo faces (a stand-in for real data)"
    )
    synth.add_argument("--out", required=True, type=output_folder,
                       help="folder to write real/ (and fake/) into")
    synth.add_argument("--n", type=positive_int, default=500, help="images per class")
    synth.add_argument("--size", type=positive_int, default=128, help="image side in pixels")
    synth.add_argument("--seed", type=seed, default=0)
    synth.add_argument(
        "--fakes", action="store_true", help="also draw a fake/ class with generator-like artifacts"
    )
    synth.set_defaults(handler=_synth)

    cache = commands.add_parser("cache", help="decode a dataset once into the memory-mapped cache")
    cache.add_argument("path")
    cache.add_argument("--size", type=positive_int, required=True, help="training resolution")
    cache.add_argument("--resize", default="short_side_crop", choices=["short_side_crop", "resize"])
    cache.add_argument("--layout", default="auto", choices=layouts)
    cache.add_argument("--face-crop", action="store_true")
    cache.add_argument("--cache-dir", default=DataConfig.cache_dir)
    cache.add_argument(
        "--gan", action="store_true", help="cache the real images only, as GAN training reads them"
    )
    cache.set_defaults(handler=_cache)

    from fakescope.cli.multigen import register_action

    register_action(commands)


def _inspect(args: argparse.Namespace) -> int:
    from fakescope.data.inspect import format_report, inspect_dataset

    report = inspect_dataset(args.path, args.layout, args.workers, progress=sys.stderr.isatty())
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    return 0


def _synth(args: argparse.Namespace) -> int:
    from fakescope.data.synth import synthesize_dataset

    summary = synthesize_dataset(
        Path(args.out),
        n=args.n,
        size=args.size,
        seed=args.seed,
        fakes=args.fakes,
        progress=sys.stderr.isatty(),
    )
    counts = ", ".join(f"{n} {name}" for name, n in summary.counts.items())
    print(f"wrote {counts} synthetic {args.size}x{args.size} faces to {args.out}")
    return 0


def _cache(args: argparse.Namespace) -> int:
    from fakescope.data.pipeline import prepare_data
    from fakescope.data.transforms import InputSpec

    config = DataConfig(
        path=args.path,
        layout=args.layout,
        image_size=args.size,
        resize=args.resize,
        face_crop=args.face_crop,
        cache=True,
        cache_dir=args.cache_dir,
    )
    prepared = prepare_data(
        config,
        InputSpec(size=args.size, resize=args.resize),
        labelled=not args.gan,
        progress=sys.stderr.isatty(),
    )
    report = prepared.report
    state = "built" if report.cache_rebuilt else "already up to date"
    total = sum(sum(c.values()) for c in report.counts.values())
    print(
        f"cache {state}: {report.cache} ({total} images, {len(report.bad_files)} bad files skipped)"
    )
    return 0
