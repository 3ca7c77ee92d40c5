"""docs/architecture.md's layer table matches the code: every top-level module of src/fakescope
sits on exactly one layer, and no import, at module level or inside a function, climbs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "fakescope"
PAGE = ROOT / "docs" / "architecture.md"


def documented_layers() -> dict[str, int]:
    """Top-level module -> layer number, from the page's `| N | `a`, `b` | job |` rows."""
    layers: dict[str, int] = {}
    for number, modules in re.findall(r"^\| (\d+) \| ([^|]+) \|", PAGE.read_text(), re.MULTILINE):
        for name in re.findall(r"`([A-Za-z_]+)`", modules):
            assert name not in layers, f"{name} is on two layers of {PAGE.name}"
            layers[name] = int(number)
    return layers


def top_level_modules() -> set[str]:
    # Folders with Python files count, __init__.py or not (data/ and models/ are namespace ones).
    names = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if p.is_dir() and any(p.glob("*.py"))
    }
    return names - {"__init__"}


def imported_modules(path: Path, package_dir: Path = PACKAGE) -> set[str]:
    """fakescope modules `path` imports, anywhere in the file (relative imports resolved)."""
    package = ".".join(path.relative_to(package_dir.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m.startswith("fakescope.")}


def top(module: str) -> str:
    return module.split(".")[1]


def test_every_module_is_on_exactly_one_documented_layer() -> None:
    layers, modules = documented_layers(), top_level_modules()
    assert not modules - set(layers), f"not on a layer of {PAGE.name}: {modules - set(layers)}"
    assert not set(layers) - modules, f"{PAGE.name} names missing modules: {set(layers) - modules}"


def test_no_import_climbs_a_layer() -> None:
    layers, modules = documented_layers(), top_level_modules()
    climbing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent == PACKAGE and path.name == "__init__.py":
            continue  # the package's lazy names sit outside the layers
        source = top(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        for target in sorted(imported_modules(path)):
            if top(target) in modules and layers[top(target)] > layers[source]:
                climbing.append(f"{path.relative_to(PACKAGE)} -> {target}")
    assert not climbing, "imports that climb: " + ", ".join(climbing)


def test_the_check_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    package = tmp_path / "fakescope"
    (package / "evaluate").mkdir(parents=True)
    module = package / "evaluate" / "x.py"
    module.write_text("from ..inference import predict\n"
                      "def f():\n    from fakescope.cli import main\n")
    found = imported_modules(module, package)
    assert {"fakescope.cli", "fakescope.inference.predict"} <= found
