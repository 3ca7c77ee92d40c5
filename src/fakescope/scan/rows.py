"""The scan table: its columns, and the one function that builds a row.

A row joins what the CPU stage read (size, hash, provenance, error), what the scoring stage
computed (calibrated P(fake), backend) and the checkpoint's verdict for that P(fake). Timing
columns (`TIMING_COLUMNS`) differ from run to run; every other column is a function of the
file's bytes, the checkpoint and the settings, so an interrupted and resumed scan writes the
same table as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from fakescope.inference.decision import ProvenanceInput
from fakescope.inference.joint import decide_prediction
from fakescope.inference.predict import Prediction
from fakescope.provenance import Provenance
from fakescope.scan.files import PROVENANCE_COLUMNS

_TEXT = pa.string()
_REAL = pa.float64()
SCHEMA = pa.schema([
    ("path", _TEXT),
    ("shard", pa.int64()),
    ("position", pa.int64()),  # index in the scan's listing
    ("size", pa.int64()),
    ("sha256", _TEXT),
    ("duplicate_of", _TEXT),  # the first file of the scan with the same bytes, scored once
    ("probability_fake", _REAL),  # calibrated
    ("verdict", _TEXT),  # real | uncertain | fake
    ("threshold", _REAL),
    ("band_low", _REAL),
    ("band_high", _REAL),
    ("decision", _TEXT),  # the joint decision of pixels and provenance
    ("decision_text", _TEXT),
    *((name, _TEXT) for name in PROVENANCE_COLUMNS),
    ("face_box", _TEXT),
    ("backend", _TEXT),
    ("error", _TEXT),
    ("read_seconds", _REAL),
    ("score_seconds", _REAL),
    ("node", _TEXT),  # the Ray node that scored the row
])  # fmt: skip
TIMING_COLUMNS = ("read_seconds", "score_seconds", "node")


def scan_row(scored: Mapping[str, Any], prediction: Prediction | None) -> dict[str, Any]:
    """One table row from a file's read-and-score record and its prediction (None when it was
    not scored: an unreadable file), with the joint decision of both."""
    row = {name: scored.get(name) for name in SCHEMA.names}
    if prediction is None:
        row.update(probability_fake=None, verdict=None, threshold=None, band_low=None,
                   band_high=None)
    else:
        low, high = prediction.band or (prediction.threshold, prediction.threshold)
        row.update(
            probability_fake=prediction.probability_fake,
            verdict=prediction.verdict or prediction.label,
            threshold=prediction.threshold, band_low=low, band_high=high,
        )  # fmt: skip
    row.update(decide_prediction(prediction, _provenance(scored)).to_dict())
    return row


def _provenance(scored: Mapping[str, Any]) -> ProvenanceInput:
    """The provenance as the decision reads it: None when it was not read (the file could not be
    opened), unreadable when its reader failed, else its verdict and basis."""
    verdict = scored.get("provenance")
    if verdict is None:
        return None
    if verdict == "error":
        return Provenance(str(scored["path"]), None, error=scored.get("provenance_evidence"))
    return verdict, str(scored.get("provenance_basis") or "")
