"""Evaluations run and written out with their plots: what `eval`, `compare`, `robustness` and
the demo do, each as one call.

Each takes the checkpoint(s), the data, one `EvalOptions` (device, batch size, split,
calibration, ...) and the output folder.

`evaluate_and_write`: calibrate and choose the threshold on the calibration split (when a rule
is given), score the split, count the provenance verdicts and joint decisions per class (optional),
write evaluation.json, the metric and prediction CSVs and the plots, then Grad-CAM overlays of
the worst-scored images with each one's joint decision (optional). `compare_and_write` and
`sweep_and_write` do the same for several checkpoints side by side and under corruptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope.config import DataConfig
from fakescope.evaluate.compare import Comparison, compare_checkpoints, write_comparison
from fakescope.evaluate.evaluate import (
    Evaluation,
    default_evaluation_dir,
    evaluate_checkpoint,
    write_evaluation,
)
from fakescope.evaluate.explain import explain_worst, worst_examples
from fakescope.evaluate.options import EvalOptions
from fakescope.evaluate.robustness import Robustness, robustness_sweep, write_robustness
from fakescope.evaluate.scoring import Scores
from fakescope.inference.decision import DECISIONS, Decision, decide
from fakescope.inference.joint import decide_files
from fakescope.models.calibration import Calibration
from fakescope.provenance import VERDICTS, Provenance
from fakescope.report.plots import (
    write_comparison_plots,
    write_evaluation_plots,
    write_robustness_plots,
)
from fakescope.runs import EXAMPLES_FILE, write_json


@dataclass(frozen=True)
class WrittenEvaluation:
    evaluation: Evaluation
    scores: Scores
    out: Path  # the folder everything was written into
    written: list[Path]


def evaluate_and_write(
    checkpoint: str | Path,
    data: DataConfig,
    options: EvalOptions | None = None,
    out: str | Path | None = None,
) -> WrittenEvaluation:
    """Evaluate `checkpoint` on `options.split` of `data` (as `evaluate_checkpoint` does) and
    write the results into `out` (default: the checkpoint's run, `evaluation/<split>/`), with
    the provenance counts unless `options.provenance` is off and `options.explain` Grad-CAM
    examples per class."""
    options = options or EvalOptions()
    checkpoint = Path(checkpoint)
    evaluation, scores = evaluate_checkpoint(checkpoint, data, options)
    calibration = Calibration.from_dict(evaluation.calibration)
    verdicts = [calibration.verdict(float(p), evaluation.threshold) for p in scores.probs]
    # Each file's provenance and joint decision (read once; none read when turned off).
    joined = decide_files(scores.paths, verdicts) if options.provenance else []
    if joined:
        classes = ["fake" if label else "real" for label in scores.labels.tolist()]
        evaluation.provenance = _per_class(
            classes, [p.verdict or "error" for p, _ in joined], (*VERDICTS, "error"))
        evaluation.decisions = _per_class(classes, [d.code for _, d in joined], DECISIONS)
    folder = Path(out) if out else default_evaluation_dir(checkpoint, options.split)
    written = write_evaluation(evaluation, scores, folder)
    written += write_evaluation_plots(evaluation, folder)
    if options.explain > 0:
        images = explain_worst(checkpoint, scores, options.explain, data.face_crop,
                               folder / "gradcam")  # fmt: skip
        picked = worst_examples(scores.labels, scores.probs, options.explain)
        examples = [
            _example(image, scores, i, verdicts[i], joined[i] if joined else None)
            for image, i in zip(images, picked, strict=True)
        ]
        written += [*images, folder / "gradcam" / EXAMPLES_FILE]
        write_json(written[-1], examples)
    return WrittenEvaluation(evaluation, scores, folder, written)


def _per_class(
    classes: Sequence[str], values: Sequence[str], names: Sequence[str]
) -> dict[str, dict[str, int]]:
    """How many images of each class (real, fake) got each of `names`."""
    counts = {name: dict.fromkeys(names, 0) for name in ("real", "fake")}
    for truth, value in zip(classes, values, strict=True):
        counts[truth][value] += 1
    return counts


def _example(
    image: Path, scores: Scores, index: int, verdict: str,
    joined: tuple[Provenance, Decision] | None,
) -> dict[str, Any]:  # fmt: skip
    """What the report shows beside one Grad-CAM example: the detector's reading, the file's
    provenance and the joint decision."""
    provenance, decision = joined or (None, decide(verdict, None))
    return {
        "image": image.name,
        "path": scores.paths[index],
        "label": "fake" if scores.labels[index] else "real",
        "probability_fake": float(scores.probs[index]),
        "verdict": verdict,
        "provenance": provenance.verdict if provenance else None,
        **decision.to_dict(),
    }


def compare_and_write(
    checkpoints: Sequence[str | Path],
    data: DataConfig,
    options: EvalOptions,
    out: Path,
    skipped: list[dict[str, str]] | None = None,
) -> tuple[Comparison, list[Path]]:
    """Several checkpoints on the same images: comparison.json, .csv and plots into `out`;
    `skipped` (files found but not detector checkpoints) is recorded in comparison.json. The
    json and csv are rewritten after every model, so a crash keeps the finished ones."""
    def keep(comparison: Comparison) -> None:
        comparison.skipped = skipped or []
        write_comparison(comparison, out)

    comparison = compare_checkpoints(checkpoints, data, options, on_update=keep)
    comparison.skipped = skipped or []
    return comparison, write_comparison(comparison, out) + write_comparison_plots(comparison, out)


def sweep_and_write(
    checkpoints: Sequence[str | Path],
    data: DataConfig,
    options: EvalOptions,
    out: Path,
    sweeps: dict[str, tuple[float, ...]] | None = None,
) -> tuple[Robustness, list[Path]]:
    """The robustness sweep of `robustness_sweep` (`sweeps` default: `options.conditions` at
    their default strengths): robustness.json and its plots into `out`; robustness.json is
    rewritten after every model, so a crash keeps the finished ones."""
    def keep(partial: Robustness) -> None:
        write_robustness(partial, out)

    result = robustness_sweep(checkpoints, data, options, sweeps, on_update=keep)
    return result, [write_robustness(result, out), *write_robustness_plots(result, out)]
