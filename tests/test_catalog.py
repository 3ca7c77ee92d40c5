"""`fakescope presets` and `fakescope models` list the names a newcomer would otherwise learn
from error messages, and the CLI module imports no torch until one of them runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fakescope.cli import main
from fakescope.config import preset_names, preset_summary


def test_presets_lists_every_shipped_preset_with_its_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in preset_names():
        row = next(line for line in lines if line.split()[:1] == [name])
        assert preset_summary(name)[1][:40] in row
    rows = {line.split()[0]: line.split()[1] for line in lines[1:] if line.strip()}
    assert (rows["small_data"], rows["lite0_probe"], rows["demo"]) == ("gan", "train", "demo")
    assert rows["paper002_search"] == "search"


def test_preset_summary_falls_back_to_the_first_comment_sentence() -> None:
    # demo_quick has no `paper:` key
    assert preset_summary("demo_quick") == (
        "demo", "The smallest demo that still runs every stage (the test suite runs it)")
    assert preset_summary("small_data")[1].startswith("fakescope small-data recipe")


def test_models_lists_detectors_and_gan_architectures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for kind, name in (("detector", "lite0_probe"), ("detector", "selfcnn"), ("gan", "dcgan"),
                       ("gan", "fastgan_lite"), ("features", "efflite0"), ("features", "auto")):
        row = next(line for line in out.splitlines() if line.split()[1:2] == [name])
        assert row.split()[0] == kind and len(row.split()) > 3  # with a description


def test_the_catalog_module_imports_no_torch() -> None:
    code = ("import sys, fakescope.cli.catalog as c, fakescope.config; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
