"""One self-contained HTML page for a run folder (or a folder of runs) that opens offline.

Everything is embedded: figures as base64 PNG data URIs, styles inline, no scripts, no links
to assets. The page shows whatever the folder holds and leaves out what it does not (a GAN run
has no confusion matrix, a detector run no sample grid):

    config.yaml            the resolved config
    data_report.json       what the data layer found
    *.csv                  training logs: curves, and FID/KID columns of GAN runs
    *.json                 other results a job wrote beside them (GAN FID/KID); speed.json's
                           probes go to the folded run internals
    quality_vs_floor.json  a GAN's FD/KID/diversity next to the real-vs-real floor, shown with
                           real_grid.png and fake_grid.png side by side
    samples/*.png          generated sample grids (the latest few)
    report/*.png           figures the job drew itself
    **/evaluation.json     evaluations (metrics, confusion, ROC, PR, calibration, Grad-CAM,
                           joint decisions of detector and provenance per class and per example)
    **/comparison.json     model comparisons
    **/robustness.json     robustness sweeps

A folder whose sub-folders are runs (each with its own config.yaml) gets one section per run.
A folder with a model comparison or a GAN's floor comparison (the demo's) opens with a summary:
the best detector, the GAN against the floor with real and generated faces side by side, and
the demo's stage times. A single run's folder opens with its own summary (`report.summary`):
test metrics, calibration, what it trained on. Either says first when the data was the demo's
synthetic faces. A glossary of the metrics, the runs' internals (speed probes, learning-rate
curves) and the configs come last, folded away.
"""

from __future__ import annotations

import base64
import csv
import datetime
import html
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from fakescope.evaluate.compare import TABLE_COLUMNS, Comparison, best_by, read_comparison
from fakescope.evaluate.evaluate import Evaluation, model_name, read_evaluation
from fakescope.evaluate.robustness import Robustness
from fakescope.evaluate.xgen import CELL_METRICS, XgenResult
from fakescope.formatting import format_probability, format_value, text_bytes
from fakescope.gan.interpret import diversity_words
from fakescope.gan.plots import quality_floors
from fakescope.report import plots
from fakescope.report.summary import glossary_section, run_summary, synthetic_data, synthetic_note
from fakescope.report.xgen import heatmap_figure
from fakescope.runs import (
    COMPARISON_FILE,
    DEMO_MARKER,
    EVALUATION_FILE,
    EXAMPLES_FILE,
    FAKE_GRID_FILE,
    FLOOR_COMPARISON_FILE,
    REAL_GRID_FILE,
    REPORT_FILE,
    ROBUSTNESS_FILE,
    SPEED_FILE,
    TIMINGS_FILE,
    XGEN_FILE,
    RunDir,
    atomic_write_bytes,
    demo_detector_checkpoint,
)

MAX_SAMPLE_IMAGES = 4
MAX_GRADCAM_IMAGES = 12
DASH = "–"  # an undefined value (None) in a table
MAX_BAD_FILES_LISTED = 20
# Folders that hold a run's outputs, never a nested run.
_NOT_RUN_FOLDERS = {"checkpoints", "samples", "report", "evaluation", "gradcam"}
_HEADLINE = (
    "accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "eer",
    "sensitivity", "specificity", "paper002_sensitivity", "paper002_specificity",
    "log_loss", "brier", "ece",
)  # fmt: skip
_QUALITY_COLUMN = re.compile(r"^(fid|fd_|kid)")
_OWN_JSON = {
    "data_report.json", EVALUATION_FILE, COMPARISON_FILE, ROBUSTNESS_FILE, FLOOR_COMPARISON_FILE,
    DEMO_MARKER, TIMINGS_FILE, XGEN_FILE,
}
# How the run ran rather than what it found: shown folded at the end, not under Results.
_INTERNAL_JSON = {SPEED_FILE}
_INTERNAL_COLUMN = re.compile(r"^(lr(_|$)|images_per_s|cpu_s$)")  # learning rates, throughput
# The comparison's columns shown in the page's width; the full table is folded below them.
_COMPARISON_MAIN = ("roc_auc", "average_precision", "eer", "accuracy", "ece", "threshold")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222;
       padding: 0 1rem; }
h1 { border-bottom: 2px solid #446; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #99a; }
h3 { margin-top: 1.8rem; color: #334; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
.table-wrap { max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #ccd; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #eef; }
pre { background: #f6f6f9; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
figure { display: inline-block; margin: 0.4rem; vertical-align: top; text-align: center; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.8rem; color: #555; max-width: 320px; overflow-wrap: anywhere; }
.note { color: #666; font-style: italic; }
.warning { background: #fff4d6; border-left: 4px solid #e0a800; padding: 0.3rem 0.6rem; }
dl.glossary dt { font-weight: bold; margin-top: 0.5rem; }
dl.glossary dd { margin-left: 1.2rem; }
#summary { background: #f4f6fb; border: 1px solid #ccd; padding: 0 1rem 0.5rem; }
#summary h2 { margin-top: 0.8rem; }
.answer { font-size: 1.15rem; margin: 0.4rem 0; }
.columns { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.columns > div { flex: 1 1 420px; }
nav li { margin: 0.15rem 0; }
"""


def _is_run(folder: Path) -> bool:
    return (folder / "config.yaml").is_file()


def find_runs(root: Path) -> list[Path]:
    """Run folders at or below `root` (any folder holding a config.yaml), in path order."""
    found = [root] if _is_run(root) else []
    for config in sorted(root.rglob("config.yaml")):
        folder = config.parent
        relative = folder.relative_to(root).parts
        if folder != root and not _NOT_RUN_FOLDERS.intersection(relative):
            found.append(folder)
    return found


def _own_files(folder: Path, name: str, runs: Sequence[Path]) -> list[Path]:
    """Files called `name` under `folder` that do not belong to a run nested inside it."""
    nested = [r for r in runs if r != folder and folder in r.parents]
    return [
        p
        for p in sorted(folder.rglob(name))
        if not any(r in p.parents for r in nested)
    ]


# --- small HTML builders --------------------------------------------------------------------


def _e(text: Any) -> str:
    return html.escape(str(text))


def _image(png: bytes, caption: str = "", width: int | None = None) -> str:
    data = base64.b64encode(png).decode("ascii")
    size = f' style="width:{width}px"' if width else ""
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    source = f"data:image/png;base64,{data}"
    return f'<figure><img{size} alt="{_e(caption)}" src="{source}">{cap}</figure>'


def _figure(fig: Figure, caption: str = "") -> str:
    return _image(plots.figure_png(fig), caption)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(format_value(v, DASH))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    # a wide table scrolls inside its own box, never the page
    return f"<div class='table-wrap'><table><tr>{head}</tr>{body}</table></div>"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --- sections -------------------------------------------------------------------------------


def configs_section(root: Path, folders: Sequence[Path]) -> str:
    """Every run's config.yaml (and the demo's own settings), each folded away."""
    files = [root / DEMO_MARKER] + [RunDir(f).config for f in folders]
    parts = [
        f"<details><summary>{_e(path.relative_to(root))}</summary>"
        f"<pre>{_e(path.read_text())}</pre></details>"
        for path in dict.fromkeys(files) if path.is_file()
    ]
    return "".join(parts)


# --- the summary: the answer first -----------------------------------------------------------


def _first(root: Path, name: str) -> Path | None:
    """The first file called `name` at or below `root`, outside output folders."""
    for path in sorted(root.rglob(name), key=lambda p: (len(p.parts), p)):
        if not _NOT_RUN_FOLDERS.intersection(path.relative_to(root).parts[:-1]):
            return path
    return None


def _threshold_source(root: Path, comparison: Comparison, model: str) -> str:
    """How the best model's threshold was chosen: a comparison reads the stored threshold, so
    the rule comes from that checkpoint's own evaluation (e.g. "eer on val"), when there is one."""
    evaluation = next(e for e in comparison.evaluations if e.model == model)
    if evaluation.threshold_source != "checkpoint":
        return evaluation.threshold_source
    checkpoint = Path(evaluation.checkpoint).resolve()
    for path in sorted(root.rglob(EVALUATION_FILE)):
        own = read_evaluation(path)
        if Path(own.checkpoint).resolve() == checkpoint and own.threshold_source != "checkpoint":
            return own.threshold_source
    return "stored in the checkpoint"


def _detector_summary(root: Path, path: Path) -> str:
    comparison = read_comparison(path)
    table = comparison.table()
    if not table:
        return ""
    best = best_by(table)
    source = _threshold_source(root, comparison, best["model"])
    answer = (
        f"<p class='answer'>Best detector: <b id='best-model'>{_e(best['model'])}</b>, "
        f"ROC-AUC <b id='best-roc-auc'>{_e(format_value(best.get('roc_auc'), DASH))}</b>, accuracy "
        f"<b>{_e(format_value(best.get('accuracy'), DASH))}</b> "
        f"on the {_e(comparison.split)} split, "
        f"at threshold <b>{_e(format_probability(best.get('threshold')))}</b> "
        f"({_e(source)}).</p>"
    )
    columns = ("roc_auc", "accuracy", "eer", "threshold")
    rows = _with_percent_thresholds(table, columns)
    recommended = _recommended_note(root, table, best["model"])
    return answer + recommended + _table(("model", *columns), rows)


def _recommended_note(root: Path, table: list[dict[str, Any]], best: str) -> str:
    """In a demo folder: which detector the demo recommends and serves, and why the test split's
    best may differ (that split holds only the fakes of the GAN every detector trained on)."""
    settings = _read_json(root / DEMO_MARKER)
    name = settings.get("recommended") if isinstance(settings, dict) else None
    if not isinstance(name, str):
        return ""
    model = model_name(demo_detector_checkpoint(root, name))
    row = next((r for r in table if r["model"] == model), None)
    if row is None:
        return ""
    why = (
        "It is the best here too, and" if model == best else
        "The test split holds only fakes of the GAN every detector trained on; this one"
    )
    return (
        f"<p>Recommended detector: <b id='recommended-model'>{_e(model)}</b> (ROC-AUC "
        f"{_e(format_value(row.get('roc_auc'), DASH))} here), served by "
        "<code>fakescope demo --serve</code> and a bare <code>fakescope serve</code>. "
        f"{why} ranks fakes of generators it never saw best of the detectors fakescope "
        "measured (docs/cross-generator.md).</p>"
    )


def _with_percent_thresholds(
    table: Sequence[dict[str, Any]], columns: Sequence[str]
) -> list[list[Any]]:
    """Rows of a comparison table with the threshold in percent, like every probability."""
    return [
        [row["model"] + ("" if row.get("calibrated", True) else " (uncalibrated)"),
         *(format_probability(row.get(c)) if c == "threshold" else row.get(c) for c in columns)]
        for row in table
    ]  # fmt: skip


def _gan_summary(path: Path) -> str:
    data = _read_json(path)
    if not isinstance(data, dict):
        return ""
    fake, floor = data.get("fake", {}), data.get("floor", {})
    name = data.get("fd_name", "FD")
    diversity = fake.get("diversity")
    words = f" ({diversity_words(diversity)})" if isinstance(diversity, (int, float)) else ""
    text = (
        f"<p>GAN: {_e(name)} <b>{_e(format_value(fake.get('fd'), DASH))}</b> against "
        f"{_e(data.get('images', '?'))} held-out real faces, where a second set of real faces "
        f"scores {_e(format_value(floor.get('fd'), DASH))} (the floor): "
        f"<b>{_e(format_value(data.get('fd_over_floor'), DASH))}x</b> the floor (goal: near "
        f"1x); diversity {_e(format_value(diversity, DASH))} of the reals'{words}.</p>"
    )
    grids = "".join(
        _image((path.parent / name).read_bytes(), caption, width=240)
        for name, caption in ((REAL_GRID_FILE, "real faces (held out)"),
                              (FAKE_GRID_FILE, "generated faces"))
        if (path.parent / name).is_file()
    )
    return text + f"<div id='face-grids'>{grids}</div>"


def _timings_summary(root: Path) -> str:
    data = _read_json(root / TIMINGS_FILE)
    stages = data.get("stage_seconds") if isinstance(data, dict) else None
    if not stages:
        return ""
    listed = "; ".join(f"{name} {seconds:.0f} s" for name, seconds in stages.items())
    total = sum(stages.values())
    return f"<p class='note'>Stage times, {total:.0f} s in all: {_e(listed)}.</p>"


def summary_section(root: Path, runs: Sequence[Path] = ()) -> str:
    """The answer first: the best detector, the GAN against the floor, the faces, the time;
    for a single run, its own summary. A note on synthetic data comes before either."""
    comparison, floor = _first(root, COMPARISON_FILE), _first(root, FLOOR_COMPARISON_FILE)
    detectors = _detector_summary(root, comparison) if comparison else ""
    gan = _gan_summary(floor) if floor else ""
    if not detectors and _is_run(root):
        detectors = run_summary(root)
    if not (detectors or gan):
        return ""
    synthetic = synthetic_note() if synthetic_data(root, runs) else ""
    right = f"<div>{gan}</div>" if gan else ""
    return (
        f"<section id='summary'><h2>Summary</h2>{synthetic}<div class='columns'>"
        f"<div>{detectors}{_timings_summary(root)}</div>{right}</div></section>"
    )


def data_section(run: RunDir) -> str:
    report = _read_json(run.data_report)
    if not isinstance(report, dict):
        return ""
    counts = report.get("counts") or {}
    rows = [
        (split, c.get("real", 0), c.get("fake", 0), c.get("real", 0) + c.get("fake", 0))
        for split, c in counts.items()
    ]
    parts = [
        "<h3>Data</h3>",
        f"<p>{_e(report.get('root', ''))} (layout: {_e(report.get('layout', '?'))})</p>",
        _table(("split", "real", "fake", "total"), rows) if rows else "",
    ]
    sizes = report.get("image_sizes") or {}
    if sizes.get("most_common"):
        common = ", ".join(f"{s['size']} ({s['count']})" for s in sizes["most_common"])
        parts.append(f"<p>Most common source sizes: {_e(common)}</p>")
    if report.get("faces"):
        found, missing = report["faces"].get("found"), report["faces"].get("missing")
        parts.append(f"<p>Faces found: {_e(found)}, missing: {_e(missing)}</p>")
    bad = report.get("bad_files") or []
    if bad:
        listed = bad[:MAX_BAD_FILES_LISTED]
        parts.append(f"<p>{len(bad)} unreadable file(s) skipped:</p>")
        parts.append(_table(("file", "reason"), [(b["path"], b["reason"]) for b in listed]))
    return "".join(parts)


def _logs(run: RunDir) -> dict[str, list[dict[str, str]]]:
    """The run's top-level CSV logs (metrics.csv first, then e.g. a GAN's epochs.csv)."""
    paths = sorted(run.path.glob("*.csv"), key=lambda p: (p != run.metrics, p.name))
    logs = {}
    for path in paths:
        with path.open(newline="") as handle:
            logs[path.name] = list(csv.DictReader(handle))
    return logs


def _columns(rows: list[dict[str, str]], internal: bool) -> list[dict[str, str]]:
    """The log's rows with only its internal columns (learning rates, throughput) and the x
    axis, or without them."""
    def keep(column: str) -> bool:
        return column in ("step", "epoch") or bool(_INTERNAL_COLUMN.match(column)) == internal

    return [{k: v for k, v in row.items() if keep(k)} for row in rows]


def training_section(run: RunDir) -> str:
    parts = []
    floors = quality_floors(run.path / FLOOR_COMPARISON_FILE)  # a GAN's goals; none for others
    for name, rows in _logs(run).items():
        fig = plots.training_curves_figure(_columns(rows, internal=False), floors)
        if fig is None:
            continue
        summary = _table(("column", "last value"), list(rows[-1].items()))
        parts.append(
            f"<h4>{_e(name)}</h4>{_figure(fig, name)}"
            f"<details><summary>last row of {_e(name)}</summary>{summary}</details>"
        )
    return "<h3>Training curves</h3>" + "".join(parts) if parts else ""


def quality_section(run: RunDir) -> str:
    """The latest FID/FD and KID a GAN run logged (columns fid*, fd_*, kid*)."""
    latest: dict[str, str] = {}
    for rows in _logs(run).values():
        for row in rows:
            for column, value in row.items():
                if _QUALITY_COLUMN.match(column) and value not in ("", None):
                    latest[column] = value
    if not latest:
        return ""
    return "<h3>Sample quality (FID/KID)</h3>" + _table(
        ("metric", "latest value"), sorted(latest.items())
    )


def floor_section(run: RunDir) -> str:
    """Real and generated faces side by side, and the GAN's FD/KID/diversity against held-out
    real images next to the floor: the same numbers for a second set of real images."""
    data = _read_json(run.path / FLOOR_COMPARISON_FILE)
    if not isinstance(data, dict):
        return ""
    grids = "".join(
        _image((run.path / name).read_bytes(), caption, width=360)
        for name, caption in ((REAL_GRID_FILE, "held-out real"), (FAKE_GRID_FILE, "generated"))
        if (run.path / name).is_file()
    )
    fake, floor = data.get("fake", {}), data.get("floor", {})
    rows = [
        (data.get("fd_name", "FD"), fake.get("fd"), floor.get("fd")),
        (data.get("kid_name", "KID"), fake.get("kid"), floor.get("kid")),
        ("diversity (ratio to the reals')", fake.get("diversity"), floor.get("diversity")),
    ]
    note = (f"<p class='note'>{_e(data.get('images', ''))} images on each side; "
            f"{_e(data.get('reals', ''))}. FD over floor: "
            f"{format_value(data.get('fd_over_floor'), DASH)}"
            " (1 is as close as a second set of real images).</p>")
    return ("<h3>Real and generated faces</h3>" + grids
            + _table(("metric", "generated vs real", "real vs real (floor)"), rows) + note)


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        items: list[tuple[str, Any]] = []
        for key, value in data.items():
            items += _flatten(value, f"{prefix}{key}.")
        return items
    if isinstance(data, list):
        return [(prefix.rstrip("."), json.dumps(data)[:120])]
    return [(prefix.rstrip("."), data)]


def results_section(run: RunDir) -> str:
    """Other JSON results at the run's top level (FID/KID of GAN runs), not its internals."""
    parts = []
    for path in sorted(run.path.glob("*.json")):
        if path.name in _OWN_JSON | _INTERNAL_JSON:
            continue
        data = _read_json(path)
        if data is None:
            continue
        parts.append(f"<h4>{_e(path.name)}</h4>{_table(('key', 'value'), _flatten(data))}")
    return "<h3>Results</h3>" + "".join(parts) if parts else ""


def internals_block(run: RunDir) -> str:
    """How the run ran: its speed probes (speed.json), learning-rate and throughput curves."""
    parts = []
    for name in sorted(_INTERNAL_JSON):
        data = _read_json(run.path / name)
        if data is not None:
            parts.append(f"<h4>{_e(name)}</h4>{_table(('key', 'value'), _flatten(data))}")
    for name, rows in _logs(run).items():
        fig = plots.training_curves_figure(_columns(rows, internal=True))
        if fig is not None:
            parts.append(f"<h4>learning rate and throughput ({_e(name)})</h4>"
                         + _figure(fig, name))
    return "".join(parts)


def samples_section(run: RunDir) -> str:
    images = sorted(run.samples.glob("*.png")) if run.samples.is_dir() else []
    if not images:
        return ""
    latest = images[-MAX_SAMPLE_IMAGES:]
    note = ""
    if len(images) > len(latest):
        note = f"<p class='note'>latest {len(latest)} of {len(images)}</p>"
    return "<h3>Generated samples</h3>" + note + "".join(
        _image(p.read_bytes(), p.name) for p in latest
    )


def figures_section(run: RunDir) -> str:
    images = sorted(run.report.glob("*.png")) if run.report.is_dir() else []
    if not images:
        return ""
    return "<h3>Figures</h3>" + "".join(_image(p.read_bytes(), p.name) for p in images)


def evaluation_block(evaluation: Evaluation, folder: Path) -> str:
    m = evaluation.metrics
    header = (
        f"<h3>Evaluation: {_e(evaluation.model)} on {_e(evaluation.split)}</h3>"
        f"<p>{_e(m.get('n'))} images ({_e(m.get('n_real'))} real, {_e(m.get('n_fake'))} fake); "
        f"threshold {_e(format_probability(evaluation.threshold))} "
        f"({_e(evaluation.threshold_source)}). "
        "Sensitivity/specificity: fake and real recall; paper002_*: the same in paper 002's "
        "terms (its sensitivity is the real recall).</p>"
    )
    table = _table(("metric", "value"), [(k, m.get(k)) for k in _HEADLINE if k in m])
    figures = [_figure(plots.confusion_figure(evaluation.confusion, evaluation.model), "confusion")]
    if evaluation.roc["fpr"]:
        figures.append(_figure(plots.roc_figure([evaluation]), "ROC"))
    if evaluation.pr["recall"]:
        figures.append(_figure(plots.pr_figure([evaluation]), "precision-recall"))
    figures.append(_figure(plots.reliability_figure(evaluation), "reliability"))
    gradcam = sorted((folder / "gradcam").glob("*.png"))[:MAX_GRADCAM_IMAGES]
    explained = ""
    if gradcam:
        explained = "<h4>Grad-CAM examples</h4>" + "".join(
            _image(p.read_bytes(), p.stem, width=200) for p in gradcam
        ) + examples_block(folder / "gradcam" / EXAMPLES_FILE, [p.name for p in gradcam])
    return (
        header + calibration_block(evaluation) + table + "".join(figures) + explained
        + provenance_block(evaluation)
    )


def calibration_block(evaluation: Evaluation) -> str:
    """The temperature and uncertain band the probabilities were computed with, and what they
    did on the evaluated images (ECE before and after, shares called uncertain)."""
    c, m = evaluation.calibration, evaluation.metrics
    if not c:
        return ""  # an evaluation.json from before calibration
    if c.get("method", "none") == "none":
        text = "Probabilities are the detector's own (no temperature scaling)"
    else:
        text = (f"Probabilities are calibrated by temperature scaling, T = "
                f"{c['temperature']:.3g}, fitted on {_e(c.get('fitted_on') or '?')} "
                f"({_e(c.get('n'))} images)")
    rows = [("ECE before calibration", m.get("ece_uncalibrated")), ("ECE after", m.get("ece")),
            ("log loss before", m.get("log_loss_uncalibrated")), ("log loss after",
            m.get("log_loss"))]  # fmt: skip
    if c.get("band_low") is not None:
        text += (
            f"; uncertain band [{_e(format_probability(c['band_low']))}, "
            f"{_e(format_probability(c['band_high']))}), chosen for at most "
            f"{_e(format_probability(c.get('target_fake_called_real')))} of fakes called real "
            f"and {_e(format_probability(c.get('target_real_called_fake')))} of reals called "
            "fake"
        )
        rows += [("uncertain (all / real / fake)", " / ".join(
                    format_probability(m.get(k))
                    for k in ("uncertain_share", "uncertain_real", "uncertain_fake"))),
                 ("accuracy where decided", m.get("decided_accuracy"))]  # fmt: skip
    return f"<p>{text}.</p>" + _table(("calibration", "value"), rows)


def _class_rows(counts: dict[str, dict[str, int]]) -> list[tuple[str, int, int]]:
    names = list(dict.fromkeys([*counts.get("real", {}), *counts.get("fake", {})]))
    return [(n, counts.get("real", {}).get(n, 0), counts.get("fake", {}).get(n, 0))
            for n in names]


def provenance_block(evaluation: Evaluation) -> str:
    """The joint decisions per class, then how many images of each class carry each provenance
    verdict (`fakescope provenance`)."""
    parts = []
    if evaluation.decisions:  # absent from evaluations written before the joint decision
        parts.append(
            "<h4>Joint decisions per class</h4>"
            "<p class='note'>The detector's verdict and the file's provenance read together by "
            "the default policy (docs/verdicts.md): a declaration of generation decides, a "
            "signed capture claim against a fake verdict goes to review.</p>"
            + _table(("decision", "real", "fake"), _class_rows(evaluation.decisions))
        )
    if evaluation.provenance:
        parts.append(
            "<h4>Provenance verdicts per class</h4>"
            "<p class='note'>What the files' own metadata declares (C2PA manifests, generator "
            "metadata, camera EXIF), apart from the detector's scores. Metadata is a claim, "
            "not proof, and most datasets strip it.</p>"
            + _table(("verdict", "real", "fake"), _class_rows(evaluation.provenance))
        )
    return "".join(parts)


def examples_block(path: Path, shown: Sequence[str]) -> str:
    """The joint decision of each Grad-CAM example shown, first, then the two readings it joins
    (`examples.json` beside the overlays; nothing for folders written before it)."""
    examples = _read_json(path)
    if not isinstance(examples, list):
        return ""
    rows = [
        (e.get("image", ""), e.get("decision"), e.get("decision_text"), e.get("label"),
         format_probability(e.get("probability_fake")), e.get("verdict"), e.get("provenance"))
        for e in examples if isinstance(e, dict) and e.get("image") in shown
    ]  # fmt: skip
    if not rows:
        return ""
    header = ("example", "decision", "why", "true class", "P(fake)", "pixel verdict",
              "provenance")
    return "<h4>Examples: joint decisions</h4>" + _table(header, rows)


def comparison_block(path: Path) -> str:
    comparison = read_comparison(path)
    table = comparison.table()
    evaluations = comparison.evaluations
    confusions = "".join(
        _figure(plots.confusion_figure(e.confusion, e.model), e.model) for e in evaluations
    )
    skipped = ""
    if comparison.skipped:
        skipped = "<p class='note'>Skipped: " + _e(
            "; ".join(f"{s['path']} ({s['reason']})" for s in comparison.skipped)
        ) + "</p>"
    return (
        f"<h3>Model comparison on {_e(comparison.split)}</h3>"
        + _table(("model", *_COMPARISON_MAIN), _with_percent_thresholds(table, _COMPARISON_MAIN))
        + "<details><summary>every metric</summary>"
        + _table(("model", *TABLE_COLUMNS), _with_percent_thresholds(table, TABLE_COLUMNS))
        + "</details>"
        + _figure(plots.roc_figure(evaluations), "ROC, all models")
        + _figure(plots.pr_figure(evaluations), "precision-recall, all models")
        + confusions
        + skipped
    )


def robustness_block(path: Path) -> str:
    data = _read_json(path)
    if not isinstance(data, dict):
        return ""
    result = Robustness.from_dict(data)
    kinds = dict.fromkeys(row["corruption"] for row in result.rows)
    return f"<h3>Robustness on {_e(result.split)}</h3>" + "".join(
        _figure(plots.robustness_figure(result, kind), kind) for kind in kinds
    )


def xgen_block(path: Path) -> str:
    """The cross-generator matrix: means over unseen and seen families, one heatmap per
    condition (fakescope.evaluate.xgen)."""
    result = XgenResult.from_dict(_read_json(path))
    keys = ["detector", "train_set", "condition",
            *[f"{kind}_{m}" for kind in ("unseen", "seen") for m in CELL_METRICS]]
    return (
        f"<h3>Cross-generator matrix</h3><p class='note'>{_e(result.set_dir)}; threshold "
        f"{_e(result.threshold_rule)}; unseen/seen: means over the generator families the "
        "detector did not/did train on.</p>"
        + _table(keys, ([row[k] for k in keys] for row in result.summary()))
        + "".join(_figure(heatmap_figure(result, c), c) for c in result.conditions)
    )


def run_body(folder: Path, runs: Sequence[Path]) -> str:
    """Everything `folder` holds of its own (not its nested runs' outputs), as HTML."""
    run = RunDir(folder)
    parts = [
        floor_section(run),
        data_section(run),
        training_section(run),
        quality_section(run),
        results_section(run),
        samples_section(run),
        figures_section(run),
    ]
    for path in _own_files(folder, COMPARISON_FILE, runs):
        parts.append(comparison_block(path))
    for path in _own_files(folder, EVALUATION_FILE, runs):
        parts.append(evaluation_block(read_evaluation(path), path.parent))
    for path in _own_files(folder, ROBUSTNESS_FILE, runs):
        parts.append(robustness_block(path))
    for path in _own_files(folder, XGEN_FILE, runs):
        parts.append(xgen_block(path))
    return "".join(parts)


def build_report(root: str | Path) -> str:
    """The HTML page for `root`: a section for what it holds itself and one for each run
    folder below it."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a run folder")
    runs = find_runs(root)
    sections: list[tuple[str, str, str]] = []
    for folder in dict.fromkeys([root, *runs]):
        body = run_body(folder, runs)
        if body:
            title = root.name if folder == root else str(folder.relative_to(root))
            sections.append((f"run-{len(sections)}", title, body))
    if sections:
        sections.append(("glossary", "Glossary", glossary_section()))
    internals = "".join(
        f"<details><summary>{_e(folder.relative_to(root) if folder != root else root.name)}"
        f"</summary>{block}</details>"
        for folder in dict.fromkeys([root, *runs])
        if (block := internals_block(RunDir(folder)))
    )
    if internals:
        sections.append(("internals", "Run internals", internals))
    configs = configs_section(root, [root, *runs])
    if configs:
        sections.append(("configs", "Configs", configs))
    nav = "".join(f'<li><a href="#{a}">{_e(t)}</a></li>' for a, t, _ in sections)
    content = "".join(f'<section id="{a}"><h2>{_e(t)}</h2>{b}</section>' for a, t, b in sections)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>fakescope report: {_e(root.name)}</title><style>{STYLE}</style></head><body>"
        f"<h1>fakescope report: {_e(root.name)}</h1><p class='note'>generated {stamp}</p>"
        f"{summary_section(root, runs)}<nav><ul>{nav}</ul></nav>"
        f"{content or '<p class=note>Nothing to report in this folder yet.</p>'}</body></html>"
    )


def write_report(root: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of `root` to `out` (default `<root>/report/index.html`)."""
    root = Path(root)
    path = Path(out) if out is not None else RunDir(root).report / REPORT_FILE
    atomic_write_bytes(path, text_bytes(build_report(root)))
    return path
