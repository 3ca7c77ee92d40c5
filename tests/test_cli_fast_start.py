"""`fakescope --help`, `fakescope CMD --help` and usage errors answer without importing the
heavy libraries (torch, FastAPI, onnxruntime, ...): those load only in the commands that run."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import fakescope

SRC = str(Path(fakescope.__file__).resolve().parents[1])
HEAVY = ("torch", "torchvision", "timm", "onnxruntime", "onnx", "c2pa", "fastapi", "uvicorn",
         "starlette", "matplotlib", "sklearn", "scipy", "optuna", "pandas", "cv2")
CPU_SECONDS = 0.5


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def _cpu_seconds(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = _python(*args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return used, done


@pytest.mark.parametrize(
    ("argv", "code"), [(["--help"], 0), (["predict", "--bogus"], 2), (["serve", "--help"], 0)]
)
def test_help_and_usage_errors_cost_under_half_a_cpu_second(argv: list[str], code: int) -> None:
    best = float("inf")
    for _ in range(3):  # the least of three: a busy machine adds cache misses, not work
        used, done = _cpu_seconds("-m", "fakescope", *argv)
        assert done.returncode == code, done.stderr
        best = min(best, used)
    assert best < CPU_SECONDS, f"fakescope {' '.join(argv)} took {best:.2f} CPU-s"


CHECK_EVERY_HELP = f"""
import sys
from fakescope.cli import build_parser, main

parser = build_parser()
commands = [[name] for name in parser._subparsers._group_actions[0].choices]
for nested in ("data", "gan"):
    sub = parser._subparsers._group_actions[0].choices[nested]
    commands += [[nested, name] for name in sub._subparsers._group_actions[0].choices]
for words in commands:
    try:
        main([*words, "--help"])
    except SystemExit as done:
        assert done.code == 0, words
loaded = sorted(name for name in {HEAVY!r} if name in sys.modules)
print(len(commands), loaded)
"""


def test_no_command_help_imports_a_heavy_library() -> None:
    done = _python("-c", CHECK_EVERY_HELP)
    assert done.returncode == 0, done.stderr
    count, loaded = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) > 20 and loaded == "[]"
