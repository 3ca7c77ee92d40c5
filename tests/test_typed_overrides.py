"""Code fills configs in by field (`dataclasses.replace`), never by dotted strings: a renamed
field is then a type error, not a key that fails at run time. A user's `--set key=value` stays a
string; what fakescope's own modules and benchmarks assemble must not be one."""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

from fakescope.detect.config import DetectJobConfig
from fakescope.gan.config import GanJobConfig

ROOT = Path(__file__).resolve().parents[1]
SCANNED = [ROOT / "src" / "fakescope", ROOT / "benchmarks"]
# Files allowed to hold dotted keys, and why.
ALLOWED = {
    # its range checks name each key in their message and read it back for the message
    ROOT / "src" / "fakescope" / "gan" / "config.py",
}


def _sections() -> set[str]:
    """The job configs' sections (run, data, model, train, ...): a dotted key starts with one."""
    return {f.name for cls in (GanJobConfig, DetectJobConfig) for f in dataclasses.fields(cls)
            if dataclasses.is_dataclass(f.type) or isinstance(f.default_factory, type)}


SECTION = "|".join(sorted(_sections()))
KEY = re.compile(rf"^({SECTION})(\.[a-z_][a-z0-9_]*)+$")  # a dict key: {"train.epochs": 3}
SETTING = re.compile(rf"^({SECTION})(\.[a-z_][a-z0-9_]*)+=")  # a --set string: "train.epochs=3"
# run-folder and model file names look like keys: "metrics.csv", "train.log", "model.onnx"
FILE_NAME = re.compile(r"\.(csv|json|jsonl|log|onnx|pt|bin|safetensors|yaml|md|png|txt|html)$")


def _assembled(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every dotted config key the code builds as an override, in line order."""
    return sorted(set(_dotted(tree)))


def _dotted(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and isinstance(key.value, str) \
                        and KEY.match(key.value) and not FILE_NAME.search(key.value):
                    yield key.lineno, key.value
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and SETTING.match(node.value):
            yield node.lineno, node.value  # also the leading text of an f-string


def test_the_sections_are_found() -> None:
    assert {"run", "data", "model", "train", "metrics", "collapse", "search"} <= _sections()


def test_the_scan_finds_assembled_overrides() -> None:
    code = 'a = {"data.path": p, "run.name": n}\nb = ["train.epochs=3"]\nc = f"train.lr={x}"\n'
    assert [text for _, text in _assembled(ast.parse(code))] == [
        "data.path", "run.name", "train.epochs=3", "train.lr="]
    assert not _assembled(ast.parse('log = {"model.onnx": 1}\nd = "data.path is empty"'))


def test_no_module_or_benchmark_assembles_dotted_overrides() -> None:
    found = [f"{path.relative_to(ROOT)}:{line}: {text}"
             for folder in SCANNED for path in sorted(folder.rglob("*.py"))
             if path not in ALLOWED
             for line, text in _assembled(ast.parse(path.read_text(encoding="utf-8")))]
    assert not found, "dotted config keys built in code (use dataclasses.replace):\n" + \
        "\n".join(found)
