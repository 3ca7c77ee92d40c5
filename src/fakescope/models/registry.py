"""One registry and one factory for every detector, and saving and loading them.

Every detector honours the `Detector` contract, so one trainer, one evaluator and one server
serve them all without asking for a model's name:

    forward(x) -> logits of shape (N, num_logits); num_logits is 1 (sigmoid, BCE) or 2 (softmax, CE)
    features(x) -> pooled features (N, F), the input of the classifier head
    head_parameters() / backbone_parameters() -> for separate learning rates and freezing
    input_spec -> size, mean/std and resize mode the model expects
    native_resolution -> True for artifact detectors scored on unresized tiles of that size

A detector checkpoint (`fakescope.checkpoints.DetectorPayload`) stores the registry name and
constructor arguments next to the weights, so `load_detector` rebuilds any registered model from
the file alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fakescope.checkpoints import (
    DetectorPayload,
    detector_threshold,
    read_detector,
    save_detector_payload,
)
from fakescope.config import ConfigError
from fakescope.data.transforms import InputSpec
from fakescope.errors import UnknownNameError
from fakescope.models.calibration import Calibration
from fakescope.models.feature_density import FeatureDensity
from fakescope.models.pretrained import NO_WEIGHTS, Pretrained, as_pretrained

# Modules whose import registers detectors; imported on first use of the registry.
_DETECTOR_MODULES = (
    "fakescope.models.discriminator_detector",
    "fakescope.models.detectors",
    "fakescope.models.npr",
)


class Detector(nn.Module):
    """Base class of every real-vs-fake detector (label 0 = real, 1 = fake)."""

    num_logits: int = 1
    input_spec: InputSpec = InputSpec(size=224)
    # Artifact detectors read traces that resizing erases: prediction, evaluation and serving
    # then score tiles of input_spec.size cut from the unresized picture (inference.tiles).
    native_resolution: bool = False
    _build_kwargs: dict[str, Any]  # set by build_detector

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def head_parameters(self) -> Iterator[nn.Parameter]:
        raise NotImplementedError

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        head = {id(p) for p in self.head_parameters()}
        return (p for p in self.parameters() if id(p) not in head)

    def gradcam_layer(self) -> nn.Module:
        """The last convolutional block, whose activations Grad-CAM explains."""
        raise NotImplementedError

    def rebuild_kwargs(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this architecture with `pretrained="none"`.

        `build_detector` records the arguments it was called with; a detector whose
        architecture also comes from its weights (a GAN discriminator) overrides this.
        """
        return dict(getattr(self, "_build_kwargs", {}))


def fake_probability(logits: torch.Tensor) -> torch.Tensor:
    """P(fake) from a detector's logits, whichever head it has."""
    if logits.shape[-1] == 1:
        return torch.sigmoid(logits[..., 0])
    return torch.softmax(logits, dim=-1)[..., 1]


def detector_loss(
    logits: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """BCE for a 1-logit head, cross-entropy for a 2-logit head; optional per-class weights."""
    if logits.shape[-1] == 1:
        target = labels.float()
        weight = class_weights[labels] if class_weights is not None else None
        return F.binary_cross_entropy_with_logits(logits[..., 0], target, weight=weight)
    return F.cross_entropy(logits, labels, weight=class_weights)


DetectorFactory = Callable[..., Detector]
_REGISTRY: dict[str, DetectorFactory] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register_detector(
    name: str, description: str = ""
) -> Callable[[DetectorFactory], DetectorFactory]:
    """Decorator: register a factory `f(pretrained: Pretrained, **kwargs) -> Detector` under
    `name`."""

    def decorator(factory: DetectorFactory) -> DetectorFactory:
        if name in _REGISTRY:
            raise ValueError(f"detector '{name}' is registered twice")
        _REGISTRY[name] = factory
        _DESCRIPTIONS[name] = description or (factory.__doc__ or "").strip().split("\n")[0]
        return factory

    return decorator


def _populate() -> None:
    for module in _DETECTOR_MODULES:
        importlib.import_module(module)


def list_detectors() -> dict[str, str]:
    """Registered detector names and one-line descriptions."""
    _populate()
    return dict(sorted(_DESCRIPTIONS.items()))


def build_detector(
    name: str, pretrained: Pretrained | str | Path = NO_WEIGHTS, **kwargs: Any
) -> Detector:
    """Build a registered detector. `pretrained` is a `Pretrained` or its text: `none`,
    `imagenet` or a weights file path."""
    _populate()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownNameError(f"unknown detector '{name}' (registered: {known})")
    weights = as_pretrained(pretrained)
    if weights.source == "gan":
        raise ConfigError("pretrained 'gan' (the demo's own GAN) works in demo presets only: "
                          "give the GAN checkpoint's path")
    model = _REGISTRY[name](pretrained=weights, **kwargs)
    model._build_kwargs = dict(kwargs)
    return model


@dataclass
class LoadedDetector:
    """A detector rebuilt from its checkpoint, with what serving and evaluation need to know."""

    model: Detector
    name: str
    input_spec: InputSpec
    threshold: float = 0.5
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # temperature and uncertain band; the identity for checkpoints stored before calibration
    calibration: Calibration = field(default_factory=Calibration)
    # how far pictures lie from the training data; None when never fitted
    feature_density: FeatureDensity | None = None


def save_detector(
    path: Path,
    model: Detector,
    name: str,
    model_kwargs: dict[str, Any],
    input_spec: InputSpec,
    threshold: float = 0.5,
    metrics: dict[str, Any] | None = None,
    extra: DetectorPayload | None = None,
) -> None:
    """Write a detector checkpoint that `load_detector` can rebuild from the file alone."""
    payload: DetectorPayload = {
        "detector": {"name": name, "kwargs": {**model.rebuild_kwargs(), **model_kwargs}},
        "input_spec": input_spec.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "threshold": float(threshold),
        "metrics": metrics or {},
    }
    save_detector_payload(path, {**payload, **(extra or {})})


def load_detector(path: str | Path, device: str | torch.device = "cpu") -> LoadedDetector:
    """Rebuild a detector from a checkpoint written by `save_detector`, in eval mode."""
    payload = read_detector(path)
    info = payload["detector"]
    model = build_detector(info["name"], **info["kwargs"])
    model.load_state_dict(payload["state_dict"])
    model.to(device).eval()
    reserved = {
        "kind", "detector", "input_spec", "state_dict", "threshold", "metrics", "calibration",
        "feature_density",
    }  # fmt: skip
    return LoadedDetector(
        model=model,
        name=info["name"],
        input_spec=InputSpec.from_dict(payload["input_spec"]),
        threshold=detector_threshold(payload),
        metrics=dict(payload.get("metrics", {})),
        extra={k: v for k, v in payload.items() if k not in reserved},
        calibration=Calibration.from_dict(payload.get("calibration")),
        feature_density=FeatureDensity.from_payload(payload.get("feature_density")),
    )
