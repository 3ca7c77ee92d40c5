"""Data-parallel training under `torchrun`: process group, rank roles, collectives, BatchNorm sync.

    torchrun --nproc_per_node 2 -m fakescope gan train --config paper000_dcgan64 --data faces/

A job started by torchrun finds RANK, WORLD_SIZE and LOCAL_RANK in its environment;
`distributed_session` then joins the process group (NCCL on GPUs, gloo on CPUs) and places the
process on its own GPU. Without those variables it is a one-process session whose collectives
do nothing, so trainers call the same code either way.

`train.batch_size` stays the global batch (the papers' number): each of N processes takes every
N-th image of the global batch. With gradients averaged by DistributedDataParallel and BatchNorm
statistics computed over the whole global batch (`SyncBatchNorm2d`), N processes then take the same
steps as one process would, up to floating-point summation order.
"""

from __future__ import annotations

import datetime
import gc
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from fakescope.config import ConfigError
from fakescope.reproducibility import resolve_device

log = logging.getLogger("fakescope.distributed")

T = TypeVar("T")
# Epoch-end work (quality metrics, plots) runs on rank 0 while the others wait in a collective.
COLLECTIVE_TIMEOUT = datetime.timedelta(hours=2)


@dataclass(frozen=True)
class DistContext:
    """This process's place among the training processes; world 1 means no distribution."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the run folder: logs, checkpoints, samples, plots."""
        return self.rank == 0

    @property
    def shard(self) -> tuple[int, int]:
        return self.rank, self.world

    def local_batch_size(self, global_batch: int, key: str = "train.batch_size") -> int:
        if global_batch % self.world:
            raise ConfigError(
                f"{key} ({global_batch}) must be divisible by the number of processes "
                f"({self.world}): it is the global batch, split evenly among them"
            )
        return global_batch // self.world

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The average of `values` over processes (every process gets it)."""
        if not self.enabled:
            return values
        total = values.detach().clone()
        dist.all_reduce(total)
        return total / self.world

    def any(self, flag: bool) -> bool:
        """True on every process when it is true on at least one (a stop request, a deadline)."""
        if not self.enabled:
            return flag
        value = torch.tensor([1.0 if flag else 0.0])
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def gather_objects(self, obj: T) -> list[T]:
        """Every process's picklable `obj`, in rank order (sizes may differ between ranks)."""
        if not self.enabled:
            return [obj]
        objects: list[Any] = [None] * self.world
        dist.all_gather_object(objects, obj)
        return cast(list[T], objects)

    def broadcast(self, obj: T) -> T:
        """Rank 0's picklable `obj`, on every process."""
        if not self.enabled:
            return obj
        box: list[Any] = [obj]
        dist.broadcast_object_list(box, src=0)
        return cast(T, box[0])

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (it builds caches and folders), then the others."""
        if self.is_main:
            yield
            self.barrier()
        else:
            self.barrier()
            yield


def context_from_environment() -> DistContext:
    """The ranks torchrun put in the environment; one process when they are absent."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as err:
        raise ConfigError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers ({err})") from err
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"invalid torchrun environment: RANK={rank}, WORLD_SIZE={world}")
    return DistContext(rank=rank, world=world, local_rank=local_rank)


@contextmanager
def distributed_session(device_name: str = "auto") -> Iterator[tuple[DistContext, torch.device]]:
    """Join the process group torchrun set up (if any) and pick this process's device.

    Under torchrun each process uses GPU `LOCAL_RANK` when the device is CUDA. The group is left
    when the block ends, also on errors, so a failed rank does not keep the others waiting.
    """
    ctx = context_from_environment()
    device = resolve_device(device_name)
    if not ctx.enabled:
        yield ctx, device
        return
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    created = not dist.is_initialized()
    if created:
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT,
                                device_id=device if device.type == "cuda" else None)
        log.info("process %d of %d joined the %s group", ctx.rank, ctx.world, backend)
    try:
        yield ctx, device
    finally:
        if created:
            # Free what still holds the group (DDP wrappers in reference cycles) first, so that
            # destroying it stops gloo's worker threads now. Left to the interpreter's exit,
            # a worker thread freeing a finished collective's tensors there aborts the process
            # (SIGABRT after a run that saved everything).
            gc.collect()
            dist.destroy_process_group()


class SyncBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the batches of every process.

    torch's SyncBatchNorm runs on GPUs only; this one uses differentiable all-reduces, so it also
    runs on CPUs under gloo, and its backward pass sends each process the gradient of the shared
    statistics. The state dict is BatchNorm2d's, so checkpoints load into plain models.
    `local_batchnorm` turns the sync off for work one rank does alone (calibration, sampling).
    """

    sync: bool = True

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.sync and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(input)
        self._check_input_dim(input)
        count = torch.tensor([input.numel() / input.shape[1]], dtype=input.dtype,
                             device=input.device)
        # Two passes (mean, then squared deviations) as the one-process kernel's accuracy needs.
        sums = dist_fn.all_reduce(torch.cat([input.sum((0, 2, 3)), count]))
        total = sums[-1]
        mean = sums[:-1] / total
        centred = input - mean[None, :, None, None]
        var = dist_fn.all_reduce(centred.square().sum((0, 2, 3))) / total
        output = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            output = output * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), float(total.detach()))
        return output

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, total: float) -> None:
        assert self.running_mean is not None and self.running_var is not None
        assert self.num_batches_tracked is not None
        self.num_batches_tracked.add_(1)
        factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                  else self.momentum)
        unbiased = var * (total / max(total - 1.0, 1.0))
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
        self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Swap every plain BatchNorm2d in `module` for SyncBatchNorm2d, weights and statistics kept.

    Subclasses of BatchNorm2d (timm's BatchNormAct2d fuses an activation) are left as they are:
    their statistics stay per process, which a warning says.
    """
    if type(module) is nn.BatchNorm2d:
        synced = SyncBatchNorm2d(module.num_features, module.eps, module.momentum,
                                 module.affine, module.track_running_stats)
        # The same parameter and buffer objects, so optimizers built before still update them.
        synced.weight, synced.bias = module.weight, module.bias
        for name, buffer in module.named_buffers(recurse=False):
            synced.register_buffer(name, buffer)
        synced.train(module.training)
        return synced
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(
        module, SyncBatchNorm2d
    ):
        log.warning("%s keeps per-process BatchNorm statistics", type(module).__name__)
        return module
    for name, child in module.named_children():
        module.add_module(name, convert_sync_batchnorm(child))
    return module


@contextmanager
def local_batchnorm(module: nn.Module) -> Iterator[None]:
    """Inside the block, SyncBatchNorm2d layers of `module` use this process's batch alone."""
    layers = [m for m in module.modules() if isinstance(m, SyncBatchNorm2d)]
    for layer in layers:
        layer.sync = False
    try:
        yield
    finally:
        for layer in layers:
            layer.sync = True


def data_parallel(
    module: nn.Module, ctx: DistContext, device: torch.device, find_unused: bool = False
) -> nn.Module:
    """`module` wrapped for gradient averaging across processes; itself when there is one.

    The caller keeps the unwrapped module for checkpoints and one-rank work; both share weights.
    Buffers are not broadcast: synchronised BatchNorm keeps them equal on every process.
    """
    if not ctx.enabled:
        return module
    convert_sync_batchnorm(module)
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False,
                                   find_unused_parameters=find_unused)
