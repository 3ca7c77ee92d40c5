"""Pretrained weights for detectors, and the fine-tuning helpers that go with them.

`--pretrained` takes three values:

    none      random initialisation
    imagenet  the ImageNet weights of the model's backbone, through torchvision or timm (which
              download once into their caches), or from a file a package ships (EfficientNet-Lite0)
    PATH      a local file: a plain state dict, a torchvision or timm checkpoint, a safetensors
              file, or a fakescope detector checkpoint

Loading swaps heads the way timm's `load_pretrained` does: tensors whose shape differs from the
model's (a 1000-class ImageNet classifier against a 2-logit head) are skipped, the rest load, and
a `LoadReport` lists what was loaded, skipped, missing and unexpected.

Set HF_HUB_OFFLINE=1 to forbid downloads: `imagenet` then uses the caches only and, when the
file is not there, fails at once with a message naming the file it looked for.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import torch
from torch import nn

from fakescope.errors import FakescopeError
from fakescope.models.pretrained import Pretrained
from fakescope.models.registry import Detector

logger = logging.getLogger(__name__)

# torchvision's first DenseNet checkpoints name layers `norm.1`; today's modules say `norm1`.
_LEGACY_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)
# Wrappers a checkpoint may put around the state dict, tried in this order.
_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")


class PretrainedWeightsError(FakescopeError, RuntimeError):
    """Weights cannot be found, read, or matched to the model."""


def offline() -> bool:
    """True when the user forbade downloads (Hugging Face's HF_HUB_OFFLINE convention)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _unavailable(what: str, expected: Path, reason: str) -> PretrainedWeightsError:
    return PretrainedWeightsError(
        f"ImageNet weights for {what} are not available ({reason}): looked for {expected}; "
        "download them once with network access (the file is then cached there) or pass "
        "--pretrained PATH with a local weights file"
    )


class ImagenetSource(Protocol):
    """Where a backbone's ImageNet weights come from."""

    @property
    def description(self) -> str: ...

    def expected_file(self) -> Path:
        """The cached file the weights are read from."""
        ...

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The weights under the library model's own key names (classifier included)."""
        ...


@dataclass(frozen=True)
class TorchvisionImagenet:
    """ImageNet weights of a torchvision model, cached under `torch.hub.get_dir()/checkpoints`."""

    model: str  # torchvision builder, e.g. "resnet50"
    weights: str  # weights enum entry, e.g. "ResNet50_Weights.IMAGENET1K_V1"

    @property
    def description(self) -> str:
        return f"torchvision {self.model} ({self.weights})"

    def expected_file(self) -> Path:
        import torchvision

        url = torchvision.models.get_weight(self.weights).url
        return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)

    def state_dict(self) -> dict[str, torch.Tensor]:
        import torchvision

        expected = self.expected_file()
        if offline() and not expected.is_file():
            raise _unavailable(self.description, expected, "HF_HUB_OFFLINE is set")
        try:
            # Building through torchvision applies its own key fixes (e.g. DenseNet's).
            net = torchvision.models.get_model(self.model, weights=self.weights)
        except Exception as err:  # urllib, socket and hash errors all mean "no usable file"
            raise _unavailable(self.description, expected, _first_line(err)) from err
        return net.state_dict()


@dataclass(frozen=True)
class TimmImagenet:
    """ImageNet weights of a timm model, cached in the Hugging Face hub cache."""

    model: str  # timm name with pretrained tag, e.g. "inception_resnet_v2.tf_in1k"

    @property
    def description(self) -> str:
        return f"timm {self.model}"

    def _hub_id(self) -> str:
        import timm

        cfg = timm.models.get_pretrained_cfg(self.model)
        if cfg is None or not cfg.hf_hub_id:
            raise PretrainedWeightsError(f"timm has no Hugging Face weights for {self.model}")
        return str(cfg.hf_hub_id)

    def _cached_file(self) -> Path | None:
        from huggingface_hub import constants, try_to_load_from_cache

        for filename in ("model.safetensors", "pytorch_model.bin"):
            found = try_to_load_from_cache(
                self._hub_id(), filename, cache_dir=constants.HF_HUB_CACHE
            )
            if isinstance(found, str):
                return Path(found)
        return None

    def expected_file(self) -> Path:
        from huggingface_hub import constants

        cached = self._cached_file()
        if cached is not None:
            return cached
        folder = Path(constants.HF_HUB_CACHE) / ("models--" + self._hub_id().replace("/", "--"))
        return folder / "snapshots" / "<revision>" / "model.safetensors"

    def state_dict(self) -> dict[str, torch.Tensor]:
        import timm

        if offline() and self._cached_file() is None:
            raise _unavailable(self.description, self.expected_file(), "HF_HUB_OFFLINE is set")
        try:
            net = timm.create_model(self.model, pretrained=True)
        except Exception as err:  # urllib, httpx and huggingface_hub errors all mean "no file"
            raise _unavailable(self.description, self.expected_file(), _first_line(err)) from err
        return net.state_dict()


@dataclass(frozen=True)
class PackagedImagenet:
    """ImageNet weights installed by a Python package: always available offline."""

    description: str
    file: Callable[[], Path]
    load: Callable[[], dict[str, torch.Tensor]]

    def expected_file(self) -> Path:
        return self.file()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.load()


@dataclass
class LoadReport:
    """What `load_pretrained` did: which tensors loaded, and which did not and why."""

    source: str
    prefix: str  # the submodule the file's keys were matched against ("" = the whole model)
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # same name, different shape (head swap)
    missing: list[str] = field(default_factory=list)  # in the model, not in the file
    unexpected: list[str] = field(default_factory=list)  # in the file, not in the model

    def summary(self) -> str:
        parts = [f"loaded {len(self.loaded)} tensors from {self.source}"]
        for label, keys in (
            ("skipped (shape differs)", self.skipped),
            ("missing", self.missing),
            ("unexpected", self.unexpected),
        ):
            if keys:
                shown = ", ".join(keys[:4]) + (", ..." if len(keys) > 4 else "")
                parts.append(f"{label} {len(keys)}: {shown}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "prefix": self.prefix,
            "loaded": len(self.loaded),
            "skipped": self.skipped,
            "missing": self.missing,
            "unexpected": self.unexpected,
        }


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _unwrap(payload: Any, path: Path) -> dict[str, torch.Tensor]:
    """The tensor mapping inside a checkpoint, whichever wrapper key it uses."""
    if isinstance(payload, Mapping):
        for key in _STATE_DICT_KEYS:
            if isinstance(payload.get(key), Mapping):
                return _unwrap(payload[key], path)
        tensors = {str(k): v for k, v in payload.items() if isinstance(v, torch.Tensor)}
        if tensors and len(tensors) == len(payload):
            return tensors
    raise PretrainedWeightsError(f"{path} holds no state dict (a mapping of names to tensors)")


def _normalise_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the `module.` of (Distributed)DataParallel and rename legacy DenseNet keys."""
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    renamed = {}
    for key, value in state.items():
        legacy = _LEGACY_DENSENET_KEY.match(key)
        renamed[legacy.group(1) + legacy.group(2) if legacy else key] = value
    return renamed


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a weights file (torch pickle read with weights_only, or safetensors)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            payload: Any = load_file(str(path), device="cpu")
        else:
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch and safetensors raise many types for foreign files
        raise PretrainedWeightsError(
            f"cannot read weights file {path}: {_first_line(err)} "
            "(a whole pickled model cannot be read safely: save its state_dict() instead)"
        ) from err
    return _normalise_keys(_unwrap(payload, path))


def _best_prefix(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str:
    """The submodule whose parameter names the file's keys match best.

    A detector wraps its library network in a child module (e.g. `net`), so a torchvision or
    timm checkpoint matches under `net.` while a fakescope checkpoint matches at the top.
    """
    names = set(model.state_dict())
    candidates = [""] + [f"{name}." for name, _ in model.named_children()]
    scores = [sum(prefix + key in names for key in state) for prefix in candidates]
    return candidates[scores.index(max(scores))]


def load_state_dict_swapping_head(
    model: nn.Module, state: Mapping[str, torch.Tensor], source: str
) -> LoadReport:
    """Load every tensor whose name and shape match; report the rest (timm-style head swap)."""
    prefix = _best_prefix(model, state)
    target = model.state_dict()
    report = LoadReport(source=source, prefix=prefix)
    loadable: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = prefix + key
        if name not in target:
            report.unexpected.append(name)
        elif tuple(target[name].shape) != tuple(value.shape):
            report.skipped.append(
                f"{name} {tuple(value.shape)} in file, {tuple(target[name].shape)} in model"
            )
        else:
            loadable[name] = value
    if not loadable:
        raise PretrainedWeightsError(
            f"no tensor in {source} matches {type(model).__name__} "
            f"(file keys start with {next(iter(state), 'nothing')!r})"
        )
    model.load_state_dict(loadable, strict=False)
    report.loaded = sorted(loadable)
    skipped_names = {entry.split(" ")[0] for entry in report.skipped}
    report.missing = [
        k
        for k in target
        if k not in loadable and k not in skipped_names and not k.endswith("num_batches_tracked")
    ]
    log = logger.warning if report.skipped or report.missing else logger.info
    log("%s: %s", type(model).__name__, report.summary())
    return report


def load_pretrained(model: nn.Module, source: str | Path) -> LoadReport:
    """Load `imagenet` weights (from the model's `imagenet_source`) or a local weights file."""
    if str(source) == "imagenet":
        imagenet: ImagenetSource | None = getattr(model, "imagenet_source", None)
        if imagenet is None:
            raise PretrainedWeightsError(
                f"{type(model).__name__} has no ImageNet weights: use --pretrained none "
                "or --pretrained PATH"
            )
        return load_state_dict_swapping_head(model, imagenet.state_dict(), imagenet.description)
    return load_state_dict_swapping_head(model, read_state_dict(source), str(source))


def apply_pretrained(model: Detector, pretrained: Pretrained) -> Detector:
    """What every factory does with its `pretrained` argument: none, imagenet or PATH."""
    if pretrained.path is not None:
        load_pretrained(model, pretrained.path)
    elif pretrained.source == "imagenet":
        load_pretrained(model, "imagenet")
    return model


# --- Fine-tuning -----------------------------------------------------------------------------


def set_backbone_trainable(model: Detector, trainable: bool) -> None:
    """Freeze (False) or unfreeze (True) the backbone; the head always stays trainable."""
    for param in model.backbone_parameters():
        param.requires_grad_(trainable)
    for param in model.head_parameters():
        param.requires_grad_(True)


def _unique(params: Iterator[nn.Parameter], seen: set[int]) -> list[nn.Parameter]:
    kept = []
    for param in params:
        if id(param) not in seen:
            seen.add(id(param))
            kept.append(param)
    return kept


def param_groups(
    model: Detector, lr_backbone: float, lr_head: float, weight_decay: float = 0.0
) -> list[dict[str, Any]]:
    """Optimizer parameter groups with separate learning rates for backbone and head.

    Frozen backbone parameters are included, so unfreezing later needs no new optimizer
    (parameters without gradients are skipped by torch optimizers).
    """
    seen: set[int] = set()
    head = _unique(model.head_parameters(), seen)
    backbone = _unique(model.backbone_parameters(), seen)
    groups = [
        {"name": "backbone", "params": backbone, "lr": lr_backbone, "weight_decay": weight_decay},
        {"name": "head", "params": head, "lr": lr_head, "weight_decay": weight_decay},
    ]
    return [group for group in groups if group["params"]]
