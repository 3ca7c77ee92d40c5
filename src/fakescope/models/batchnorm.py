"""Precise BatchNorm: running statistics set to their exact average over chosen batches.

Training leaves BatchNorm's running statistics lagging behind the weights (momentum 0.1), and an
untrained network's default ones (mean 0, variance 1) make eval-mode activations collapse; both
are fixed by recomputing the statistics for the current weights over representative batches.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


@torch.no_grad()
def average_batchnorm_statistics(module: nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """Set every BatchNorm layer's running statistics in `module` to the plain average of its
    batch statistics over `batches`, run in train mode; momenta and the mode are restored."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    was_training = module.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches
    module.train()
    try:
        for batch in batches:
            module(batch)
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        module.train(was_training)
