"""Running an exported detector with onnxruntime, and finding the export that fits a checkpoint.

`OnnxDetector` is an `nn.Module` whose forward pass runs the ONNX graph on the CPU, so any code
that calls `model(images) -> logits` (scoring, prediction) can use it unchanged. A session's
`run` is thread-safe, so one detector may serve the threads of a worker pool.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from fakescope.config import ConfigError
from fakescope.errors import BadFileError
from fakescope.inference.artifacts import (
    ONNX_FEATURES,
    ONNX_INPUT,
    ONNX_OUTPUT,
    ExportMetadata,
    default_onnx_path,
)
from fakescope.models.registry import LoadedDetector
from fakescope.speed import usable_cores

logger = logging.getLogger(__name__)


def session_options(threads: int | None = None, allow_spinning: bool = False) -> ort.SessionOptions:
    """One forward pass spread over `threads` cores (default: all), operators run in sequence:
    a CNN's graph is a chain, so parallel execution would only add scheduling overhead.

    Idle worker threads sleep instead of spinning: spinning saves microseconds on an idle
    machine but, when other work (request threads, other processes) wants the same cores,
    made EfficientNet-B0 slower (benchmarks/results/archive/onnx_results.md)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or usable_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry(
        "session.intra_op.allow_spinning", "1" if allow_spinning else "0"
    )
    return options


class OnnxDetector(nn.Module):
    """An exported detector: normalised float images (N, 3, S, S) in, logits (N, L) out; and,
    from exports that have them (`has_features`), the pooled features beside the logits."""

    def __init__(self, model: str | Path | bytes, threads: int | None = None) -> None:
        super().__init__()
        source = model if isinstance(model, bytes) else str(model)
        self.source = "ONNX bytes" if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(
            source, session_options(threads), providers=["CPUExecutionProvider"]
        )
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        self.metadata = ExportMetadata.from_props(props, self.source)
        self.num_logits = self.metadata.num_logits
        self.input_spec = self.metadata.input_spec
        outputs = {o.name for o in self.session.get_outputs()}
        # int8 features are approximate: the training-data check keeps PyTorch's for them
        self.has_features = ONNX_FEATURES in outputs and self.metadata.precision == "fp32"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (logits,) = self.session.run([ONNX_OUTPUT], {ONNX_INPUT: _images(x)})
        return torch.from_numpy(logits)

    def logits_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and pooled features from one run of the graph (needs `has_features`)."""
        logits, features = self.session.run([ONNX_OUTPUT, ONNX_FEATURES], {ONNX_INPUT: _images(x)})
        return torch.from_numpy(logits), torch.from_numpy(features)


def _images(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)


def read_metadata(path: str | Path) -> ExportMetadata:
    """The fakescope metadata of an exported file, without building an inference session."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except DecodeError as err:
        raise BadFileError(f"{path} is not an ONNX file ({err})") from err
    props = {p.key: p.value for p in model.metadata_props}
    return ExportMetadata.from_props(props, str(path))


def select_onnx_model(
    loaded: LoadedDetector,
    checkpoint: str | Path | None = None,
    onnx_path: str | Path | None = None,
    required: bool = False,
    threads: int | None = None,
) -> OnnxDetector | None:
    """The export to run in place of `loaded`: `onnx_path` when given, else the file beside
    `checkpoint`. A missing file means PyTorch (None) unless `required`; a file that does not
    match the checkpoint (stale weights, other model) is refused with an error when it was asked
    for (`required` or `onnx_path`) and skipped with a warning otherwise, never used silently."""
    if onnx_path is None and checkpoint is None:
        if required:
            raise ConfigError("the onnx backend needs the checkpoint path or an ONNX file")
        return None
    path = Path(onnx_path) if onnx_path is not None else default_onnx_path(checkpoint or "")
    if not path.is_file():
        if required or onnx_path is not None:
            hint = f" (run `fakescope export --checkpoint {checkpoint}`)" if checkpoint else ""
            raise FileNotFoundError(f"{path}: no ONNX export found{hint}")
        return None
    problem = read_metadata(path).mismatch(loaded)
    if problem is None:
        return OnnxDetector(path, threads)
    message = f"{path} does not match {checkpoint or 'the loaded detector'}: {problem}"
    if required or onnx_path is not None:
        raise BadFileError(f"{message}; re-run `fakescope export`")
    logger.warning("ignoring %s; using PyTorch (re-run `fakescope export` to refresh it)", message)
    return None
