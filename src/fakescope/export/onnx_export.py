"""Exporting a detector to ONNX, checked against PyTorch before the file is written.

    result = export_onnx(load_detector("best.pt"), Path("best.onnx"))
    result.max_probability_diff   # largest |P(fake) ONNX - P(fake) PyTorch| on a random batch

The graph takes normalised float32 images with a dynamic batch axis and returns the logits,
exactly like `Detector.forward`; the metadata says which detector, input spec and weights it
came from. Building and checking the graph is `fakescope.inference.onnx_graph`'s job (fast
scoring runs it from memory); this module writes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from fakescope.inference.onnx_graph import (
    EXPORTERS,
    OPSET,
    PROBABILITY_TOLERANCE,
    ExportError,
    GraphCheck,
    checked_graph,
)
from fakescope.models.registry import LoadedDetector
from fakescope.runs import atomic_write_bytes

__all__ = ["EXPORTERS", "OPSET", "ExportError", "ExportResult", "export_onnx"]


@dataclass(frozen=True)
class ExportResult(GraphCheck):
    """Where the checked graph was written, how large it is, and how it compared with PyTorch."""

    path: Path
    size_bytes: int

    def to_dict(self) -> dict[str, object]:
        fields = asdict(self)
        return {"path": str(fields.pop("path")), **fields}  # the path first, as it always was


def export_onnx(
    loaded: LoadedDetector,
    out: str | Path,
    exporter: str = "torchscript",
    opset: int = OPSET,
    tolerance: float = PROBABILITY_TOLERANCE,
) -> ExportResult:
    """Write `loaded` as an ONNX file at `out` (atomically), after checking that onnxruntime
    reproduces PyTorch's P(fake) within `tolerance` on a random batch."""
    graph = checked_graph(loaded, exporter, opset, tolerance)
    out = Path(out)
    atomic_write_bytes(out, graph.data)
    return ExportResult(**asdict(graph.check), path=out, size_bytes=len(graph.data))
