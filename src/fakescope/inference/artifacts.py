"""Which ONNX file belongs to which checkpoint: file names, weight fingerprints and metadata.

An exported file carries the registry name, input spec and a SHA-256 of the weights it was
exported from in its ONNX `metadata_props`. A file whose fingerprint differs from the
checkpoint's current weights is stale (the detector was retrained after the export) and must
not be used in its place. The fingerprint covers the weights only, so storing a new threshold
in the checkpoint (which rewrites the file) does not make its export stale.

The graph returns raw logits and, for detectors with pooled features, those features (a second
output, so the training-data check needs no PyTorch pass); the checkpoint's calibration
(temperature, uncertain band) and threshold at export time are written into the metadata too,
so a file used on its own still says how to turn its logits into the calibrated P(fake).
`predict` and `serve` apply the checkpoint's current calibration to the export's logits, so
re-calibrating needs no re-export.

This module needs neither `onnx` nor `onnxruntime`, so callers can look for an export cheaply.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from fakescope import __version__
from fakescope.data.transforms import InputSpec
from fakescope.errors import BadFileError
from fakescope.models.calibration import Calibration
from fakescope.models.registry import LoadedDetector

ONNX_INPUT = "images"  # float32 (N, 3, size, size), normalised with the input spec's mean/std
ONNX_OUTPUT = "logits"  # float32 (N, num_logits)
# float32 (N, D): the pooled features (`Detector.features`) the "unlike the training data" check
# measures; a second output of exports of detectors that have them (absent in older files)
ONNX_FEATURES = "features"
PRECISIONS = ("fp32", "int8-static", "int8-dynamic")
_PREFIX = "fakescope."


def default_onnx_path(checkpoint: str | Path) -> Path:
    """`runs/x/checkpoints/best.pt` -> `runs/x/checkpoints/best.onnx`, where predict and serve
    look for an export."""
    return Path(checkpoint).with_suffix(".onnx")


def int8_onnx_path(fp32_path: str | Path) -> Path:
    """`best.onnx` -> `best.int8.onnx`."""
    return Path(fp32_path).with_suffix(".int8.onnx")


def weights_fingerprint(model: nn.Module) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of every state-dict tensor."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ExportMetadata:
    """What an exported file says about itself (stored as ONNX metadata_props)."""

    detector: str
    input_spec: InputSpec
    num_logits: int
    weights_sha256: str
    precision: str = "fp32"
    fakescope_version: str = __version__
    threshold: float = 0.5  # on the calibrated P(fake)
    # P(fake) = sigmoid(log-odds / temperature)
    calibration: Calibration = field(default_factory=Calibration)

    @classmethod
    def of(cls, loaded: LoadedDetector, precision: str = "fp32") -> ExportMetadata:
        return cls(
            detector=loaded.name,
            input_spec=loaded.input_spec,
            num_logits=int(loaded.model.num_logits),
            weights_sha256=weights_fingerprint(loaded.model),
            precision=precision,
            threshold=loaded.threshold,
            calibration=loaded.calibration,
        )

    def to_props(self) -> dict[str, str]:
        return {
            f"{_PREFIX}detector": self.detector,
            f"{_PREFIX}input_spec": json.dumps(self.input_spec.to_dict()),
            f"{_PREFIX}num_logits": str(self.num_logits),
            f"{_PREFIX}weights_sha256": self.weights_sha256,
            f"{_PREFIX}precision": self.precision,
            f"{_PREFIX}version": self.fakescope_version,
            f"{_PREFIX}threshold": repr(self.threshold),
            f"{_PREFIX}calibration": json.dumps(self.calibration.to_dict()),
        }

    @classmethod
    def from_props(cls, props: dict[str, str], source: str = "ONNX file") -> ExportMetadata:
        try:
            return cls(
                detector=props[f"{_PREFIX}detector"],
                input_spec=InputSpec.from_dict(json.loads(props[f"{_PREFIX}input_spec"])),
                num_logits=int(props[f"{_PREFIX}num_logits"]),
                weights_sha256=props[f"{_PREFIX}weights_sha256"],
                precision=props.get(f"{_PREFIX}precision", "fp32"),
                fakescope_version=props.get(f"{_PREFIX}version", "unknown"),
                threshold=float(props.get(f"{_PREFIX}threshold", 0.5)),
                # exports from before calibration: the identity
                calibration=Calibration.from_dict(
                    json.loads(props.get(f"{_PREFIX}calibration", "null"))
                ),
            )
        except (KeyError, ValueError, TypeError) as err:
            raise BadFileError(
                f"{source} was not exported by `fakescope export` (no valid fakescope metadata)"
            ) from err

    def mismatch(self, loaded: LoadedDetector) -> str | None:
        """Why this export cannot stand in for `loaded`, or None when it can."""
        if self.detector != loaded.name:
            return f"it holds a '{self.detector}' detector, the checkpoint a '{loaded.name}'"
        if self.input_spec != loaded.input_spec:
            return "its input spec differs from the checkpoint's"
        if self.weights_sha256 != weights_fingerprint(loaded.model):
            return "it was exported from other weights (stale: the checkpoint changed since)"
        return None
