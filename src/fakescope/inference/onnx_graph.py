"""A detector's ONNX graph in memory, checked against PyTorch: what `export_onnx` writes to a
file and what fast scoring (`fakescope.inference.fastest`) runs without writing one.

The graph's outputs are the logits and, for a detector with pooled features (`Detector.features`,
what the "unlike the training data" check measures), those features, taken from the same pass.

Two exporters: `torchscript` (tracing, needs nothing beyond torch and onnx) and `dynamo`
(torch.export, needs the onnxscript package; it handles shape-dependent code such as
`spectrum_cnn`'s DCT, which tracing cannot export with a dynamic batch).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from fakescope.config import ConfigError
from fakescope.errors import FakescopeError, SetupError
from fakescope.inference.artifacts import ONNX_FEATURES, ONNX_INPUT, ONNX_OUTPUT, ExportMetadata
from fakescope.inference.runtime import OnnxDetector
from fakescope.models.registry import Detector, LoadedDetector, fake_probability


class ExportError(FakescopeError, RuntimeError):
    """The model cannot be exported, or its export does not match PyTorch; nothing is written."""


EXPORTERS = ("torchscript", "dynamo")
OPSET = 18
# An export whose P(fake) differs from PyTorch's by more than this is refused: float32 kernels
# reorder sums, which moves logits by ~1e-6, far below it; a wrong graph moves them far above.
PROBABILITY_TOLERANCE = 1e-4
# The features' largest difference, relative to their largest magnitude (at least 1), that an
# export may show; float32 reordering moves them by ~1e-6 of it.
FEATURE_TOLERANCE = 1e-3
EXPORT_BATCH = 2  # traced with this batch size, checked with another to prove the axis dynamic
CHECK_BATCH = 3


@dataclass(frozen=True)
class GraphCheck:
    """How an ONNX graph's outputs compared with PyTorch's on a random batch."""

    check_batch: int
    max_logit_diff: float
    max_abs_logit: float  # the scale the logit difference is relative to
    max_probability_diff: float
    # the same for the pooled features (None: the graph has no features output)
    max_feature_diff: float | None
    max_abs_feature: float | None


@dataclass(frozen=True)
class CheckedGraph:
    """A serialised ONNX model with fakescope's metadata, and how it compared with PyTorch."""

    data: bytes
    check: GraphCheck


def random_images(size: int, batch: int, seed: int = 0) -> torch.Tensor:
    """Standard-normal (N, 3, size, size), the scale of normalised pictures."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, size, size, generator=generator)


class LogitsAndFeatures(nn.Module):
    """A detector whose forward returns (logits, pooled features) of one pass: its `features`
    is wrapped for the pass to keep what it returns (where `forward` does not call it, the
    features are computed apart, the same values)."""

    def __init__(self, model: Detector) -> None:
        super().__init__()
        self.model = model
        # in the model's mode: the exporter puts a wrapper back in its own mode afterwards, and
        # a new module's is training (BatchNorm on batch statistics)
        self.train(model.training)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        model, kept = self.model, []
        own = model.features

        def keeping(images: torch.Tensor) -> torch.Tensor:
            kept.append(own(images))
            return kept[-1]

        shadowed = model.__dict__.get("features")
        model.__dict__["features"] = keeping  # an instance attribute shadows the method
        try:
            logits = model(x)
        finally:
            if shadowed is None:
                del model.__dict__["features"]
            else:
                model.__dict__["features"] = shadowed
        return logits, kept[0] if len(kept) == 1 else own(x)


def has_features(model: Detector, size: int) -> bool:
    """Whether the detector returns pooled features (`Detector.features`) for a batch."""
    try:
        with torch.inference_mode():
            features = model.features(random_images(size, EXPORT_BATCH))
    except (AttributeError, NotImplementedError):
        return False
    return isinstance(features, torch.Tensor) and features.dim() == 2


def _trace(model: nn.Module, sample: torch.Tensor, out: Path, exporter: str, opset: int) -> None:
    """Export `model` (returning logits, or (logits, features) when a `LogitsAndFeatures`)."""
    outputs = [ONNX_OUTPUT]
    if isinstance(model, LogitsAndFeatures):
        outputs.append(ONNX_FEATURES)
    names: dict[str, Any] = {
        "input_names": [ONNX_INPUT], "output_names": outputs, "opset_version": opset
    }  # fmt: skip
    if exporter == "torchscript":
        axes = {name: {0: "batch"} for name in (ONNX_INPUT, *outputs)}
        with warnings.catch_warnings(), _native_stdout_silenced():
            # torch announces the tracing exporter's eventual removal on every call, and warns
            # of values a trace may freeze: the check against PyTorch at another batch size
            # catches a trace that froze the wrong thing
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                model, (sample,), str(out), dynamo=False, dynamic_axes=axes, verbose=False, **names
            )
        return
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter's dependency)
    except ImportError as err:
        raise SetupError(
            "the dynamo exporter needs the onnxscript package: pip install onnxscript"
        ) from err
    batch = torch.export.Dim.DYNAMIC
    torch.onnx.export(
        model, (sample,), str(out), dynamo=True, dynamic_shapes=({0: batch},),
        external_data=False, verbose=False, **names,
    )  # fmt: skip


@contextlib.contextmanager
def _native_stdout_silenced() -> Iterator[None]:
    """Discard what C++ code writes to file descriptor 1. torch 2.14's tracing exporter always
    turns its log on (it tests a function object for truth) and, when an operator fails, dumps
    the whole TorchScript graph to stdout; the error raised keeps what matters."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def compare_with_torch(
    model: nn.Module, exported: nn.Module, images: torch.Tensor
) -> tuple[float, float, float]:
    """(max |logit diff|, max |logit| of `model`, max |P(fake) diff|) of two models."""
    with torch.inference_mode():
        expected, got = model(images), exported(images)
    if got.shape != expected.shape:
        raise RuntimeError(f"ONNX output shape {tuple(got.shape)} != {tuple(expected.shape)}")
    logit_diff = float((got - expected).abs().max())
    prob_diff = float((fake_probability(got) - fake_probability(expected)).abs().max())
    return logit_diff, float(expected.abs().max()), prob_diff


def checked_graph(
    loaded: LoadedDetector,
    exporter: str = "torchscript",
    opset: int = OPSET,
    tolerance: float = PROBABILITY_TOLERANCE,
) -> CheckedGraph:
    """`loaded` as a serialised ONNX model, after checking that onnxruntime reproduces
    PyTorch's P(fake) within `tolerance` on a random batch (else `ExportError`)."""
    if exporter not in EXPORTERS:
        raise ConfigError(f"unknown exporter '{exporter}' (use {' or '.join(EXPORTERS)})")
    model = loaded.model.to("cpu").eval()
    size = loaded.input_spec.size
    exported: nn.Module = LogitsAndFeatures(model) if has_features(model, size) else model
    with tempfile.TemporaryDirectory() as tmp:
        traced = Path(tmp) / "model.onnx"
        try:
            _trace(exported, random_images(size, EXPORT_BATCH, seed=1), traced, exporter, opset)
        except torch.onnx.errors.OnnxExporterError as err:
            raise ExportError(_export_failure(loaded.name, exporter, err)) from err
        graph = onnx.load(str(traced))
    for key, value in ExportMetadata.of(loaded).to_props().items():
        graph.metadata_props.add(key=key, value=value)
    data = graph.SerializeToString()
    runtime = OnnxDetector(data)
    images = random_images(size, CHECK_BATCH, seed=0)
    logit_diff, logit_scale, prob_diff = compare_with_torch(model, runtime, images)
    if not np.isfinite(prob_diff) or prob_diff > tolerance:
        raise ExportError(
            f"the ONNX export of {loaded.name} differs from PyTorch by {prob_diff:.3g} in P(fake) "
            f"(tolerance {tolerance:g}); nothing written"
        )
    feature_diff = feature_scale = None
    if runtime.has_features:
        feature_diff, feature_scale = compare_features(model, runtime, images)
        allowed = FEATURE_TOLERANCE * max(1.0, feature_scale)
        if not np.isfinite(feature_diff) or feature_diff > allowed:
            raise ExportError(
                f"the ONNX export of {loaded.name} differs from PyTorch by {feature_diff:.3g} in "
                f"its pooled features (tolerance {FEATURE_TOLERANCE:g} of their scale); nothing "
                "written"
            )
    return CheckedGraph(data, GraphCheck(CHECK_BATCH, logit_diff, logit_scale, prob_diff,
                                         feature_diff, feature_scale))


def compare_features(
    model: Detector, exported: OnnxDetector, images: torch.Tensor
) -> tuple[float, float]:
    """(max |feature diff|, max |feature| of `model`) of the pooled features."""
    with torch.inference_mode():
        expected = model.features(images)
    got = exported.logits_and_features(images)[1]
    if got.shape != expected.shape:
        raise RuntimeError(f"ONNX features shape {tuple(got.shape)} != {tuple(expected.shape)}")
    return float((got - expected).abs().max()), float(expected.abs().max())


def _export_failure(name: str, exporter: str, err: Exception) -> str:
    # The exporters append whole graphs to their messages: keep the first line.
    text = str(err).strip()
    first_line = text.splitlines()[0].split(" [Caused by")[0].strip() if text else repr(err)
    hint = "; try --exporter dynamo (needs: pip install onnxscript)" if exporter != "dynamo" else ""
    return f"{name} cannot be exported with the {exporter} exporter ({first_line}){hint}"
