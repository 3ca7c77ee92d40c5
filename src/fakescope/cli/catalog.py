"""`fakescope presets` and `fakescope models`: the names a config or `--set` can use."""

from __future__ import annotations

import argparse

from fakescope.formatting import format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    presets = subparsers.add_parser(
        "presets", help="list the shipped presets (for --config) and the command each is for"
    )
    presets.set_defaults(handler=_presets)
    models = subparsers.add_parser(
        "models", help="list the registered detectors (model.name), GAN architectures "
        "(model.arch) and GAN feature extractors (metrics.feature_extractor)"
    )
    models.set_defaults(handler=_models)


def _presets(args: argparse.Namespace) -> int:
    from fakescope.config import preset_names, preset_summary

    rows = [(name, *preset_summary(name)) for name in preset_names()]
    print(format_table(("preset", "command", "what it is"), rows))
    print("\nUse one with `fakescope COMMAND --config PRESET`; a YAML path works too.")
    return 0


def _models(args: argparse.Namespace) -> int:
    # The registries import torch and every model module: only when this command runs.
    from fakescope.gan.metrics import list_feature_extractors
    from fakescope.models.gan_registry import list_gan_architectures
    from fakescope.models.registry import list_detectors

    rows = [("detector", name, text) for name, text in list_detectors().items()]
    rows += [("gan", name, text) for name, text in list_gan_architectures().items()]
    rows += [("features", name, text) for name, text in list_feature_extractors().items()]
    print(format_table(("kind", "name", "what it is"), rows))
    print("\nDetectors: `fakescope train --set model.name=NAME`; "
          "GANs: `fakescope gan train --set model.arch=NAME`; GAN quality features: "
          "`fakescope gan metrics --feature-extractor NAME` or `--set "
          "metrics.feature_extractor=NAME`.")
    return 0
