"""`fakescope data multigen`: fakes from several generator families, from the user's reals."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fakescope.cli.argtypes import output_folder, positive_float, positive_int, seed
from fakescope.config import ConfigError
from fakescope.gan.families import FAMILIES


def register_action(commands: argparse._SubParsersAction) -> None:
    multigen = commands.add_parser(
        "multigen",
        help="train several generator families on your reals; write a labelled set + manifest",
    )
    multigen.add_argument("--reals", required=True, help="folder (any layout) of real images")
    multigen.add_argument("--out", required=True, type=output_folder,
                          help="folder to write real/, fake/<family>/ "
                          "and manifest.csv into (an existing one is finished, not redone)")
    multigen.add_argument("--families", default=",".join(FAMILIES),
                          help=f"comma-separated (default {','.join(FAMILIES)})")
    multigen.add_argument("--minutes", type=positive_float, default=2.0,
                          help="training budget per generator, wall-clock minutes")
    multigen.add_argument("--resolution", type=positive_int, default=64,
                          help="image side in pixels")
    multigen.add_argument("--n", type=positive_int, default=None,
                          help="fakes per GAN family (default: as many as reals)")
    multigen.add_argument("--seed", type=seed, default=0)
    multigen.add_argument("--checkpoint", action="append", default=[], metavar="FAMILY=PATH",
                          help="use this generator instead of training one (repeatable)")
    multigen.add_argument("--set", dest="overrides", action="append", default=[],
                          metavar="KEY=VALUE", help="GAN config override for every GAN family")
    multigen.set_defaults(handler=_multigen)


def _checkpoints(pairs: list[str]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for pair in pairs:
        family, sep, path = pair.partition("=")
        if not sep or not family or not path:
            raise ConfigError(f"--checkpoint '{pair}' must look like FAMILY=PATH")
        found[family.strip()] = Path(path)
    return found


def _multigen(args: argparse.Namespace) -> int:
    from fakescope.data.multigen_set import MANIFEST_CSV
    from fakescope.workflows.multigen import build_multigen_set

    summary = build_multigen_set(
        Path(args.reals),
        Path(args.out),
        families=[f.strip() for f in args.families.split(",") if f.strip()],
        minutes=args.minutes,
        resolution=args.resolution,
        seed=args.seed,
        checkpoints=_checkpoints(args.checkpoint),
        n_per_family=args.n,
        gan_overrides=args.overrides,
        progress=sys.stderr.isatty(),
    )
    for record in summary.families:
        state = "built" if record.built else "already built"
        print(f"{record.family}: {len(record.files)} fakes ({state}; {record.checkpoint})")
    print(f"{summary.reals} reals; manifest: {Path(args.out) / MANIFEST_CSV}")
    return 0
