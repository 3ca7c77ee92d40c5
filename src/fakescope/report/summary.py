"""What a reader meets first and last in a report: a single run's summary (its test metrics,
calibration and what it trained on), a note when the data was the demo's synthetic faces, and a
glossary of the metrics the page uses.

The pieces return HTML fragments; `report.html` places them. Thresholds and probabilities are
shown in percent, as everywhere else (`fakescope.formatting.format_probability`).
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from fakescope.evaluate.evaluate import Evaluation, read_evaluation
from fakescope.formatting import format_probability, format_value
from fakescope.runs import BEST_CHECKPOINT, DEMO_MARKER, EVALUATION_FILE, RunDir

DASH = "–"
# (term, explanation), in the order a reader meets them on the page
GLOSSARY: tuple[tuple[str, str], ...] = (
    ("ROC-AUC", "the chance that a random fake scores higher than a random real image: 0.5 is "
     "guessing, 1 ranks every fake above every real. It ignores the threshold."),
    ("AP", "average precision: the area under the precision-recall curve of the fake class; "
     "like ROC-AUC a ranking score, but stricter when fakes are rare."),
    ("EER", "equal error rate: the error where reals called fake and fakes called real are "
     "equally frequent; lower is better."),
    ("accuracy at threshold", "the share of images called correctly when P(fake) at or above "
     "the threshold means fake. The threshold is chosen on the validation split by a rule "
     "(for example fpr:0.05: at most 5 % of reals called fake) and shown in percent, like "
     "every probability on this page."),
    ("ECE", "expected calibration error: how far the predicted P(fake) lies from the observed "
     "share of fakes, averaged over probability bins; 0 means a predicted 80 % is fake 80 % of "
     "the time."),
    ("temperature", "calibration by temperature scaling: the detector's logits are divided by "
     "T (fitted on the validation split) before the sigmoid, so probabilities are neither over- "
     "nor under-confident; the ranking, hence ROC-AUC, does not change."),
    ("uncertain band", "probabilities in [low, high) are reported as 'uncertain' instead of "
     "real or fake: the band is chosen so that, on the validation split, at most the target "
     "share of fakes is called real and of reals is called fake."),
    ("log loss, Brier", "proper scores of the probabilities themselves (lower is better): they "
     "punish confident mistakes."),
    ("sensitivity, specificity", "recall of the fake class and of the real class."),
    ("FD, floor", "Fréchet distance between features of generated and real images (lower is "
     "better); the floor is the same distance between two sets of real images, the best a "
     "generator can hope for. FD over floor 1 means as close as real images are to each other."),
    ("diversity", "how varied the generated images are, as a ratio to the real images' own "
     "variety: 1 is as varied as the reals, far below 1 signals mode collapse."),
)


def _e(text: Any) -> str:
    return html.escape(str(text))


def _read(path: Path) -> Any:
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text())
        return yaml.safe_load(path.read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return None


def _section(data: Any, key: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _in_demo_folder(path: Path) -> bool:
    resolved = path.resolve()
    return any((p / DEMO_MARKER).is_file() for p in (resolved, *resolved.parents))


def synthetic_data(root: Path, runs: Sequence[Path] = ()) -> bool:
    """True when the report's runs trained on the demo's synthetic faces: the folder lies in a
    demo folder (`fakescope demo` marks its output with its settings file), or a run's data
    path does."""
    if _in_demo_folder(root):
        return True
    for folder in runs:
        path = _section(_read(RunDir(folder).config), "data").get("path")
        if isinstance(path, str) and path and _in_demo_folder(Path(path)):
            return True
    return False


def synthetic_note() -> str:
    return (
        "<p id='synthetic-data' class='warning'>Synthetic data: trained and tested on the "
        "demo's drawn faces, not photographs. The numbers show that the pipeline works, not "
        "how a detector or GAN does on real pictures.</p>"
    )


def _chosen_evaluation(folder: Path) -> Evaluation | None:
    """The run's own evaluation to summarise: the test split's, best checkpoint first."""
    paths = sorted(folder.rglob(EVALUATION_FILE))
    evaluations = [read_evaluation(p) for p in paths]
    if not evaluations:
        return None
    return min(evaluations, key=lambda e: (e.split != "test", "best" not in e.model, e.model))


def _metrics_line(evaluation: Evaluation) -> str:
    m = evaluation.metrics
    shown = [("ROC-AUC", "roc_auc"), ("AP", "average_precision"), ("EER", "eer")]
    scores = ", ".join(f"{name} <b>{_e(format_value(m.get(key), DASH))}</b>"
                       for name, key in shown)
    return (
        f"<p class='answer' id='run-metrics'>{_e(evaluation.model)} on the "
        f"{_e(evaluation.split)} split ({_e(m.get('n'))} images): {scores}; accuracy "
        f"<b>{_e(format_value(m.get('accuracy'), DASH))}</b> at threshold "
        f"<b>{_e(format_probability(evaluation.threshold))}</b>.</p>"
    )


def _calibration_line(evaluation: Evaluation) -> str:
    c = evaluation.calibration
    parts = [f"threshold {_e(format_probability(evaluation.threshold))} "
             f"({_e(evaluation.threshold_source)})"]
    if c.get("band_low") is not None and c.get("band_high") is not None:
        if c["band_low"] < c["band_high"]:
            parts.append(f"uncertain band [{_e(format_probability(c['band_low']))}, "
                         f"{_e(format_probability(c['band_high']))})")
        else:
            parts.append("no uncertain band (the validation split needed none)")
    if c.get("method", "none") != "none" and c.get("temperature") is not None:
        parts.append(f"temperature T = {c['temperature']:.3g} fitted on "
                     f"{_e(c.get('fitted_on') or '?')}")
    else:
        parts.append("probabilities uncalibrated (no temperature)")
    return "<p id='run-calibration'>Calibration: " + "; ".join(parts) + ".</p>"


def _epochs_trained(run: RunDir) -> int | None:
    try:
        with run.metrics.open(newline="") as handle:
            epochs = [row.get("epoch", "") for row in csv.DictReader(handle)]
    except OSError:
        return None
    numbers = [int(float(e)) for e in epochs if e not in ("", None)]
    return max(numbers) if numbers else None


def _training_line(run: RunDir) -> str:
    config = _read(run.config)
    data, model = _section(config, "data"), _section(config, "model")
    report = _read(run.data_report)
    counts = _section(report, "counts")
    path = (report.get("root") if isinstance(report, dict) else None) or data.get("path")
    detector = bool(model.get("name"))
    split_counts = ", ".join(
        f"{_e(split)} {c.get('real', 0)} real"
        + (f" / {c.get('fake', 0)} fake" if detector else "")  # a GAN reads real images only
        for split, c in counts.items() if isinstance(c, dict)
    )
    what = (f"detector <b>{_e(model['name'])}</b>" if detector
            else f"GAN <b>{_e(model.get('arch', 'dcgan'))}</b>")
    epochs = _epochs_trained(run)
    train = _section(config, "train")
    epoch_text = f"{epochs} epoch(s)" if epochs is not None else "no epoch logged yet"
    if epochs is not None and train.get("max_minutes"):
        epoch_text += f" in a {train['max_minutes']:g}-minute budget"
    elif epochs is not None and isinstance(train.get("epochs"), int) and train["epochs"] != epochs:
        epoch_text += f" of {train['epochs']} planned"
    return (
        f"<p id='run-training'>Trained: {what}, {_e(epoch_text)}, on "
        f"<code>{_e(path or '?')}</code>" + (f" ({split_counts})" if split_counts else "")
        + ".</p>"
    )


def run_summary(folder: Path) -> str:
    """A run folder's answer first: its test evaluation (or how to make one), the calibration
    the numbers were computed with, and what the run trained on."""
    run = RunDir(folder)
    evaluation = _chosen_evaluation(folder)
    if evaluation is not None:
        head = _metrics_line(evaluation) + _calibration_line(evaluation)
    elif _section(_read(run.config), "model").get("name"):
        checkpoint = _e(run.checkpoints / BEST_CHECKPOINT)
        head = ("<p class='answer' id='run-metrics'>Not evaluated yet: <code>fakescope eval "
                f"--checkpoint {checkpoint} --data DATA</code> writes the test metrics and "
                "calibration this summary shows.</p>")
    else:
        head = ""
    glossary = "<p class='note'>Terms: see the <a href='#glossary'>glossary</a>.</p>"
    return head + _training_line(run) + glossary


def glossary_section() -> str:
    """The metrics the page uses, in words; the section's id is `glossary`."""
    items = "".join(f"<dt>{_e(term)}</dt><dd>{_e(text)}</dd>" for term, text in GLOSSARY)
    return f"<dl class='glossary'>{items}</dl>"
