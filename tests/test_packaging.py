"""The wheel carries the presets: installed outside the checkout, a preset loads by name, and the
curated API loads a detector and predicts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_a_preset_loads_by_name_from_an_installed_wheel(tmp_path: Path) -> None:
    # Build from a copy, so the checkout gets no build/ or egg-info folders.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = tmp_path / "wheels"
    # Offline: this interpreter's setuptools and wheel build it, nothing is downloaded.
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", wheels, source, cwd=tmp_path)
    wheel = next(wheels.glob("fakescope-*.whl"))

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    pure = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=tmp_path).strip())
    # The new environment sees this one's dependencies (torch, ...) after its own packages, so
    # nothing is re-installed; this environment's path hooks (an editable fakescope) are not read.
    (pure / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
         "--no-index", wheel, cwd=tmp_path)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    script = (
        "import fakescope, pathlib\n"
        "from fakescope.config import load_config, preset_names\n"
        "from fakescope.detect.config import DetectJobConfig\n"
        "config = load_config(DetectJobConfig, 'paper003_resnet50')\n"
        "print(pathlib.Path(fakescope.__file__).parent)\n"
        "print(config.model.name, config.train.epochs, len(preset_names()))\n"
    )
    lines = _run(python, "-c", script, cwd=outside, env=env).splitlines()
    assert Path(lines[0]).is_relative_to(venv), lines[0]
    shipped = len(list((ROOT / "src" / "fakescope" / "presets").glob("*.yaml")))
    assert lines[1] == f"resnet50 8 {shipped}"
    # The curated API from the installed wheel: load a checkpoint, predict one picture.
    from fakescope.models.registry import build_detector, save_detector

    model = build_detector("selfcnn")
    checkpoint = tmp_path / "selfcnn.pt"
    save_detector(checkpoint, model, "selfcnn", {}, model.input_spec)
    Image.new("RGB", (48, 40), (120, 90, 60)).save(outside / "face.png")
    api = (
        "import fakescope as f\n"
        f"d = f.load_detector({str(checkpoint)!r})\n"
        "print(d.predict(['face.png'])[0].verdict)\n"
    )
    assert _run(python, "-c", api, cwd=outside, env=env).split()[-1] in {"real", "fake"}
    # The installed console script runs from there too.
    help_text = _run(venv / "bin" / "fakescope", "demo", "--help", cwd=outside, env=env)
    assert "--config" in help_text
