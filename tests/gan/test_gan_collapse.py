"""The collapse watch tells a generator that repeats itself from one that varies."""

from __future__ import annotations

import torch
from gan.tiny_gan import TinyPixelFeatures

from fakescope.data.tensors import to_uint8
from fakescope.gan.collapse import CollapseWatch
from fakescope.models.dcgan import Generator


def make_generator() -> Generator:
    torch.manual_seed(0)
    g = Generator(32, base_width=8)
    g.calibrate_batchnorm(4, 32, torch.Generator().manual_seed(0))
    return g


def test_varied_generator_passes_and_collapsed_one_is_flagged() -> None:
    g = make_generator()
    # "Real" images drawn from the same generator: as varied as its own samples.
    real = [to_uint8(g.sample(32, torch.Generator().manual_seed(9)))]
    watch = CollapseWatch(TinyPixelFeatures(), real, num_samples=32, threshold=0.4)
    healthy = watch.check(g)
    assert 0.6 < healthy.ratio < 1.6 and not healthy.collapsed

    with torch.no_grad():
        g.blocks[-1][0].weight.mul_(1e-4)  # every latent now maps to (almost) one image
    collapsed = watch.check(g)
    assert collapsed.ratio < 0.1 and collapsed.collapsed
    assert "mode collapse" in collapsed.message()
