"""The cross-generator matrix (`fakescope.evaluate.xgen`) as a heatmap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fakescope.evaluate.xgen import XgenResult, safe_name, xgen_markdown
from fakescope.formatting import text_bytes
from fakescope.report.plots import save_figure
from fakescope.runs import XGEN_FILE, atomic_write_bytes, write_json


def heatmap_figure(result: XgenResult, condition: str) -> Figure:
    """ROC-AUC per (detector, training set) row and test-family column; each cell also shows
    the accuracy at the stored threshold; a family seen in training is marked *."""
    rows = [(r["detector"], r["train_set"]) for r in result.runs]
    auc = np.full((len(rows), len(result.families)), np.nan)
    text = [["" for _ in result.families] for _ in rows]
    for cell in result.cells:
        if cell["condition"] != condition:
            continue
        i = rows.index((cell["detector"], cell["train_set"]))
        j = result.families.index(cell["test_family"])
        auc[i, j] = np.nan if cell["roc_auc"] is None else cell["roc_auc"]
        accuracy = "-" if cell["accuracy"] is None else f"{cell['accuracy']:.2f}"
        star = "*" if cell["seen"] else ""
        text[i][j] = f"{auc[i, j]:.3f}{star}\nacc {accuracy}"
    for i, run in enumerate(result.runs):
        if "error" in run:
            text[i] = ["failed" for _ in result.families]
    fig = Figure(figsize=(1.7 * len(result.families) + 3.2, 0.55 * len(rows) + 1.6),
                 layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(auc, cmap="RdYlGn", vmin=0.5, vmax=1.0, aspect="auto")
    for (i, j), label in np.ndenumerate(np.array(text, dtype=object)):
        ax.text(j, i, label, ha="center", va="center", fontsize="small")
    ax.set_xticks(range(len(result.families)), [f"test: {f}" for f in result.families])
    ax.set_yticks(range(len(rows)), [f"{d} / {t}" for d, t in rows])
    ax.set_title(f"ROC-AUC across generator families ({condition}; * = seen in training)")
    fig.colorbar(image, ax=ax, label="ROC-AUC")
    return fig


def keep_xgen(result: XgenResult, out: Path) -> list[Path]:
    """xgen.json and xgen.md (what a run so far has), each written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / XGEN_FILE, out / "xgen.md"]
    write_json(written[0], result.to_dict())
    atomic_write_bytes(written[1], text_bytes(xgen_markdown(result)))
    return written


def write_xgen(result: XgenResult, out: Path) -> list[Path]:
    """xgen.json, xgen.md and one ROC-AUC heatmap PNG per condition."""
    written = keep_xgen(result, out)
    for condition in result.conditions:
        written.append(save_figure(heatmap_figure(result, condition),
                                   out / f"xgen_{safe_name(condition)}.png"))
    return written
