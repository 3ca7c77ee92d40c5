"""Predictions joined with provenance: the decision for one prediction, the rows `predict`
writes (decision first, then the detector's fields, then the provenance columns), and the
decisions for the files of an evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fakescope.inference.decision import Decision, ProvenanceInput, decide
from fakescope.inference.decision_policy import DEFAULT_POLICY, DecisionPolicy
from fakescope.provenance.reader import Provenance, read_provenance

if TYPE_CHECKING:
    from fakescope.inference.predict import PathPrediction, Prediction

DECISION_COLUMNS = ("decision", "decision_text")


def decide_prediction(
    prediction: Prediction | None,
    provenance: ProvenanceInput,
    policy: DecisionPolicy = DEFAULT_POLICY,
) -> Decision:
    """The joint decision for a prediction (None: the pixels could not be scored)."""
    if prediction is None:
        return decide(None, provenance, policy)
    return decide(prediction.verdict or prediction.label, provenance, policy, prediction.reasons)


def prediction_rows(
    results: Sequence[PathPrediction],
    provenance: bool = True,
    policy: DecisionPolicy = DEFAULT_POLICY,
) -> list[dict[str, Any]]:
    """One flat row per file: path, decision, decision_text, the prediction's fields and error,
    then the provenance columns (`fakescope.provenance.COLUMNS`) unless `provenance` is off."""
    rows = []
    for result in results:
        read = read_provenance(result.path) if provenance else None
        decision = decide_prediction(result.prediction, read, policy)
        rows.append({"path": result.path, **decision.to_dict(), **result.to_dict(),
                     **(read.columns() if read else {})})
    return rows


def decide_files(
    paths: Sequence[str],
    pixel_verdicts: Sequence[str | None],
    policy: DecisionPolicy = DEFAULT_POLICY,
) -> list[tuple[Provenance, Decision]]:
    """Each file's provenance, read once, and its decision beside the given pixel verdict."""
    joined = []
    for path, pixels in zip(paths, pixel_verdicts, strict=True):
        provenance = read_provenance(path)
        joined.append((provenance, decide(pixels, provenance, policy)))
    return joined
