"""`npr_cnn`: a small CNN on the image's up-sampling residual (NPR, Tan et al., CVPR 2024).

Tan et al., "Rethinking the Up-Sampling Operations in CNN-based Generative Network for
Generalizable Deepfake Detection": nearly every generator ends in up-sampling layers, which
tie each pixel to its neighbours within small blocks. The Neighbouring Pixel Relationships
(NPR) show in the residual between an image and its nearest-neighbour down- then up-sampled
copy, x - up(down(x)), with factor 2: within each 2x2 block it keeps only how the pixels differ
from the block's top-left one, which is where up-sampling leaves its trace and where image
content says little. The paper feeds that residual to the first stages of a ResNet-50; this is
a smaller network of the same shape (three conv stages, global average pooling, one linear
head), 288,033 parameters with one logit.

The trace is a few pixels wide and any resampling erases it, so the detector declares
`native_resolution`: prediction, evaluation and serving show it tiles of its input size cut
from the unresized picture (`fakescope.inference.tiles`) and average their log-odds.
How it carried over to generator families it never saw in fakescope's own cross-generator
matrix is in benchmarks/results/xgen_results.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fakescope.data.transforms import MINUS_ONE_ONE_MEAN, MINUS_ONE_ONE_STD, InputSpec
from fakescope.models.backbones import check_num_logits
from fakescope.models.detectors import ConvBodyDetector, conv_stage
from fakescope.models.pretrained import NO_WEIGHTS, Pretrained
from fakescope.models.registry import Detector, register_detector
from fakescope.models.weights import apply_pretrained

# The paper's code scales the residual by 2/3 before its first convolution.
RESIDUAL_SCALE = 2.0 / 3.0


def npr_residual(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """x - up(down(x)) with nearest-neighbour resampling by `factor` (sides cropped to a
    multiple of it, so every block is whole)."""
    height, width = x.shape[-2] // factor * factor, x.shape[-1] // factor * factor
    x = x[..., :height, :width]
    down = x[..., ::factor, ::factor]  # nearest-neighbour down-sampling keeps each block's corner
    return x - F.interpolate(down, scale_factor=factor, mode="nearest")


class NPRCNN(ConvBodyDetector):
    """Three conv stages on the scaled NPR residual, global average pooling, a linear head.

    Input 64 x 64 tiles normalised to [-1, 1]; at prediction time a picture is scored on as
    many unresized tiles as it holds (its `native_resolution`).
    """

    native_resolution = True

    def __init__(self, num_logits: int = 1, width: int = 32, dropout: float = 0.2) -> None:
        super().__init__()
        self.num_logits = check_num_logits(num_logits)
        self.input_spec = InputSpec(
            size=64, mean=MINUS_ONE_ONE_MEAN, std=MINUS_ONE_ONE_STD, resize="short_side_crop"
        )
        self.body = nn.Sequential(
            conv_stage(3, width, pool=True),  # w x H/2
            conv_stage(width, 2 * width, pool=True),  # 2w x H/4
            conv_stage(2 * width, 4 * width, pool=False),  # 4w x H/4
        )
        # Averaging over positions: a tile's evidence is where up-sampling left it, anywhere.
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * width, num_logits))

    def model_input(self, x: torch.Tensor) -> torch.Tensor:
        return npr_residual(x) * RESIDUAL_SCALE


@register_detector("npr_cnn", "small CNN on the up-sampling residual (NPR, Tan et al. 2024)")
def npr_cnn(
    pretrained: Pretrained = NO_WEIGHTS, num_logits: int = 1, width: int = 32, dropout: float = 0.2
) -> Detector:
    return apply_pretrained(NPRCNN(num_logits, width, dropout), pretrained)
