"""README's links resolve, and it stays a short user's guide (the rest is in docs/)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_every_relative_link_of_the_readme_points_at_a_file() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    local = [t for t in targets if "://" not in t]
    missing = [t for t in local if not (ROOT / t).exists()]
    assert local and not missing, missing


def test_the_readme_is_short_and_opens_with_the_two_commands() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    first = text.index("bash scripts/setup.sh && .venv/bin/fakescope demo")
    assert first < text.index("bash scripts/setup.sh --dev && bash scripts/test.sh") < 600


def test_no_dated_measurements_in_the_library_or_its_presets() -> None:
    dated = [str(p.relative_to(ROOT)) for p in (ROOT / "src" / "fakescope").rglob("*")
             if p.suffix in {".py", ".yaml"}
             and re.search(r"20\d{2}-[01]\d-[0-3]\d", p.read_text())]
    assert not dated
