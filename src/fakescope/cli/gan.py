"""`fakescope gan train|generate|sample|metrics|eval-disc|export-detector`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from fakescope.cli.argtypes import (
    DEVICE_HELP,
    device,
    file_name,
    int_between,
    output_folder,
    positive_float,
    positive_int,
    probability,
    seed,
)
from fakescope.cli.errors import signal_exit_code
from fakescope.cli.outputs import check_output_file
from fakescope.cli.training import BUDGET_RULE
from fakescope.config import given
from fakescope.runs import require_checkpoint


def register(subparsers: argparse._SubParsersAction) -> None:
    gan = subparsers.add_parser("gan", help="train DCGANs, generate fakes, measure and export them")
    commands = gan.add_subparsers(dest="gan_command", metavar="ACTION", required=True)

    train = commands.add_parser("train", help="train (or --resume) a DCGAN on real face images")
    train.add_argument("--config", help="a preset name (fakescope/presets/) or a YAML file")
    train.add_argument("--data", help="folder of real images (data.path)")
    train.add_argument("--name", help="run name (run.name)")
    train.add_argument("--root", help="folder of runs (run.root)")
    train.add_argument("--epochs", type=positive_int, help="train.epochs")
    train.add_argument("--batch-size", type=positive_int, help="train.batch_size")
    train.add_argument("--resolution", type=int, choices=[32, 64, 128, 256],
                       help="model.resolution: 32, 64, 128 or 256")
    train.add_argument("--seed", type=seed, help="run.seed")
    train.add_argument("--max-minutes", type=positive_float,
                       help="time budget (train.max_minutes); " + BUDGET_RULE + "; --resume "
                            "goes on")
    train.add_argument("--device", type=device, help="auto, cpu, cuda or cuda:N (run.device)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any config value, e.g. --set train.g_loss=saturating (repeatable)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run from its newest checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train)

    generate = commands.add_parser("generate", help="write N generated images (a detector's fakes)")
    _checkpoint_argument(generate)
    generate.add_argument("--n", type=positive_int, required=True, help="number of images")
    generate.add_argument("--out", required=True, type=output_folder,
                          help="folder to write them into")
    generate.add_argument("--format", default="png", choices=["png", "jpg"])
    generate.add_argument("--quality", type=int_between(1, 100), default=95,
                          help="JPEG quality, 1 to 100 (default 95)")
    generate.add_argument("--batch-size", type=positive_int, default=64)
    generate.add_argument("--seed", type=seed, default=0)
    generate.add_argument("--prefix", default="fake", type=file_name,
                          help="file name prefix (a name, not a path)")
    _device_argument(generate)
    generate.set_defaults(handler=_generate)

    sample = commands.add_parser("sample", help="a grid of samples, or a latent interpolation")
    _checkpoint_argument(sample)
    sample.add_argument("--out", required=True, help="PNG file to write")
    sample.add_argument("--n", type=positive_int, default=64, help="images in the grid")
    sample.add_argument("--nrow", type=positive_int, default=8, help="images per row")
    sample.add_argument("--seed", type=seed, default=0)
    sample.add_argument("--interpolate", action="store_true",
                        help="rows that walk between two latents instead of random samples")
    sample.add_argument("--rows", type=positive_int, default=4, help="interpolation rows")
    sample.add_argument("--steps", type=int_between(2), default=8,
                        help="images per interpolation row")
    _device_argument(sample)
    sample.set_defaults(handler=_sample)

    metrics = commands.add_parser(
        "metrics",
        help="FID/KID (or their offline stand-ins) and diversity of a checkpoint, next to the "
             "real-vs-real floor (two halves of the real images)",
    )
    _checkpoint_argument(metrics)
    metrics.add_argument("--data",
                         help="held-out real images (default: the run's data.path, its training "
                              "images)")
    metrics.add_argument("--n", type=int_between(4), default=1000,
                         help="real images read: half are the reference, half the floor's "
                              "second set, and as many images are generated")
    metrics.add_argument("--feature-extractor", default="auto", metavar="NAME",
                         help="features the distances are taken on (default auto: Inception, "
                              "else EfficientNet-Lite0 offline); `fakescope models` lists them")
    metrics.add_argument("--inception-weights", default="", help="torch-fidelity Inception file")
    metrics.add_argument("--seed", type=seed, default=0)
    _device_argument(metrics)
    metrics.set_defaults(handler=_metrics)

    judge = commands.add_parser(
        "eval-disc",
        help="the discriminator's batch-wise accuracy on real and fake (paper 000 Fig. 4)",
    )
    _checkpoint_argument(judge)
    judge.add_argument("--data", help="held-out real images (default: the run's data.path)")
    judge.add_argument("--n", type=positive_int, default=600,
                       help="real images scored, and as many fakes")
    judge.add_argument("--batch-size", type=positive_int, default=16)
    judge.add_argument("--out", type=output_folder,
                       help="folder for the figure and scores (default: the run's report/)")
    judge.add_argument("--seed", type=seed, default=0)
    _device_argument(judge)
    judge.set_defaults(handler=_eval_disc)

    export = commands.add_parser("export-detector",
                                 help="write the discriminator as a detector checkpoint")
    _checkpoint_argument(export)
    export.add_argument("--out", required=True, help="detector checkpoint to write (.pt)")
    export.add_argument("--threshold", type=probability, default=0.5,
                        help="decision threshold on P(fake)")
    export.set_defaults(handler=_export)


def _checkpoint_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True,
                        help="GAN checkpoint file, or a run folder (its newest checkpoint)")


def _device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", type=device, help=DEVICE_HELP)


def _train(args: argparse.Namespace) -> int:
    from fakescope.cli.training import log_lines
    from fakescope.config import load_with_flags
    from fakescope.distributed import context_from_environment
    from fakescope.gan.config import GanJobConfig
    from fakescope.gan.interpret import training_line
    from fakescope.gan.train import train_gan
    from fakescope.training.budget import process_start

    def flags(c: GanJobConfig) -> GanJobConfig:
        r, t = c.run, c.train
        return replace(
            c,
            data=replace(c.data, path=given(args.data, c.data.path)),
            run=replace(r, name=given(args.name, r.name), root=given(args.root, r.root),
                        seed=given(args.seed, r.seed), device=given(args.device, r.device)),
            train=replace(t, epochs=given(args.epochs, t.epochs),
                          batch_size=given(args.batch_size, t.batch_size),
                          max_minutes=given(args.max_minutes, t.max_minutes)),
            model=replace(c.model, resolution=given(args.resolution, c.model.resolution)),
        )  # fmt: skip

    config = load_with_flags(GanJobConfig, args.config, args.set, flags)
    if args.resume:
        require_checkpoint(config.run.root, config.run.name)
    with log_lines("fakescope.gan"):
        result = train_gan(config, resume=args.resume, progress=not args.quiet,
                           started=process_start(config.train.budget_clock))
    if not context_from_environment().is_main:  # under torchrun, rank 0 speaks for all
        return signal_exit_code(result.interrupted) if result.interrupted else 0
    if result.interrupted:
        print(f"stopped by {result.interrupted} after {result.step} iterations; checkpoint "
              f"{result.checkpoint}\ncontinue with the same command plus --resume")
        return signal_exit_code(result.interrupted)
    print(f"trained {result.epochs_done} epochs ({result.step} iterations): {result.run.path}")
    if result.checkpoint:
        print(f"checkpoint: {result.checkpoint}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    print(training_line(result.summary, result.run.path, result.run.samples))
    return 0


def _generate(args: argparse.Namespace) -> int:
    from fakescope.gan.sample import generate_images, load_generator
    from fakescope.reproducibility import resolve_device

    generator = load_generator(args.checkpoint, resolve_device(args.device))
    summary = generate_images(
        generator, args.n, Path(args.out), args.format, args.batch_size, args.seed, args.quality,
        args.prefix, progress=sys.stderr.isatty(),
    )
    kept = f" ({summary.skipped} already there)" if summary.skipped else ""
    print(f"wrote {summary.written} images to {summary.out}{kept}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from fakescope.gan.sample import interpolation_grid, load_generator, sample_grid
    from fakescope.reproducibility import resolve_device

    out = Path(args.out)
    check_output_file("--out", out, [Path(args.checkpoint)], writes_images=True)
    generator = load_generator(args.checkpoint, resolve_device(args.device))
    if args.interpolate:
        interpolation_grid(generator, out, args.rows, args.steps, args.seed)
    else:
        sample_grid(generator, out, args.n, args.nrow, args.seed)
    print(f"wrote {out}")
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from fakescope.gan.interpret import floor_line
    from fakescope.gan.judge import measure_quality
    from fakescope.reproducibility import resolve_device
    from fakescope.runs import RunDir

    report = measure_quality(
        args.checkpoint, args.data, args.n, args.feature_extractor, args.inception_weights,
        args.seed, resolve_device(args.device), progress=sys.stderr.isatty(),
    )
    print(json.dumps(report.to_dict(), indent=2))
    # the reading for a person, on stderr so stdout stays one JSON document
    folder = report.checkpoint.parent
    run = folder.parent if folder.name == "checkpoints" else folder
    print(floor_line(report.comparison, RunDir(run).samples), file=sys.stderr)
    if not report.held_out:
        print("note: pass --data with real images the GAN did not train on for a held-out "
              "comparison", file=sys.stderr)
    return 0


def _eval_disc(args: argparse.Namespace) -> int:
    from fakescope.gan.judge import evaluate_discriminator
    from fakescope.reproducibility import resolve_device

    result = evaluate_discriminator(
        args.checkpoint, args.data, args.n, args.batch_size, args.seed, args.out,
        resolve_device(args.device), progress=sys.stderr.isatty(),
    )
    if not result.held_out:
        print("note: the data has no val/test split; scored images from the training split",
              file=sys.stderr)
    s = result.scores.summary
    print(f"discriminator accuracy: real {s['accuracy_real']:.3f}, fake {s['accuracy_fake']:.3f}, "
          f"overall {s['accuracy']:.3f} ({result.figure})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from fakescope.gan.export import export_detector

    check_output_file("--out", Path(args.out), [Path(args.checkpoint)])
    written = export_detector(args.checkpoint, Path(args.out), args.threshold)
    print(f"wrote detector '{written['name']}' to {written['path']} "
          f"(from {written['source']['gan_checkpoint']})")
    return 0
