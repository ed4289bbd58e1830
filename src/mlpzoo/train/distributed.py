"""Multi-process training under ``torchrun``: process group, batch sharding, rank-0 duties.

``torchrun --nproc_per_node N -m mlpzoo train CONFIG.yaml`` (or any script that calls the
Trainer) sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``; the Trainer then joins the process group
(gloo on CPU, nccl on CUDA), wraps the model in DistributedDataParallel and trains on shards.

Sharding is the distributed sampler's job done on whole batches: every rank draws the same
global batch (the permutation depends only on the seed and the epoch) and keeps its contiguous
slice, so N processes with ``batch_size`` B take the same optimisation steps as one process with
batch B (up to float summation order and per-rank BatchNorm statistics). Every rank evaluates
the full validation set, so early-stopping decisions agree without extra communication; only
rank 0 writes the run directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from mlpzoo.errors import ConfigError

__all__ = ["DistributedContext", "distributed_context", "shard_batch"]


@dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        dist.barrier()

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        tensor = torch.tensor(values, dtype=torch.float64)
        if self.backend == "nccl":
            tensor = tensor.cuda()
        dist.all_reduce(tensor)
        return tensor.cpu().tolist()


def distributed_context(device: torch.device) -> DistributedContext | None:
    """The process group of a ``torchrun`` launch (joined on first use), or None for one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return None
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed; run a single process")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    elif dist.get_backend() != backend:
        raise ConfigError(f"the process group uses {dist.get_backend()} but train.device {device} needs {backend}")
    return DistributedContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), backend)


def shard_batch(batch, rank: int, world_size: int):
    """This rank's contiguous slice of every tensor in a (nested) batch dict."""
    if isinstance(batch, dict):
        return {key: shard_batch(value, rank, world_size) for key, value in batch.items()}
    if isinstance(batch, torch.Tensor) and batch.dim() > 0:
        rows = batch.shape[0]
        per_rank = -(-rows // world_size)
        return batch[rank * per_rank : (rank + 1) * per_rank]
    return batch
