"""Distributed data parallel: process group, model wrapping, data sharding, gathering.

A run started under ``torchrun`` (or ``rec train ... --nproc-per-node N``) has
``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` in its environment: rec then joins the process group
(gloo on CPU, nccl on GPU), wraps the model in ``DistributedDataParallel``, gives each rank
its shard of every batch, gathers predictions so metrics cover the whole validation set,
and lets only rank 0 write logs, checkpoints and progress. Without those variables
everything here is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import nn

from rec_core.errors import ConfigError
from rec_core.run import LAUNCHED_ENV

if TYPE_CHECKING:
    from rec_core.config import TrainingConfig

__all__ = ["LAUNCHED_ENV", "DistContext", "launch_cli", "resolve_device"]


def resolve_device(device: str, gpus: int | list[int], local_rank: int = 0) -> torch.device:
    """Return the torch device for a config's ``device``/``gpus`` settings."""
    if device == "auto":
        if isinstance(gpus, list) and gpus and torch.cuda.is_available():
            return torch.device(f"cuda:{gpus[local_rank % len(gpus)]}")
        if torch.cuda.is_available():
            return torch.device(f"cuda:{local_rank}")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"config key 'device': unknown device {device!r} (use cpu, cuda, cuda:N or auto)") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"config key 'device' is {device!r} but CUDA is not available on this machine")
    if resolved.type == "cuda" and resolved.index is None:
        resolved = torch.device(f"cuda:{local_rank}")
    return resolved


@dataclass
class DistContext:
    """This process's place in a (possibly single-process) run."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @classmethod
    def from_environment(cls, config: TrainingConfig) -> DistContext:
        """Read torchrun's variables, join the process group, pick the device."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = resolve_device(config.device, config.gpus, local_rank)
        if world_size > 1 and not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            if device.type == "cuda":
                torch.cuda.set_device(device)
            dist.init_process_group(backend=backend)
        return cls(rank=rank, world_size=world_size, local_rank=local_rank, device=device)

    @property
    def is_distributed(self) -> bool:
        """Return whether more than one process trains."""
        return self.world_size > 1

    @property
    def is_global_zero(self) -> bool:
        """Return whether this is rank 0 (the one that writes)."""
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        """Wrap ``model`` in DistributedDataParallel when distributed."""
        if not self.is_distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def no_sync(self, network: nn.Module) -> Any:
        """Return a context that skips the gradient all-reduce (accumulation steps)."""
        if self.is_distributed and hasattr(network, "no_sync"):
            return network.no_sync()
        return contextlib.nullcontext()

    # -- data ---------------------------------------------------------------------------
    def shard_train(self, loader: Any) -> Any:
        """Return this rank's view of a training loader (interleaved, equal sizes)."""
        if not self.is_distributed or loader is None:
            return loader
        if callable(getattr(loader, "with_shard", None)):
            return loader.with_shard(self.rank, self.world_size)
        return self._rebuild_with_sampler(loader, drop_last=True)

    def shard_eval(self, loader: Any) -> Any:
        """Return this rank's part of an evaluation loader: every sample on exactly one rank."""
        if not self.is_distributed or loader is None:
            return loader
        from rec_core.data import ColumnarLoader

        if isinstance(loader, ColumnarLoader):
            rows = torch.arange(len(loader.dataset))[self.rank :: self.world_size]
            return ColumnarLoader(loader.dataset.subset(rows), batch_size=loader.batch_size, shuffle=False)
        return self._rebuild_with_sampler(loader, drop_last=False, shuffle=False)

    def _rebuild_with_sampler(self, loader: Any, *, drop_last: bool, shuffle: bool | None = None) -> Any:
        from torch.utils.data import DataLoader, RandomSampler
        from torch.utils.data.distributed import DistributedSampler

        if not isinstance(loader, DataLoader):
            raise ConfigError(f"cannot shard a {type(loader).__name__} for DDP; use a ColumnarLoader or a DataLoader")
        if shuffle is None:
            shuffle = isinstance(loader.sampler, RandomSampler)
        if not drop_last:  # evaluation: a contiguous, duplicate-free slice per rank
            indices = list(range(len(loader.dataset)))[self.rank :: self.world_size]
            subset = torch.utils.data.Subset(loader.dataset, indices)
            return DataLoader(subset, batch_size=loader.batch_size, collate_fn=loader.collate_fn,
                              num_workers=loader.num_workers)
        sampler = DistributedSampler(loader.dataset, num_replicas=self.world_size, rank=self.rank,
                                     shuffle=shuffle, drop_last=True)
        return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler,
                          collate_fn=loader.collate_fn, num_workers=loader.num_workers, drop_last=loader.drop_last)

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Concatenate ``tensor`` (rows may differ per rank) from every rank, in rank order."""
        if not self.is_distributed:
            return tensor
        size = torch.tensor([tensor.shape[0]], device=tensor.device)
        sizes = [torch.zeros_like(size) for _ in range(self.world_size)]
        dist.all_gather(sizes, size)
        longest = int(max(s.item() for s in sizes))
        padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
        padded[: tensor.shape[0]] = tensor
        parts = [torch.zeros_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded)
        return torch.cat([part[: int(n.item())] for part, n in zip(parts, sizes)])


def launch_cli(nproc_per_node: int) -> int:
    """Re-run the current ``rec`` command under torchrun with ``nproc_per_node`` processes.

    Returns:
        The exit code of the launched run.
    """
    if "LOCAL_RANK" in os.environ:
        raise ConfigError("--nproc-per-node cannot be used inside a torchrun-launched process")
    from torch.distributed import run as torchrun

    args = _without_nproc(sys.argv[1:])
    os.environ[LAUNCHED_ENV] = "1"  # the workers skip checks the launcher already made
    try:
        torchrun.main(["--standalone", f"--nproc-per-node={nproc_per_node}", "-m", "rec_core", *args])
    except SystemExit as exc:  # torchrun exits with the workers' code
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001 - ChildFailedError and friends
        print(f"error: distributed run failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _without_nproc(args: list[str]) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--nproc-per-node":
            skip = True
            continue
        if arg.startswith("--nproc-per-node="):
            continue
        out.append(arg)
    return out
