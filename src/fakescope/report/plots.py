"""Figures of evaluations, comparisons, robustness sweeps and training logs (matplotlib).

Figures are built with `matplotlib.figure.Figure` directly rather than pyplot, so no global
backend or figure registry is touched: safe in servers and threads, nothing to close.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

from fakescope.evaluate.compare import Comparison
from fakescope.evaluate.evaluate import Evaluation
from fakescope.evaluate.robustness import STRENGTH_NAMES, SWEPT_METRICS, Robustness
from fakescope.formatting import display_text

CLASS_NAMES = ("real", "fake")
# Columns of a metrics log that are positions or bookkeeping, not curves worth drawing.
_NOT_CURVES = {
    "epoch", "step", "iteration", "batch", "batches", "time", "seconds", "elapsed", "wall_time",
}  # fmt: skip
_SPLIT_PREFIX = re.compile(r"^(train|val|valid|validation|test)_")
MAX_CURVE_PANELS = 12


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    for text in fig.findobj(Text):  # a run or file name need not be UTF-8; fonts need Unicode
        text.set_text(display_text(text.get_text()))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def save_figure(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(figure_png(fig))
    return path


def confusion_figure(confusion: Sequence[Sequence[int]], title: str = "") -> Figure:
    """Heatmap of counts, coloured by the share of each true class (so imbalance shows)."""
    counts = np.asarray(confusion, dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    fig = Figure(figsize=(4.2, 3.6), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (row, col), n in np.ndenumerate(counts):
        colour = "white" if shares[row, col] > 0.5 else "black"
        label = f"{n}\n{shares[row, col]:.1%}"
        ax.text(col, row, label, ha="center", va="center", color=colour)
    ax.set_xticks([0, 1], [f"predicted {c}" for c in CLASS_NAMES])
    ax.set_yticks([0, 1], [f"true {c}" for c in CLASS_NAMES])
    ax.set_title(title or "Confusion matrix")
    fig.colorbar(image, ax=ax, label="share of true class")
    return fig


def roc_figure(evaluations: Sequence[Evaluation], title: str = "ROC curve") -> Figure:
    """ROC curves of one or more evaluations, overlaid, with their AUCs in the legend."""
    fig = Figure(figsize=(4.8, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    for e in evaluations:
        if e.roc["fpr"]:
            auc = e.metrics.get("roc_auc")
            ax.plot(e.roc["fpr"], e.roc["tpr"], label=f"{e.model} (AUC {auc:.3f})")
    ax.set_xlabel("false-positive rate (real called fake)")
    ax.set_ylabel("true-positive rate (fake called fake)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    return fig


def pr_figure(evaluations: Sequence[Evaluation], title: str = "Precision-recall (fake)") -> Figure:
    fig = Figure(figsize=(4.8, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for e in evaluations:
        if e.pr["recall"]:
            ap = e.metrics.get("average_precision")
            label = e.model if ap is None else f"{e.model} (AP {ap:.3f})"
            ax.plot(e.pr["recall"], e.pr["precision"], label=label)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize="small")
    return fig


def reliability_figure(evaluation: Evaluation) -> Figure:
    """Observed share of fakes against mean predicted P(fake) per bin, with bin counts below;
    before and after calibration when the evaluation has both."""
    bins = evaluation.reliability
    before = evaluation.reliability_uncalibrated
    temperature = evaluation.calibration.get("temperature", 1.0)
    fig = Figure(figsize=(4.8, 5.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    ece = evaluation.metrics.get("ece")
    ece_before = evaluation.metrics.get("ece_uncalibrated")
    calibrated = evaluation.calibration.get("method", "none") != "none"
    if before and calibrated:
        top.plot(before["mean_probability"], before["fake_fraction"], marker="s", alpha=0.6,
                 label=f"before calibration (ECE {ece_before:.3f})")
        after = f"after, T = {temperature:.3g} (ECE {ece:.3f})"
        top.plot(bins["mean_probability"], bins["fake_fraction"], marker="o", label=after)
        top.set_title(f"Reliability of {evaluation.model}")
    else:
        top.plot(bins["mean_probability"], bins["fake_fraction"], marker="o",
                 label=evaluation.model)
        top.set_title("Reliability" + (f" (ECE {ece:.3f})" if ece is not None else ""))
    top.set_ylabel("observed share of fakes")
    top.set_ylim(0, 1)
    top.legend(loc="upper left", fontsize="small")
    bottom.bar(bins["mean_probability"], bins["count"], width=0.04)
    bottom.set_xlabel("predicted P(fake)" + (" (calibrated)" if calibrated else ""))
    bottom.set_ylabel("images")
    bottom.set_xlim(0, 1)
    return fig


def robustness_figure(result: Robustness, kind: str) -> Figure:
    """Each swept metric against the corruption's strength, one line per model."""
    fig = Figure(figsize=(3.2 * len(SWEPT_METRICS), 3.2), layout="constrained")
    axes = fig.subplots(1, len(SWEPT_METRICS), squeeze=False)[0]
    for ax, metric in zip(axes, SWEPT_METRICS, strict=False):
        for model in result.models():
            strengths, values = result.series(model, kind, metric)
            y = [np.nan if v is None else v for v in values]
            ax.plot(strengths, y, marker="o", label=model)
        ax.set_title(metric)
        ax.set_xlabel(STRENGTH_NAMES.get(kind, kind))
        if kind in ("jpeg", "downscale"):
            ax.invert_xaxis()  # stronger corruption to the right, like blur and noise
    axes[0].legend(fontsize="small")
    fig.suptitle(f"Robustness to {kind}")
    return fig


def _numeric(values: Sequence[str]) -> np.ndarray | None:
    try:
        return np.array([float(v) if v != "" else np.nan for v in values])
    except ValueError:
        return None


def training_curves_figure(
    rows: Sequence[dict[str, str]], floors: Mapping[str, tuple[float, str]] | None = None
) -> Figure | None:
    """One panel per metric of a metrics log (train_/val_ variants share a panel), against its
    step or epoch column; None when the log holds nothing to draw. A panel named in `floors`
    (panel -> (value, label)) gets a dashed line there: the goal its curve approaches."""
    if not rows:
        return None
    columns = list(rows[0].keys())
    x_name: str | None = next((c for c in ("step", "iteration", "epoch") if c in columns), None)
    x = _numeric([r.get(x_name, "") for r in rows]) if x_name else None
    if x is None:
        x, x_name = np.arange(len(rows), dtype=float), "row"
    panels: dict[str, list[tuple[str, np.ndarray]]] = {}
    for column in columns:
        if column in _NOT_CURVES or column == x_name:
            continue
        values = _numeric([r.get(column, "") for r in rows])
        if values is None or np.isnan(values).all():
            continue
        panels.setdefault(_SPLIT_PREFIX.sub("", column), []).append((column, values))
    if not panels:
        return None
    names = list(panels)[:MAX_CURVE_PANELS]
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.0 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, names, strict=False):
        for column, values in panels[name]:
            keep = ~np.isnan(values)
            marker = "o" if keep.sum() < 30 else None
            ax.plot(x[keep], values[keep], marker=marker, markersize=3, label=column)
        if floors and name in floors:
            value, label = floors[name]
            ax.axhline(value, linestyle="--", color="grey", label=label)
        ax.set_title(name)
        ax.set_xlabel(x_name)
        ax.legend(fontsize="small")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    return fig


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def write_evaluation_plots(evaluation: Evaluation, out_dir: Path) -> list[Path]:
    """confusion.png, roc.png, pr.png and reliability.png of one evaluation."""
    title = f"{evaluation.model} on {evaluation.split}"
    return [
        save_figure(confusion_figure(evaluation.confusion, title), out_dir / "confusion.png"),
        save_figure(roc_figure([evaluation]), out_dir / "roc.png"),
        save_figure(pr_figure([evaluation]), out_dir / "pr.png"),
        save_figure(reliability_figure(evaluation), out_dir / "reliability.png"),
    ]


def write_comparison_plots(comparison: Comparison, out_dir: Path) -> list[Path]:
    """A confusion heatmap per model, and overlaid ROC and PR curves."""
    written = [
        save_figure(
            confusion_figure(e.confusion, e.model), out_dir / f"confusion-{_slug(e.model)}.png"
        )
        for e in comparison.evaluations
    ]
    written.append(save_figure(roc_figure(comparison.evaluations), out_dir / "roc.png"))
    written.append(save_figure(pr_figure(comparison.evaluations), out_dir / "pr.png"))
    return written


def write_robustness_plots(result: Robustness, out_dir: Path) -> list[Path]:
    """robustness-<corruption>.png for every corruption swept."""
    kinds = dict.fromkeys(row["corruption"] for row in result.rows)
    return [
        save_figure(robustness_figure(result, kind), out_dir / f"robustness-{kind}.png")
        for kind in kinds
    ]
