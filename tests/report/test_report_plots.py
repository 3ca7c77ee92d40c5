"""Figures from evaluation, comparison, robustness and training-log data."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from fakescope.evaluate.compare import Comparison
from fakescope.evaluate.evaluate import Evaluation
from fakescope.evaluate.robustness import SWEPT_METRICS, Robustness
from fakescope.report import plots

EvaluationFactory = Callable[..., Evaluation]


def _png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.size


def test_evaluation_plots_are_written(tmp_path: Path, make_evaluation: EvaluationFactory) -> None:
    written = plots.write_evaluation_plots(make_evaluation(), tmp_path)
    assert [p.name for p in written] == ["confusion.png", "roc.png", "pr.png", "reliability.png"]
    for path in written:
        width, height = _png_size(path.read_bytes())
        assert width > 200 and height > 200


def test_confusion_figure_shows_counts_and_shares() -> None:
    fig = plots.confusion_figure([[8, 2], [1, 9]], "m")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["8\n80.0%", "2\n20.0%", "1\n10.0%", "9\n90.0%"]
    empty = plots.confusion_figure([[0, 0], [3, 1]])  # a class with no images
    assert [t.get_text() for t in empty.axes[0].texts][:2] == ["0\n0.0%", "0\n0.0%"]


def test_overlaid_roc_has_one_line_per_model(
    tmp_path: Path, make_evaluation: EvaluationFactory
) -> None:
    comparison = Comparison("test", [make_evaluation("a", 1), make_evaluation("b", 2)])
    fig = plots.roc_figure(comparison.evaluations)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels[0] == "chance" and labels[1].startswith("a (AUC") and labels[2].startswith("b")
    written = plots.write_comparison_plots(comparison, tmp_path)
    assert {p.name for p in written} == {"confusion-a.png", "confusion-b.png", "roc.png", "pr.png"}


def test_robustness_figure_has_a_panel_per_metric_and_a_line_per_model() -> None:
    rows = [
        {"model": m, "corruption": "jpeg", "strength": q, "metrics": {"accuracy": a, "eer": None}}
        for m, a0 in (("a", 0.9), ("b", 0.8))
        for q, a in ((100.0, a0), (50.0, a0 - 0.1), (30.0, a0 - 0.3))
    ]
    fig = plots.robustness_figure(Robustness("test", rows), "jpeg")
    assert len(fig.axes) == len(SWEPT_METRICS)
    accuracy = fig.axes[SWEPT_METRICS.index("accuracy")]
    assert [line.get_label() for line in accuracy.get_lines()] == ["a", "b"]
    assert list(accuracy.get_lines()[0].get_ydata()) == [0.9, 0.8, 0.6000000000000001]
    assert accuracy.xaxis_inverted()  # lower quality = stronger corruption, to the right


def test_training_curves_group_train_and_val_columns() -> None:
    rows = [
        {"epoch": str(e), "train_loss": str(1 / e), "val_loss": str(1.2 / e), "lr": "0.001",
         "seconds": "3.0", "note": "x"}
        for e in range(1, 5)
    ]  # fmt: skip
    fig = plots.training_curves_figure(rows)
    assert fig is not None
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["loss", "lr"]
    loss = fig.axes[0]
    assert [line.get_label() for line in loss.get_lines()] == ["train_loss", "val_loss"]
    assert loss.get_xlabel() == "epoch"


def test_training_curves_of_nothing() -> None:
    assert plots.training_curves_figure([]) is None
    assert plots.training_curves_figure([{"epoch": "1", "note": "x"}]) is None


def test_training_curves_draw_a_floor_on_its_panel() -> None:
    rows = [{"epoch": str(e), "diversity": str(0.2 * e), "loss_d": "1"} for e in range(1, 4)]
    fig = plots.training_curves_figure(rows, {"diversity": (1.0, "real images")})
    assert fig is not None
    diversity, loss = fig.axes[0], fig.axes[1]
    assert [line.get_label() for line in diversity.get_lines()] == ["diversity", "real images"]
    assert [line.get_label() for line in loss.get_lines()] == ["loss_d"]
