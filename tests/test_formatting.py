"""The one plain-text table every command prints: aligned columns, None as a dash."""

from __future__ import annotations

from fakescope.formatting import format_table


def test_columns_align_and_undefined_values_read_as_a_dash() -> None:
    table = format_table(("metric", "value"), [("accuracy", 0.91234), ("roc_auc", None)])
    assert table.splitlines() == ["metric    value", "accuracy  0.9123", "roc_auc   -"]
