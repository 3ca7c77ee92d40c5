"""Provenance beside the pixels: C2PA manifests, generator metadata and camera traces.

`read_provenance(path)` gives a `Provenance`: a short verdict (see `verdict.py`), the basis it
rests on, and every piece of evidence with its source. It is a second opinion kept apart from
the detector's score; metadata is a claim, not proof.
"""

from fakescope.provenance.evidence import Evidence, ProvenanceLimits
from fakescope.provenance.reader import (
    COLUMNS,
    Provenance,
    expand_paths,
    read_provenance,
    read_provenance_bytes,
)
from fakescope.provenance.verdict import CAVEAT, MEANINGS, VERDICTS

__all__ = [
    "CAVEAT",
    "COLUMNS",
    "MEANINGS",
    "VERDICTS",
    "Evidence",
    "Provenance",
    "ProvenanceLimits",
    "expand_paths",
    "read_provenance",
    "read_provenance_bytes",
]
