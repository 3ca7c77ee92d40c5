"""The packaged EfficientNet-Lite0 weights, renamed onto timm, reproduce their source network."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from fakescope.data.transforms import InputSpec, Normalizer, preprocess, to_chw_tensor
from fakescope.models.efficientnet_lite0 import (
    LITE0_INPUT_SPEC,
    efficientnet_lite0_imagenet,
    packaged_weights_path,
)

# --- A reference of the network the weights were made for -------------------------------------
# The `EfficientNet-Lite-PyTorch` port (lukemelas/EfficientNet-PyTorch layout) configured for
# lite0: TensorFlow "SAME" padding, BatchNorm eps 1e-3, ReLU6, no squeeze-excite, stem 32 and
# head 1280 channels. Rows: repeats, kernel, stride, expansion, in, out.
LITE0_BLOCKS = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding: output size ceil(input / stride)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride, strict=True):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        x = F.pad(x, [*pads[1], *pads[0]])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3)


class MBConv(nn.Module):
    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand
        if expand != 1:
            self._expand_conv = SameConv(cin, mid, 1, bias=False)
            self._bn0 = bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = bn(mid)
        self._project_conv = SameConv(mid, cout, 1, bias=False)
        self._bn2 = bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if self.expand != 1:
            x = F.relu6(self._bn0(self._expand_conv(x)))
        x = F.relu6(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        return x + inputs if self.skip else x


class ReferenceLite0(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, 2, bias=False)
        self._bn0 = bn(32)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_BLOCKS:
            blocks.append(MBConv(kernel, stride, expand, cin, cout))
            blocks += [MBConv(kernel, 1, expand, cout, cout) for _ in range(repeats - 1)]
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, 1280, 1, bias=False)
        self._bn1 = bn(1280)
        self._fc = nn.Linear(1280, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    # Small batches: several threads only contend with each other on a shared CPU.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mapped() -> nn.Module:
    return efficientnet_lite0_imagenet()


def test_mapped_timm_model_reproduces_the_source_network(mapped: nn.Module) -> None:
    reference = ReferenceLite0().eval()
    source = torch.load(packaged_weights_path(), map_location="cpu", weights_only=True)
    reference.load_state_dict(source, strict=True)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, actual = reference(x), mapped(x)
    assert actual.shape == (2, 1000)
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-4)


def test_parameter_count_is_efficientnet_lite0s(mapped: nn.Module) -> None:
    assert sum(p.numel() for p in mapped.parameters()) == 4_652_008


def _classify(model: nn.Module, picture: np.ndarray) -> int:
    spec: InputSpec = LITE0_INPUT_SPEC
    array = preprocess(Image.fromarray(picture), spec)
    x = Normalizer(spec)(to_chw_tensor(array).unsqueeze(0))
    with torch.no_grad():
        return int(model(x).argmax())


def test_top1_class_of_natural_photos_is_sensible(mapped: nn.Module) -> None:
    images = pytest.importorskip("sklearn.datasets").load_sample_images().images
    china, flower = images
    # ImageNet classes 698 palace and 442 bell cote (a Chinese temple), 985 daisy.
    assert _classify(mapped, china) in {698, 442}
    assert _classify(mapped, flower) == 985
