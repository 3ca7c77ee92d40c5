"""docs/architecture.md's layer table matches the code: every top-level module of src/fakescope
sits on exactly one layer, and no import, at module level or inside a function, climbs. Two
rules of the floors beside it: `evaluate` scores and never trains, `report` renders results
already written and never runs an evaluation (chaining them is `workflows`' job)."""

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


# What `evaluate` may not reach: the trainers (a training run belongs to `workflows`).
TRAINING_MODULES = ("fakescope.detect.train", "fakescope.detect.search", "fakescope.training",
                    "fakescope.gan")
# Calls that run a detector: loading one, or scoring images with a loaded one.
RUNS_A_MODEL = {"load_detector", "score_log_odds"}


def training_imports(package_dir: Path = PACKAGE) -> list[str]:
    """`evaluate/x.py -> module` for every import of a trainer under evaluate/."""
    found = []
    for path in sorted((package_dir / "evaluate").rglob("*.py")):
        for target in sorted(imported_modules(path, package_dir)):
            if any(target == m or target.startswith(m + ".") for m in TRAINING_MODULES):
                found.append(f"{path.relative_to(package_dir)} -> {target}")
    return found


def scoring_functions(package_dir: Path = PACKAGE) -> set[str]:
    """`fakescope.evaluate.<module>.<function>` for every function of evaluate/ that runs a
    detector: one of RUNS_A_MODEL, one that calls them, or (transitively) another such one."""
    calls: dict[str, set[str]] = {}
    qualified: dict[str, set[str]] = {}  # bare name -> qualified names with it
    for path in sorted((package_dir / "evaluate").rglob("*.py")):
        module = ".".join(path.relative_to(package_dir.parent).with_suffix("").parts)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef):
                name = f"{module}.{node.name}"
                qualified.setdefault(node.name, set()).add(name)
                calls[name] = {
                    call.func.id if isinstance(call.func, ast.Name) else call.func.attr
                    for call in ast.walk(node) if isinstance(call, ast.Call)
                    and isinstance(call.func, (ast.Name, ast.Attribute))
                }
    running = {name for name, called in calls.items()
               if called & RUNS_A_MODEL or name.rsplit(".", 1)[1] in RUNS_A_MODEL}
    while True:
        bare = {name.rsplit(".", 1)[1] for name in running}
        grown = running | {name for name, called in calls.items() if called & bare}
        if grown == running:
            return running
        running = grown


def report_scoring_imports(package_dir: Path = PACKAGE) -> list[str]:
    """`report/x.py -> function` for every evaluate function that runs a model imported under
    report/ (at module level or inside a function)."""
    scoring = scoring_functions(package_dir)
    found = []
    for path in sorted((package_dir / "report").rglob("*.py")):
        for target in sorted(imported_modules(path, package_dir) & scoring):
            found.append(f"{path.relative_to(package_dir)} -> {target}")
    return found


def test_evaluate_never_imports_a_trainer() -> None:
    assert not training_imports(), "evaluate/ imports a trainer: " + ", ".join(training_imports())


def test_report_never_imports_a_scoring_function() -> None:
    found = report_scoring_imports()
    assert not found, "report/ imports functions that run a model: " + ", ".join(found)


def test_the_floor_rules_see_what_they_forbid(tmp_path: Path) -> None:
    package = tmp_path / "fakescope"
    for folder in ("evaluate", "report"):
        (package / folder).mkdir(parents=True)
    (package / "evaluate" / "scores.py").write_text(
        "from fakescope.gan.train import train_gan\n"
        "def score(loaded, images):\n    return score_log_odds(loaded, images)\n"
        "def evaluate(path):\n    return score(load(path), [])\n"
        "def read(path):\n    return open(path).read()\n")
    (package / "report" / "page.py").write_text(
        "from fakescope.evaluate.scores import read\n"
        "def draw():\n    from ..evaluate.scores import evaluate\n")
    assert training_imports(package) == ["evaluate/scores.py -> fakescope.gan.train",
                                         "evaluate/scores.py -> fakescope.gan.train.train_gan"]
    assert scoring_functions(package) == {"fakescope.evaluate.scores.score",
                                          "fakescope.evaluate.scores.evaluate"}
    assert report_scoring_imports(package) == [
        "report/page.py -> fakescope.evaluate.scores.evaluate"]
