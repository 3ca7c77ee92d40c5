"""The papers' GAN figures, drawn from a run's logs.

- losses.png: G and D loss per iteration (paper 000 Fig. 2; paper 001 Figs. 6-7), and D's mean
  output on real and generated batches.
- loss_phase.png: D loss against G loss, coloured by iteration (paper 004 Figs. 5, 7, 9).
- quality.png: FD/KID and sample diversity per epoch.
- disc_accuracy.png: D's batch-wise accuracy on held-out real and on generated images
  (paper 000 Fig. 4).

Figures are built with `matplotlib.figure.Figure` (no pyplot), so drawing touches no global
state and works without a display.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fakescope.gan.history import read_series
from fakescope.runs import atomic_write_bytes

QUALITY_TITLES = {"diversity": "diversity (samples / real images)", "fid": "FID", "kid": "KID"}
# Below this many points a curve gets a marker on each, so a short run's few values show.
FEW_POINTS = 30


def _save(fig: Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _smooth(values: Sequence[float], window: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if window <= 1 or len(array) < window:
        return array
    return np.convolve(array, np.ones(window) / window, mode="valid")


def _marker(points: int) -> str | None:
    return "o" if points < FEW_POINTS else None


def plot_losses(iterations_csv: Path, out: Path) -> Path | None:
    fig = losses_figure(iterations_csv)
    return _save(fig, out) if fig is not None else None


def losses_figure(iterations_csv: Path) -> Figure | None:
    steps, loss_g = read_series(iterations_csv, "step", "loss_g")
    _, loss_d = read_series(iterations_csv, "step", "loss_d")
    if not steps:
        return None
    _, d_real = read_series(iterations_csv, "step", "d_real")
    _, d_fake = read_series(iterations_csv, "step", "d_fake")
    marker = _marker(len(steps))
    window = max(1, len(steps) // 100)
    fig = Figure(figsize=(9, 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    smoothed = window > 1  # long runs: faint raw curve under a running mean
    for values, label, colour in ((loss_g, "G", "tab:blue"), (loss_d, "D", "tab:orange")):
        top.plot(steps, values, color=colour, alpha=0.3 if smoothed else 1.0, linewidth=0.8,
                 marker=marker, markersize=4, label=None if smoothed else label)
        if smoothed:
            top.plot(steps[window - 1 :], _smooth(values, window), color=colour,
                     label=f"{label} (mean of {window})")
    top.set_ylabel("loss")
    top.set_title("Generator and discriminator loss during training")
    top.legend()
    bottom.plot(steps, d_real, label="D(x), real", color="tab:green", linewidth=0.8,
                marker=marker, markersize=4)
    bottom.plot(steps, d_fake, label="D(G(z)), generated", color="tab:red", linewidth=0.8,
                marker=marker, markersize=4)
    bottom.set_ylim(-0.02, 1.02)
    bottom.set_xlabel("iteration")
    bottom.set_ylabel("mean D output")
    bottom.legend(loc="center right")
    return fig


def plot_loss_phase(iterations_csv: Path, out: Path) -> Path | None:
    steps, loss_g = read_series(iterations_csv, "step", "loss_g")
    _, loss_d = read_series(iterations_csv, "step", "loss_d")
    if not steps:
        return None
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.subplots()
    points = ax.scatter(loss_g, loss_d, c=steps, cmap="viridis", s=6, alpha=0.7)
    fig.colorbar(points, ax=ax, label="iteration")
    ax.set_xlabel("generator loss")
    ax.set_ylabel("discriminator loss")
    ax.set_title("Discriminator loss against generator loss")
    return _save(fig, out)


def plot_quality(
    epochs_csv: Path, out: Path, metric_columns: Sequence[str],
    floors: Mapping[str, tuple[float, str]] | None = None,
) -> Path | None:
    fig = quality_figure(epochs_csv, metric_columns, floors)
    return _save(fig, out) if fig is not None else None


def quality_figure(
    epochs_csv: Path, metric_columns: Sequence[str],
    floors: Mapping[str, tuple[float, str]] | None = None,
) -> Figure | None:
    """One panel per logged quality column (FD, KID, diversity ratio) against epoch, each with a
    dashed line where its floor is known (`quality_floors`): the goal a generator can reach."""
    series = [(name, *read_series(epochs_csv, "epoch", name)) for name in metric_columns]
    series = [(name, xs, ys) for name, xs, ys in series if xs]
    if not series:
        return None
    fig = Figure(figsize=(4.2 * len(series), 3.6))
    axes = np.atleast_1d(fig.subplots(1, len(series)))
    for ax, (name, xs, ys) in zip(axes, series, strict=True):
        ax.plot(xs, ys, marker="o", label=name)
        if floors and name in floors:
            value, label = floors[name]
            ax.axhline(value, linestyle="--", color="grey", label=label)
            ax.legend(fontsize="small")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(QUALITY_TITLES.get(name, name))
    return fig


def quality_floors(floor_file: Path) -> dict[str, tuple[float, str]]:
    """Where each quality column's goal lies: diversity 1 (as varied as the real images), and,
    when `floor_file` (a run's quality_vs_floor.json) was measured, its real-vs-real FD."""
    floors = {"diversity": (1.0, "real images")}
    try:
        data = json.loads(floor_file.read_text())
        name, fd, images = data["fd_name"], float(data["floor"]["fd"]), data.get("images", "?")
    except (OSError, ValueError, KeyError, TypeError):
        return floors  # not measured (or unreadable): only the diversity goal is known
    floors[str(name)] = (fd, f"real-vs-real floor ({images} images a side)")
    return floors


def plot_batch_accuracy(
    real_accuracy: Sequence[float], fake_accuracy: Sequence[float], out: Path
) -> Path:
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.subplots()
    ax.plot(range(1, len(real_accuracy) + 1), real_accuracy, marker="o", label="real images")
    ax.plot(range(1, len(fake_accuracy) + 1), fake_accuracy, marker="o", label="generated images")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("batch")
    ax.set_ylabel("accuracy")
    ax.set_title("Discriminator batch-wise accuracy on real and fake images")
    ax.legend()
    return _save(fig, out)
