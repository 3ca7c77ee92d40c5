"""The detector zoo: the papers' networks and two that generalise better to unseen generators.

Registered here (the DCGAN discriminators register in `models/dcgan.py`):

    selfcnn              paper 002's eight-conv CNN, 4,853,569 parameters, 1 logit
    resnet50             paper 003, torchvision, 2 logits, 23,512,130 parameters
    efficientnet_b0      paper 003, torchvision, 2 logits, 4,010,110 parameters
    densenet121          paper 002, torchvision features + MLP head, 1 logit, 7,480,193 parameters
    inception_resnet_v2  paper 001, timm, global average pooling + 2-way dense head
    efficientnet_lite0   timm, ImageNet weights shipped by a package (works offline)
    spectrum_cnn         CNN on the log DCT spectrum (Frank et al. 2020; Zhang et al. 2019)
    (npr_cnn, the up-sampling-residual CNN of Tan et al. 2024, registers in `models/npr.py`)
    lite0_probe          linear probe on frozen EfficientNet-Lite0 features (Ojha et al. 2023)
    lite1_probe          the same probe on EfficientNet-Lite1 (240 px, 5.4 M frozen parameters)
    lite2_probe          the same probe on EfficientNet-Lite2 (260 px, 6.1 M frozen parameters)

Every factory takes `pretrained` (a `Pretrained`: none, imagenet or a weights file) and plain
keyword values, which detector checkpoints store and pass back.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import timm
import torch
from torch import nn

from fakescope.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MINUS_ONE_ONE_MEAN,
    MINUS_ONE_ONE_STD,
    InputSpec,
)
from fakescope.models import efficientnet_lite as lite
from fakescope.models.backbones import (
    DenseNet121Detector,
    EfficientNetB0Detector,
    ResNet50Detector,
    TimmDetector,
    check_num_logits,
    inception_resnet_v2,
)
from fakescope.models.pretrained import NO_WEIGHTS, Pretrained
from fakescope.models.registry import Detector, register_detector
from fakescope.models.weights import PackagedImagenet, apply_pretrained


def packaged_imagenet(variant: lite.LiteVariant) -> PackagedImagenet:
    """Where a Lite variant's ImageNet weights come from: the package that ships them."""
    return PackagedImagenet(
        description=f"{variant.title} ({variant.package} package)",
        file=lambda: lite.packaged_weights_path(variant),
        load=lambda: lite.imagenet_state_dict(variant),
    )


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def conv_stage(cin: int, cout: int, pool: bool) -> nn.Sequential:
    """Two 3x3 conv-BN-ReLU layers, then an optional 2x2 max pool."""
    layers = conv_bn_relu(cin, cout) + conv_bn_relu(cout, cout)
    return nn.Sequential(*layers, *([nn.MaxPool2d(2)] if pool else []))


class ConvBodyDetector(Detector):
    """A detector built as `body` (conv stages) -> `pool` -> flatten -> `head`, on whatever
    `model_input` makes of the image (the pixels themselves unless a subclass says otherwise)."""

    body: nn.Sequential
    pool: nn.Module
    head: nn.Module

    def model_input(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.body(self.model_input(x))), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.head.parameters()

    def gradcam_layer(self) -> nn.Module:
        return self.body[-1]


class SelfCNN(ConvBodyDetector):
    """Paper 002's self-built CNN (its appendix, Fig. 9).

    Input 256 x 256 (the Kaggle set's native size, so nothing is resampled), ImageNet mean/std.
    """

    def __init__(self, num_logits: int = 1, dropout: float = 0.35) -> None:
        super().__init__()
        self.num_logits = check_num_logits(num_logits)
        self.input_spec = InputSpec(size=256, mean=IMAGENET_MEAN, std=IMAGENET_STD, resize="resize")
        self.body = nn.Sequential(
            conv_stage(3, 64, pool=True),  # 64 x H/2
            conv_stage(64, 128, pool=True),  # 128 x H/4
            conv_stage(128, 256, pool=True),  # 256 x H/8
            conv_stage(256, 512, pool=False),  # 512 x H/8
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            nn.Linear(512, 256),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(256, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(128, num_logits),
        )


def dct_matrix(n: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Orthonormal DCT-II matrix D (n x n): the DCT of a vector v is D @ v."""
    k = torch.arange(n, device=device, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(n, device=device, dtype=torch.float64).unsqueeze(0)
    matrix = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    matrix[0] /= math.sqrt(2.0)
    return matrix.to(dtype)


def log_dct_spectrum(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """log(|DCT2(x)| + eps) per channel: (N, C, H, W) -> (N, C, H, W), low frequencies top-left."""
    rows = dct_matrix(x.shape[-2], x.device, x.dtype)
    cols = dct_matrix(x.shape[-1], x.device, x.dtype)
    return torch.log(torch.abs(rows @ x @ cols.T) + eps)


def frequency_coordinates(x: torch.Tensor) -> torch.Tensor:
    """Two channels holding each coefficient's vertical and horizontal frequency in [0, 1]."""
    n, _, h, w = x.shape
    fy = torch.linspace(0, 1, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(n, 1, h, w)
    fx = torch.linspace(0, 1, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(n, 1, h, w)
    return torch.cat([fy, fx], dim=1)


class SpectrumCNN(ConvBodyDetector):
    """A CNN that looks at the image's log DCT spectrum instead of its pixels.

    Generators that upsample (transposed convolutions, as in DCGAN) leave periodic traces that
    show as peaks and a wrong high-frequency fall-off in the spectrum (Durall et al. 2020; Frank
    et al. 2020), and classifiers fed the spectrum carry over to GANs they were not trained on
    (Zhang et al. 2019). Where a peak sits matters, unlike in a photo, so the convolutions get
    the frequency coordinates as two extra channels and the pooling keeps a coarse 4 x 4 grid.

    Input 128 x 128 (the paper-000 generator's native size: resampling would blur the very
    high frequencies this model reads), short side scaled and centre-cropped in training; at
    prediction a picture is scored on unresized 128 x 128 tiles (`native_resolution`).
    """

    native_resolution = True

    def __init__(self, num_logits: int = 1, width: int = 32, dropout: float = 0.2) -> None:
        super().__init__()
        self.num_logits = check_num_logits(num_logits)
        self.input_spec = InputSpec(
            size=128, mean=MINUS_ONE_ONE_MEAN, std=MINUS_ONE_ONE_STD, resize="short_side_crop"
        )
        # Standardises the log spectrum per colour channel with running statistics, as Frank
        # et al. standardise DCT coefficients with training-set statistics.
        self.spectrum_norm = nn.BatchNorm2d(3)
        self.body = nn.Sequential(
            conv_stage(3 + 2, width, pool=True),  # width x H/2
            conv_stage(width, 2 * width, pool=True),  # 2w x H/4
            conv_stage(2 * width, 4 * width, pool=True),  # 4w x H/8
            conv_stage(4 * width, 8 * width, pool=False),  # 8w x H/8
        )
        self.pool = nn.AdaptiveAvgPool2d(4)  # 8w x 4 x 4: coarse frequency bands kept apart
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(8 * width * 16, num_logits))

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """The network's actual input: normalised log spectrum plus frequency coordinates."""
        # In float32 even under mixed precision: the small high-frequency coefficients this model
        # reads come out of sums of large terms and would drown in half-precision rounding.
        with torch.autocast(x.device.type, enabled=False):
            spectrum = self.spectrum_norm(log_dct_spectrum(x.float()))
        return torch.cat([spectrum, frequency_coordinates(spectrum)], dim=1)

    def model_input(self, x: torch.Tensor) -> torch.Tensor:
        return self.spectrum(x)


def _out_channels(stage: nn.Module) -> int:
    """Channels a backbone stage puts out: those of its last convolution."""
    convs = [m for m in stage.modules() if isinstance(m, nn.Conv2d)]
    return int(convs[-1].out_channels)


class LinearProbe(Detector):
    """One linear layer on frozen ImageNet EfficientNet-Lite features (Ojha et al. 2023).

    The backbone never trains: it is excluded from `backbone_parameters()` (so fine-tuning
    schedules leave it frozen) and kept in eval mode so its BatchNorm statistics stay ImageNet's.
    Build it with `pretrained="imagenet"`; with "none" the frozen features are random.

    `multilevel=True` also pools the output of every backbone stage (16 to 320 channels in Lite0,
    from edges and textures up to parts) beside the final 1,280 features: 2,064 in all (2,136 on
    Lite2, whose stages are wider), standardised
    by a BatchNorm without learned scale (as in MAE's linear probing) because the stages' scales
    differ. Early stages keep the low-level statistics (blur, noise, up-sampling traces) that the
    last, content-level features average away.
    """

    def __init__(
        self, num_logits: int = 1, multilevel: bool = False, variant: lite.LiteVariant = lite.LITE0
    ) -> None:
        super().__init__()
        self.num_logits = check_num_logits(num_logits)
        self.input_spec = variant.input_spec
        self.imagenet_source = packaged_imagenet(variant)
        self.multilevel = multilevel
        backbone: Any = timm.create_model(
            variant.timm_architecture, pretrained=False, num_classes=0
        )
        self.backbone = backbone.requires_grad_(False)
        width = int(backbone.num_features)
        if multilevel:
            width += sum(_out_channels(stage) for stage in backbone.blocks)
        self.norm = nn.BatchNorm1d(width, affine=False) if multilevel else nn.Identity()
        self.head = nn.Linear(width, num_logits)

    def train(self, mode: bool = True) -> LinearProbe:
        super().train(mode)
        self.backbone.eval()
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if not self.multilevel:
            return self.backbone(x)  # 1280, pooled
        b = self.backbone
        x = b.bn1(b.conv_stem(x))
        pooled = []
        for stage in b.blocks:
            x = stage(x)
            pooled.append(x.mean(dim=(2, 3)))
        pooled.append(b.forward_head(b.bn2(b.conv_head(x))))
        return self.norm(torch.cat(pooled, dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.head.parameters()

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        return iter(())

    def gradcam_layer(self) -> nn.Module:
        return self.backbone.get_submodule("bn2")


@register_detector("selfcnn", "paper 002's self-built 8-conv CNN (4,853,569 parameters)")
def selfcnn(
    pretrained: Pretrained = NO_WEIGHTS, num_logits: int = 1, dropout: float = 0.35
) -> Detector:
    return apply_pretrained(SelfCNN(num_logits, dropout), pretrained)


@register_detector("resnet50", "torchvision ResNet-50, 2-logit head (paper 003)")
def resnet50(pretrained: Pretrained = NO_WEIGHTS, num_logits: int = 2) -> Detector:
    return apply_pretrained(ResNet50Detector(num_logits), pretrained)


@register_detector("efficientnet_b0", "torchvision EfficientNet-B0, 2-logit head (paper 003)")
def efficientnet_b0(
    pretrained: Pretrained = NO_WEIGHTS, num_logits: int = 2, dropout: float = 0.2
) -> Detector:
    return apply_pretrained(EfficientNetB0Detector(num_logits, dropout), pretrained)


@register_detector("densenet121", "torchvision DenseNet-121 with paper 002's MLP head")
def densenet121(
    pretrained: Pretrained = NO_WEIGHTS, num_logits: int = 1, dropout: float = 0.35
) -> Detector:
    return apply_pretrained(DenseNet121Detector(num_logits, dropout), pretrained)


@register_detector("inception_resnet_v2", "timm Inception-ResNet-v2, GAP + dense head (paper 001)")
def inception_resnet_v2_detector(
    pretrained: Pretrained = NO_WEIGHTS, num_logits: int = 2, dropout: float = 0.0
) -> Detector:
    return apply_pretrained(inception_resnet_v2(num_logits, dropout), pretrained)


@register_detector("efficientnet_lite0", "timm EfficientNet-Lite0, ImageNet weights offline")
def efficientnet_lite0(
    pretrained: Pretrained = NO_WEIGHTS, num_logits: int = 2, dropout: float = 0.2
) -> Detector:
    model = TimmDetector(
        lite.LITE0.timm_architecture,
        packaged_imagenet(lite.LITE0),
        lite.LITE0.input_spec,
        gradcam_module="bn2",
        num_logits=num_logits,
        dropout=dropout,
    )
    return apply_pretrained(model, pretrained)


@register_detector("spectrum_cnn", "CNN on the log DCT spectrum (frequency-aware)")
def spectrum_cnn(
    pretrained: Pretrained = NO_WEIGHTS, num_logits: int = 1, width: int = 32, dropout: float = 0.2
) -> Detector:
    return apply_pretrained(SpectrumCNN(num_logits, width, dropout), pretrained)


@register_detector("lite0_probe", "linear probe on frozen ImageNet EfficientNet-Lite0 features")
def lite0_probe(
    pretrained: Pretrained = NO_WEIGHTS, num_logits: int = 1, multilevel: bool = False
) -> Detector:
    return apply_pretrained(LinearProbe(num_logits, multilevel, lite.LITE0), pretrained)


@register_detector("lite1_probe", "linear probe on frozen ImageNet EfficientNet-Lite1 features")
def lite1_probe(
    pretrained: Pretrained = NO_WEIGHTS, num_logits: int = 1, multilevel: bool = False
) -> Detector:
    return apply_pretrained(LinearProbe(num_logits, multilevel, lite.LITE1), pretrained)


@register_detector("lite2_probe", "linear probe on frozen ImageNet EfficientNet-Lite2 features")
def lite2_probe(
    pretrained: Pretrained = NO_WEIGHTS, num_logits: int = 1, multilevel: bool = False
) -> Detector:
    return apply_pretrained(LinearProbe(num_logits, multilevel, lite.LITE2), pretrained)
