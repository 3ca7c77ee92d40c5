"""Random-weight detectors that cost what trained ones cost, and face batches to feed them.

No trained weights can be fetched on a build machine, and weights do not change the work of a
forward pass, with one exception: an untrained network's default BatchNorm statistics let the
activations shrink into denormal floats, which slowed EfficientNet-B0 several times over in
PyTorch (benchmarks/results/archive/onnx_results.md) and would distort every comparison. So the
statistics are re-estimated on real-looking faces first.
"""

from __future__ import annotations

from pathlib import Path

import torch

from fakescope.bench.settings import ModelSpec
from fakescope.data.images import load_image
from fakescope.data.transforms import InputSpec, Normalizer, preprocess, to_chw_tensor
from fakescope.export.onnx_export import export_onnx
from fakescope.inference.artifacts import default_onnx_path
from fakescope.models.batchnorm import average_batchnorm_statistics
from fakescope.models.registry import LoadedDetector, build_detector, save_detector

CALIBRATION_BATCH = 16


def face_batch(paths: list[Path], spec: InputSpec) -> torch.Tensor:
    """The pictures preprocessed and normalised as `spec` says, as one float NCHW batch."""
    normalize = Normalizer(spec)
    return normalize(torch.stack([to_chw_tensor(preprocess(load_image(p), spec)) for p in paths]))


def random_detector(model: ModelSpec, seed: int = 0) -> LoadedDetector:
    """`model` with its initial random weights for `seed`, at the input size `model.size`."""
    torch.manual_seed(seed)
    net = build_detector(model.name, **model.kwargs).eval()
    spec = InputSpec(model.size, net.input_spec.mean, net.input_spec.std, net.input_spec.resize)
    return LoadedDetector(net, model.name, spec)


def calibrate_batchnorm(loaded: LoadedDetector, faces: list[Path]) -> LoadedDetector:
    """Re-estimate `loaded`'s BatchNorm statistics as their average over `faces` (in place)."""
    images = face_batch(faces, loaded.input_spec)
    starts = range(0, len(images) - 1, CALIBRATION_BATCH)  # no batch of one for BatchNorm
    average_batchnorm_statistics(
        loaded.model, (images[start : start + CALIBRATION_BATCH] for start in starts)
    )
    return loaded


def calibrated_detector(model: ModelSpec, faces: list[Path], seed: int = 0) -> LoadedDetector:
    """`model` with random weights (seed) and BatchNorm statistics averaged over `faces`."""
    return calibrate_batchnorm(random_detector(model, seed), faces)


def serving_checkpoint(
    loaded: LoadedDetector, model: ModelSpec, folder: Path, onnx: bool
) -> Path:
    """A checkpoint of `loaded` in `folder` that `fakescope serve` reads, with its ONNX export
    beside it when `onnx` (the server then runs onnxruntime)."""
    path = folder / f"{model.name}.pt"
    save_detector(path, loaded.model, model.name, model.kwargs, loaded.input_spec)
    if onnx:
        export_onnx(loaded, default_onnx_path(path))
    return path
