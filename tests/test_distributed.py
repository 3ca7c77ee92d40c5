"""The one-process side of fakescope.distributed: environment, no-op collectives, BatchNorm swap."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fakescope.distributed import (
    DistContext,
    SyncBatchNorm2d,
    context_from_environment,
    convert_sync_batchnorm,
    data_parallel,
    distributed_session,
    local_batchnorm,
)


def test_environment_of_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert context_from_environment() == DistContext()
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    ctx = context_from_environment()
    assert (ctx.rank, ctx.world, ctx.local_rank, ctx.enabled, ctx.is_main) == (3, 4, 1, True, False)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="RANK=4, WORLD_SIZE=4"):
        context_from_environment()


def test_global_batch_splits_evenly() -> None:
    assert DistContext(rank=1, world=4).local_batch_size(64) == 16
    with pytest.raises(ValueError, match=r"train.batch_size \(10\) must be divisible .* \(4\)"):
        DistContext(rank=0, world=4).local_batch_size(10)


def test_one_process_session_is_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with distributed_session("cpu") as (ctx, device):
        assert not ctx.enabled and device == torch.device("cpu")
        values = torch.tensor([1.0, 2.0])
        assert ctx.mean(values) is values
        assert ctx.any(True) and not ctx.any(False)
        assert ctx.gather_objects("x") == ["x"] and ctx.broadcast(3) == 3
        model = nn.Linear(2, 1)
        assert data_parallel(model, ctx, device) is model
        assert not torch.distributed.is_initialized()


def test_sync_batchnorm_swap_keeps_weights_and_plain_behaviour() -> None:
    def build() -> nn.Sequential:
        inner = nn.Sequential(nn.BatchNorm2d(4))
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), inner)

    torch.manual_seed(0)
    model, reference = build(), build()
    reference.load_state_dict(model.state_dict())
    weight = model[1].weight
    convert_sync_batchnorm(model)
    assert isinstance(model[1], SyncBatchNorm2d) and isinstance(model[2][0], SyncBatchNorm2d)
    assert model[1].weight is weight  # an optimizer built before still updates it
    assert model.state_dict().keys() == reference.state_dict().keys()
    x = torch.randn(5, 3, 8, 8)
    # Without a process group it is BatchNorm2d: same output and running statistics.
    torch.testing.assert_close(model(x), reference(x))
    torch.testing.assert_close(model[1].running_var, reference[1].running_var)


def test_batchnorm_subclasses_are_left_alone() -> None:
    class NormAct(nn.BatchNorm2d):  # like timm's BatchNormAct2d, which fuses an activation
        def forward(self, input: torch.Tensor) -> torch.Tensor:
            return torch.relu(super().forward(input))

    model = nn.Sequential(NormAct(3))
    convert_sync_batchnorm(model)
    assert type(model[0]) is NormAct


def test_local_batchnorm_turns_sync_off_inside_only() -> None:
    model = convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(2), nn.BatchNorm2d(2)))
    layers = [m for m in model.modules() if isinstance(m, SyncBatchNorm2d)]
    with local_batchnorm(model):
        assert not any(layer.sync for layer in layers)
    assert all(layer.sync for layer in layers)
