"""Data-parallel training through ``torch.distributed`` (no-ops in a single process).

``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; each process takes one GPU (or
runs on the CPU with gloo). Gradients are averaged with one all-reduce per step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Dist", "all_reduce_gradients", "barrier", "broadcast_parameters", "dist_context"]


@dataclass(frozen=True)
class Dist:
    """This process's place in the run: ``rank`` of ``world`` processes."""

    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_context(device: torch.device) -> Dist:
    """Join the process group when launched by ``torchrun``; a single process otherwise."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        # torchrun's env:// rendezvous by default; WTAL_DIST_INIT_METHOD (e.g. file:///tmp/rdzv)
        # overrides it, which lets tests avoid TCP ports altogether
        dist.init_process_group(
            backend="nccl" if device.type == "cuda" else "gloo",
            init_method=os.environ.get("WTAL_DIST_INIT_METHOD", "env://"),
            rank=int(os.environ.get("RANK", "0")),
            world_size=int(os.environ["WORLD_SIZE"]),
        )
    return Dist(dist.get_rank(), dist.get_world_size())


def all_reduce_gradients(model: nn.Module, world: int) -> None:
    """Average the gradients over the processes (one collective for all parameters)."""
    import torch.distributed as dist

    grads = [p.grad for p in model.parameters() if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_parameters(model: nn.Module) -> None:
    """Every process starts from rank 0's initial weights."""
    import torch.distributed as dist

    for p in model.parameters():
        dist.broadcast(p.data, src=0)


def barrier(dist: Dist) -> None:
    if dist.active:
        import torch.distributed as tdist

        tdist.barrier()
