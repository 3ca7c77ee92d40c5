"""Rows, ratios against the goals, and the Markdown and JSON report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from fakescope.bench.table import BenchReport, Row, comparison_row, goal_for
from fakescope.bench.timing import Comparison, Turn
from fakescope.formatting import format_measurement


@pytest.mark.parametrize(("key", "goal"), [
    ("data/later-epochs/64", 10.0),
    ("data/later-epochs/224", None),
    ("data/first-epoch/64", None),
    ("gan/cpu/64", 1.3),
    ("gan/cpu/128", None),
    ("gan/cuda/64", None),
    ("detect/cpu/resnet50/64", 2.0),
    ("detect/cuda/resnet50/64", None),
    ("inference/latency/efficientnet_b0/224", 1.5),
    ("inference/latency-1-thread/efficientnet_b0/224", None),
    ("inference/throughput/efficientnet_b0/224", None),
    ("serve/dcgan_disc64", None),
])  # fmt: skip
def test_goals_are_the_issues(key: str, goal: float | None) -> None:
    assert goal_for(key) == goal


def turns(*pairs: tuple[int, float, float]) -> list[Turn]:
    return [Turn(items, wall, cpu) for items, wall, cpu in pairs]


def test_a_rate_row_is_the_ratio_of_the_median_rates() -> None:
    comparison = Comparison(
        baseline=turns((64, 2.0, 2.0), (64, 8.0, 2.2), (64, 4.0, 2.4)),  # 32, 8, 16 img/s
        fakescope=turns((64, 1.0, 1.0), (64, 0.5, 1.1), (64, 2.0, 1.2)),  # 64, 128, 32 img/s
    )
    row = comparison_row("gan", "gan/cpu/64", "GAN step", "img/s", comparison, {"x": 1})
    assert (row.baseline, row.fakescope, row.ratio) == (16.0, 64.0, 4.0)
    assert row.cpu_ratio == pytest.approx(2.2 / 1.1)
    assert row.goal == 1.3 and row.met is True
    assert row.details["x"] == 1 and len(row.details["rounds"]["baseline"]) == 3


def test_a_latency_row_is_baseline_ms_over_fakescope_ms() -> None:
    comparison = Comparison(baseline=turns((10, 1.0, 1.0)), fakescope=turns((10, 0.8, 0.0)))
    row = comparison_row("inference", "inference/latency/efficientnet_b0/224", "latency", "ms",
                         comparison)
    assert (row.baseline, row.fakescope) == pytest.approx((100.0, 80.0))
    assert row.ratio == pytest.approx(1.25) and row.met is False
    assert row.cpu_ratio is None  # fakescope's clock did not advance


def sample_report() -> BenchReport:
    rows = [
        Row("data", "data/later-epochs/64", "later epochs 64x64", "img/s", 431.0, 7992.0, 18.54,
            17.0),
        Row("gan", "gan/cpu/64", "GAN step 64x64 batch 64", "img/s", 14.9, 17.6, 1.18, None),
        Row("serve", "serve/m", "requests/s", "req/s", 10.0, 12.0, 1.2, 1.5),
    ]  # fmt: skip
    machine = {"cpu": "AMD EPYC", "logical_cores": 2, "usable_cores": 2, "memory_gib": 23.5,
               "gpu": None, "os": "Linux", "python": "3.11.7", "torch": "2.14.1",
               "torch_threads": 2, "onnxruntime": "1.31.1"}  # fmt: skip
    return BenchReport(machine, "fakescope bench --out x", "2026-11-22 08:00 UTC", 720.0,
                       (1.0, 2.0, 3.0), (4.0, 5.0, 6.0), "2,000 faces", 3,
                       {"data": "what data compares"}, rows)


def test_markdown_holds_machine_command_table_and_goals() -> None:
    text = sample_report().to_markdown()
    assert "2 logical cores (2 usable), 23.5 GiB RAM, no GPU" in text
    assert "`fakescope bench --out x`" in text and "took 12.0 min" in text
    assert "1.00, 2.00, 3.00 before; 4.00, 5.00, 6.00 after" in text
    lines = text.splitlines()
    assert ("| data | later epochs 64x64 | 431 | 7,992 | img/s | **18.5x** | 17.0x | 10.0x "
            "| yes |") in lines
    assert ("| gan | GAN step 64x64 batch 64 | 14.9 | 17.6 | img/s | **1.18x** |  | 1.30x "
            "| **no** |") in lines
    assert "| serve | requests/s | 10.0 | 12.0 | req/s | **1.20x** | 1.50x |  |  |" in lines
    assert "- **data**: what data compares" in text


def test_written_json_round_trips_with_goals_and_verdicts(tmp_path: Path) -> None:
    markdown, data = sample_report().write(tmp_path / "new")
    assert markdown.read_text().startswith("# fakescope bench")
    report = json.loads(data.read_text())
    assert [(r["goal"], r["met"]) for r in report["rows"]] == [(10.0, True), (1.3, False),
                                                                (None, None)]
    assert report["goals"]["detect/cpu/*"] == 2.0 and report["rounds"] == 3
    assert all(math.isfinite(r["ratio"]) for r in report["rows"])


@pytest.mark.parametrize(("value", "text"), [
    (7992.4, "7,992"), (100.0, "100"), (17.64, "17.6"), (1.184, "1.18"), (0.171, "0.17"),
])  # fmt: skip
def test_numbers_keep_about_three_figures(value: float, text: str) -> None:
    assert format_measurement(value) == text
