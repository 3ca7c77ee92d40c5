"""Result rows, their ratios against the goals, and the report as Markdown and JSON."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from fakescope.bench.machine import bf16_statement
from fakescope.bench.timing import Comparison
from fakescope.formatting import format_measurement
from fakescope.runs import atomic_write_bytes

# The goals for a 2-core machine, as the least ratio fakescope must reach over the
# baseline measured in the same run, keyed by row key (shell-style patterns).
GOALS: dict[str, float] = {
    "data/later-epochs/64": 10.0,
    "gan/cpu/64": 1.3,
    "detect/cpu/*": 2.0,
    "inference/latency/efficientnet_b0/224": 1.5,
}

Unit = Literal["img/s", "req/s", "ms"]


def goal_for(key: str) -> float | None:
    """The goal of the row with this key, or None when there is none."""
    for pattern, goal in GOALS.items():
        if fnmatch.fnmatchcase(key, pattern):
            return goal
    return None


@dataclass(frozen=True)
class Row:
    """One measurement: both pipelines' figures in `unit` and fakescope's speed-up.

    `ratio` is fakescope's speed over the baseline's (above 1: fakescope is faster), whether
    the unit is a rate or a latency; `cpu_ratio` the same for CPU time per item."""

    area: str
    key: str  # stable identifier, e.g. "gan/cpu/64"; goals are looked up by it
    what: str
    unit: Unit
    baseline: float
    fakescope: float
    ratio: float
    cpu_ratio: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def goal(self) -> float | None:
        return goal_for(self.key)

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else self.ratio >= self.goal

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "goal": self.goal, "met": self.met}


def comparison_row(
    area: str, key: str, what: str, unit: Unit, comparison: Comparison,
    details: dict[str, Any] | None = None,
) -> Row:  # fmt: skip
    """A row from alternating turns: each side's median over the rounds, and their ratio."""
    if unit == "ms":
        base, ours = comparison.ms_per_item("baseline"), comparison.ms_per_item("fakescope")
        ratio = base / ours
    else:
        base, ours = comparison.rate("baseline"), comparison.rate("fakescope")
        ratio = ours / base
    base_cpu, our_cpu = comparison.cpu_per_item("baseline"), comparison.cpu_per_item("fakescope")
    cpu_ratio = base_cpu / our_cpu if base_cpu is not None and our_cpu is not None else None
    return Row(area, key, what, unit, base, ours, ratio, cpu_ratio,
               {**(details or {}), "rounds": comparison.to_dict()})


def format_ratio(value: float | None) -> str:
    return "" if value is None else f"{format_measurement(value)}x"


@dataclass
class BenchReport:
    """A whole run: where and how it was measured, what each area compares, and the rows."""

    machine: dict[str, Any]
    command: str
    started: str
    seconds: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    data: str
    rounds: int
    areas: dict[str, str]  # area -> what its baseline and fakescope sides are
    rows: list[Row]
    failed: dict[str, str] = field(default_factory=dict)  # area -> why it has no rows (a line)

    def to_dict(self) -> dict[str, Any]:
        fields = {k: v for k, v in asdict(self).items() if k != "rows"}
        return {**fields, "goals": GOALS, "rows": [row.to_dict() for row in self.rows]}

    def table(self) -> str:
        """The rows as a Markdown table."""
        lines = [
            "| area | what | baseline | fakescope | unit | ratio | CPU ratio | goal | met |",
            "|---|---|---:|---:|---|---:|---:|---:|---|",
        ]
        for row in self.rows:
            met = "" if row.met is None else ("yes" if row.met else "**no**")
            lines.append(
                f"| {row.area} | {row.what} | {format_measurement(row.baseline)} | "
                f"{format_measurement(row.fakescope)} | {row.unit} | "
                f"**{format_ratio(row.ratio)}** | "
                f"{format_ratio(row.cpu_ratio)} | {format_ratio(row.goal)} | {met} |"
            )
        return "\n".join(lines)

    def to_markdown(self) -> str:
        m = self.machine
        gpu = m["gpu"] or "no GPU"
        before, after = (", ".join(f"{v:.2f}" for v in load)
                         for load in (self.load_before, self.load_after))
        lines = [
            "# fakescope bench",
            "",
            f"- **Date:** {self.started} (took {self.seconds / 60:.1f} min)",
            f"- **Machine:** {m['cpu']}, {m['logical_cores']} logical cores "
            f"({m['usable_cores']} usable), {m['memory_gib']} GiB RAM, {gpu}; {m['os']}; "
            f"Python {m['python']}, torch {m['torch']} ({m['torch_threads']} threads), "
            f"onnxruntime {m['onnxruntime']}",
            f"- **bf16:** {bf16_statement(bool(m.get('native_bf16')))}",
            f"- **Load average** (1, 5, 15 min): {before} before; {after} after",
            f"- **Command:** `{self.command}`",
            f"- **Data:** {self.data}",
            "",
            self.table(),
            "",
            f"Figures are medians over {self.rounds} rounds; in each round both pipelines take "
            "one turn, which goes first alternating between rounds, so that changing load on "
            "the machine falls on both. **ratio** is fakescope's speed over the baseline's "
            "(above 1: fakescope is faster; for a latency, baseline ms / fakescope ms). **CPU "
            "ratio** is the baseline's CPU time per item over fakescope's, which other jobs on "
            "the machine disturb less than wall time.",
            "",
            "What each area compares:",
            "",
            *[f"- **{area}**: {text}" for area, text in self.areas.items()],
            "",
        ]
        if self.failed:
            lines += ["Areas without (all their) rows:", "",
                      *[f"- **{area}**: {reason}" for area, reason in self.failed.items()], ""]
        return "\n".join(lines)

    def write(self, folder: Path) -> tuple[Path, Path]:
        """bench.md and bench.json in `folder` (created if missing)."""
        folder.mkdir(parents=True, exist_ok=True)
        markdown, data = folder / "bench.md", folder / "bench.json"
        atomic_write_bytes(markdown, self.to_markdown().encode())
        atomic_write_bytes(data, (json.dumps(self.to_dict(), indent=2) + "\n").encode())
        return markdown, data
