"""Data-parallel training with PyTorch's own engine (``torchrun`` + DistributedDataParallel).

``torchrun --nproc_per_node=N -m napari_sleap_train train …`` starts N processes; each
trains on its share of every epoch's samples (a distributed sampler), gradients are
averaged by :class:`~torch.nn.parallel.DistributedDataParallel`, decisions (stop, time
limit, early stopping) are agreed across processes, and only rank 0 writes files.
Backends: NCCL on CUDA GPUs, gloo on CPUs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Group:
    """This process's place among the training processes (rank 0 of 1 when alone)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Whether this process writes checkpoints and logs."""
        return self.rank == 0

    def agree(self, flag: bool) -> bool:
        """True on every process when it is true on any."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def mean(self, value: float) -> float:
        """The mean of ``value`` over the processes."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The model to train: DistributedDataParallel around it when there are several."""
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" and device.index is not None else None
        return DistributedDataParallel(model, device_ids=ids)

    def share(self, order: torch.Tensor) -> torch.Tensor:
        """This process's part of a permutation that every process drew alike."""
        return order[self.rank :: self.world]


def current() -> Group:
    """The running process group, or a single process."""
    if dist.is_available() and dist.is_initialized():
        return Group(dist.get_rank(), dist.get_world_size())
    return Group()


def init_from_env(device: str) -> tuple[Group, str]:
    """Join the group ``torchrun`` set up (``WORLD_SIZE`` > 1); returns it and the device.

    Each process takes the GPU of its local rank when training on CUDA.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not dist.is_available():
        return Group(), device
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return current(), device


def shutdown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
