"""Alternating turns: order, warm-up, counts, and the figures taken from them."""

from __future__ import annotations

import pytest

from fakescope.bench.timing import Comparison, Side, Turn, alternate


def test_rounds_alternate_which_side_goes_first_after_one_warmup_each() -> None:
    calls: list[str] = []

    def side(name: str, items: int) -> Side:
        def turn() -> int:
            calls.append(name)
            return items

        return Side(turn, warmup=lambda: calls.append(f"{name} warm-up"))

    comparison = alternate(side("b", 4), side("f", 8), rounds=3)
    assert calls == ["b warm-up", "f warm-up", "b", "f", "f", "b", "b", "f"]
    assert [t.items for t in comparison.baseline] == [4, 4, 4]
    assert [t.items for t in comparison.fakescope] == [8, 8, 8]
    assert all(t.wall_s >= 0 and t.cpu_s >= 0 for t in comparison.baseline)


def test_a_side_may_read_another_process_cpu_clock() -> None:
    readings = iter([10.0, 10.5, 20.0, 22.0])
    server = Side(lambda: 5, cpu_clock=lambda: next(readings))
    comparison = alternate(server, Side(lambda: 5), rounds=2)
    assert [t.cpu_s for t in comparison.baseline] == [0.5, 2.0]


def test_a_turn_without_items_or_no_rounds_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="handled no items"):
        alternate(Side(lambda: 0), Side(lambda: 1), rounds=1)
    with pytest.raises(ValueError, match="rounds must be at least 1"):
        alternate(Side(lambda: 1), Side(lambda: 1), rounds=0)


def test_figures_are_medians_over_rounds() -> None:
    comparison = Comparison(
        baseline=[Turn(10, 1.0, 0.5), Turn(10, 5.0, 0.6), Turn(10, 2.0, 0.7)],
        fakescope=[Turn(10, 0.5, 0.2), Turn(10, 0.5, 0.0), Turn(10, 0.5, 0.2)],
    )
    assert comparison.rate("baseline") == 5.0  # 10, 2 and 5 img/s
    assert comparison.ms_per_item("baseline") == 200.0
    assert comparison.cpu_per_item("baseline") == pytest.approx(0.06)
    assert comparison.cpu_per_item("fakescope") is None  # a clock that did not advance
    assert comparison.to_dict()["fakescope"][0] == {"items": 10, "wall_s": 0.5, "cpu_s": 0.2}
