"""Detectors built on torchvision and timm ImageNet classifiers.

Each wrapper keeps the library network whole as `self.net`, with its last layer resized to
`num_logits`, so the state dict keeps the library's key names under `net.`: torchvision and
timm checkpoints (a paper's own fine-tuned file included) load into it directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import timm
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from fakescope.data.transforms import IMAGENET_MEAN, IMAGENET_STD, InputSpec
from fakescope.models.registry import Detector
from fakescope.models.weights import ImagenetSource, TimmImagenet, TorchvisionImagenet

TORCHVISION_INPUT_SPEC = InputSpec(size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, resize="resize")


def check_num_logits(num_logits: int) -> int:
    if num_logits not in (1, 2):
        raise ValueError(f"num_logits must be 1 (sigmoid) or 2 (softmax), got {num_logits}")
    return num_logits


def timm_input_spec(model: str, resize: str = "resize") -> InputSpec:
    """Size, mean and std from a timm model's pretrained config (e.g. 299 and [-1, 1])."""
    cfg = timm.models.get_pretrained_cfg(model)
    if cfg is None:
        raise ValueError(f"timm has no pretrained config for {model}")
    return InputSpec(
        size=int(cfg.input_size[-1]),
        mean=tuple(cfg.mean),  # type: ignore[arg-type]
        std=tuple(cfg.std),  # type: ignore[arg-type]
        resize=resize,
    )


class LibraryDetector(Detector):
    """A library classifier `net` whose attribute `head_name` is the classifier head."""

    def __init__(
        self,
        net: nn.Module,
        head_name: str,
        gradcam_module: str,
        num_logits: int,
        input_spec: InputSpec,
        imagenet_source: ImagenetSource,
    ) -> None:
        super().__init__()
        self.net = net
        self.head_name = head_name
        self.gradcam_module = gradcam_module
        self.num_logits = num_logits
        self.input_spec = input_spec
        self.imagenet_source = imagenet_source

    @property
    def head(self) -> nn.Module:
        return self.net.get_submodule(self.head_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.head.parameters()

    def gradcam_layer(self) -> nn.Module:
        return self.net.get_submodule(self.gradcam_module)


class ResNet50Detector(LibraryDetector):
    """torchvision ResNet-50 with a `num_logits` fc layer (paper 003)."""

    def __init__(self, num_logits: int = 2) -> None:
        net = torchvision.models.resnet50(num_classes=check_num_logits(num_logits))
        source = TorchvisionImagenet("resnet50", "ResNet50_Weights.IMAGENET1K_V1")
        super().__init__(net, "fc", "layer4", num_logits, TORCHVISION_INPUT_SPEC, source)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        net = cast(torchvision.models.ResNet, self.net)
        x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        x = net.layer4(net.layer3(net.layer2(net.layer1(x))))  # 2048 x H/32 x W/32
        return torch.flatten(net.avgpool(x), 1)


class EfficientNetB0Detector(LibraryDetector):
    """torchvision EfficientNet-B0 with a `num_logits` classifier (paper 003)."""

    def __init__(self, num_logits: int = 2, dropout: float = 0.2) -> None:
        net = torchvision.models.efficientnet_b0(
            num_classes=check_num_logits(num_logits), dropout=dropout
        )
        source = TorchvisionImagenet("efficientnet_b0", "EfficientNet_B0_Weights.IMAGENET1K_V1")
        super().__init__(
            net, "classifier", "features.8", num_logits, TORCHVISION_INPUT_SPEC, source
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        net = cast(torchvision.models.EfficientNet, self.net)
        return torch.flatten(net.avgpool(net.features(x)), 1)  # 1280


class DenseNet121Detector(LibraryDetector):
    """torchvision DenseNet-121 features with paper 002's head:
    Linear(1024, 512), BatchNorm1d, ReLU, Dropout, Linear(512, num_logits)."""

    def __init__(self, num_logits: int = 1, dropout: float = 0.35) -> None:
        net = torchvision.models.densenet121()
        net.classifier = nn.Sequential(
            nn.Linear(1024, 512),
            nn.BatchNorm1d(512),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(512, check_num_logits(num_logits)),
        )
        source = TorchvisionImagenet("densenet121", "DenseNet121_Weights.IMAGENET1K_V1")
        super().__init__(
            net, "classifier", "features.norm5", num_logits, TORCHVISION_INPUT_SPEC, source
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(cast(torchvision.models.DenseNet, self.net).features(x))  # 1024 x H/32 x W/32
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class TimmDetector(LibraryDetector):
    """A timm classifier with a `num_logits` head; timm's own pooling and dropout."""

    def __init__(
        self,
        architecture: str,
        imagenet_source: ImagenetSource,
        input_spec: InputSpec,
        gradcam_module: str,
        num_logits: int = 2,
        dropout: float = 0.0,
    ) -> None:
        net: Any = timm.create_model(
            architecture,
            pretrained=False,
            num_classes=check_num_logits(num_logits),
            drop_rate=dropout,
        )
        head_name = str(net.pretrained_cfg["classifier"])
        super().__init__(net, head_name, gradcam_module, num_logits, input_spec, imagenet_source)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        net: Any = self.net  # timm models share forward_features / forward_head, not a base type
        return net.forward_head(net.forward_features(x), pre_logits=True)


def inception_resnet_v2(num_logits: int = 2, dropout: float = 0.0) -> TimmDetector:
    """timm Inception-ResNet-v2: global average pooling and a dense head (paper 001).

    Needs inputs of at least 75 x 75 (its stem and reduction blocks use unpadded convs).
    """
    tagged = "inception_resnet_v2.tf_in1k"
    return TimmDetector(
        "inception_resnet_v2",
        TimmImagenet(tagged),
        timm_input_spec(tagged),
        gradcam_module="conv2d_7b",
        num_logits=num_logits,
        dropout=dropout,
    )
