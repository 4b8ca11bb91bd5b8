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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import nn

from rec_core.errors import ConfigError
from rec_core.run import LAUNCHED_ENV

if TYPE_CHECKING:
    from rec_core.config import TrainingConfig

__all__ = ["LAUNCHED_ENV", "DistContext", "average_in_place", "launch_cli", "resolve_device", "shutdown"]


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
    """This process's place in a (possibly single-process) run.

    Every method is safe to call on one process (it does nothing, or returns its input);
    under DDP each collective method must be called by every rank, in the same order.
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    seed: int = 0
    """Seed of the ``DistributedSampler`` that shards a plain ``DataLoader``."""

    @classmethod
    def from_environment(cls, config: TrainingConfig) -> DistContext:
        """Read torchrun's variables, join the process group, pick the device.

        A process group the caller already initialised is joined as it is: its rank and
        size win over the environment.

        Raises:
            ConfigError: The variables are malformed, or ``WORLD_SIZE`` > 1 without
                ``MASTER_ADDR``/``MASTER_PORT`` (a process not started by torchrun).
        """
        if dist.is_available() and dist.is_initialized():
            world_size, rank = dist.get_world_size(), dist.get_rank()
            local_rank = _env_int("LOCAL_RANK", rank)
        else:
            world_size, rank = _env_int("WORLD_SIZE", 1), _env_int("RANK", 0)
            local_rank = _env_int("LOCAL_RANK", 0)
        if world_size < 1 or not 0 <= rank < world_size:
            raise ConfigError(f"environment: RANK={rank} must lie in [0, WORLD_SIZE={world_size})")
        device = resolve_device(config.device, config.gpus, local_rank)
        if world_size > 1 and not dist.is_initialized():
            missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)]
            if missing:
                raise ConfigError(
                    f"environment: WORLD_SIZE={world_size} but {' and '.join(missing)} not set; start the run "
                    "with torchrun or `rec train ... --nproc-per-node N`"
                )
            backend = "nccl" if device.type == "cuda" else "gloo"
            if device.type == "cuda":
                torch.cuda.set_device(device)
            dist.init_process_group(backend=backend)
        return cls(rank=rank, world_size=world_size, local_rank=local_rank, device=device, seed=int(config.random_seed))

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
        no_sync: Any = getattr(network, "no_sync", None)
        if self.is_distributed and callable(no_sync):
            return no_sync()
        return contextlib.nullcontext()

    # -- data ---------------------------------------------------------------------------
    def shard_train(self, loader: Any) -> Any:
        """Return this rank's view of a training loader (interleaved, equal sizes).

        A ``ColumnarLoader`` keeps its seed and order: with per-rank batch ``B`` the ranks'
        k-th batches together are the k-th batch of one process with batch ``world_size * B``.
        A ``DataLoader`` gets a ``DistributedSampler`` (seeded with ``config.random_seed``,
        shuffling when the loader did); one over an ``IterableDataset`` is passed through, as
        such a dataset must split itself by rank.
        """
        if not self.is_distributed or loader is None:
            return loader
        if callable(getattr(loader, "with_shard", None)):
            return loader.with_shard(self.rank, self.world_size)
        return self._rebuild_with_sampler(loader, train=True)

    def shard_eval(self, loader: Any) -> Any:
        """Return this rank's part of an evaluation loader: every sample on exactly one rank.

        Data that marks itself ``shards_itself = True`` (e.g.
        :class:`~rec_core.evaluation.RetrievalQueries`) is returned untouched: its
        evaluator takes this rank's share.
        """
        if not self.is_distributed or loader is None or getattr(loader, "shards_itself", False):
            return loader
        from rec_core.data import ColumnarLoader

        if isinstance(loader, ColumnarLoader):
            rows = torch.arange(len(loader.dataset))[self.rank :: self.world_size]
            return ColumnarLoader(loader.dataset.subset(rows), batch_size=loader.batch_size, shuffle=False)
        return self._rebuild_with_sampler(loader, train=False)

    def _rebuild_with_sampler(self, loader: Any, *, train: bool) -> Any:
        from torch.utils.data import BatchSampler, DataLoader, IterableDataset, RandomSampler, Subset
        from torch.utils.data.distributed import DistributedSampler

        if not isinstance(loader, DataLoader):
            raise ConfigError(f"cannot shard a {type(loader).__name__} for DDP; use a ColumnarLoader or a DataLoader")
        dataset: Any = loader.dataset
        if isinstance(dataset, IterableDataset):
            return loader
        if loader.batch_sampler is not None and type(loader.batch_sampler) is not BatchSampler:
            raise ConfigError(
                "cannot shard a DataLoader with a custom batch_sampler for DDP; give it a per-rank "
                "sampler yourself, or use batch_size= with a ColumnarLoader or a plain DataLoader"
            )
        kwargs = _loader_options(loader)
        if not train:  # evaluation: a duplicate-free interleaved slice per rank, no padding
            indices = list(range(len(dataset)))[self.rank :: self.world_size]
            return DataLoader(Subset(dataset, indices), batch_size=loader.batch_size, **kwargs)
        shuffle = isinstance(loader.sampler, RandomSampler)
        sampler: DistributedSampler[int] = DistributedSampler(
            dataset, num_replicas=self.world_size, rank=self.rank, shuffle=shuffle, seed=self.seed, drop_last=True
        )
        return DataLoader(dataset, batch_size=loader.batch_size, sampler=sampler, drop_last=loader.drop_last, **kwargs)

    # -- collectives --------------------------------------------------------------------
    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Concatenate ``tensor`` (rows may differ per rank, even be 0) from every rank, in rank order."""
        if not self.is_distributed:
            return tensor
        size = torch.tensor([tensor.shape[0]], device=tensor.device)
        sizes = [torch.zeros_like(size) for _ in range(self.world_size)]
        dist.all_gather(sizes, size)
        longest = int(max(s.item() for s in sizes))
        if longest == 0:
            return tensor
        padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
        padded[: tensor.shape[0]] = tensor
        parts = [torch.zeros_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded)
        return torch.cat([part[: int(n.item())] for part, n in zip(parts, sizes, strict=True)])

    def gather_outputs(self, outputs: Mapping[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Concatenate per-batch outputs, then across ranks; a rank without batches joins too.

        Args:
            outputs: Key to this rank's per-batch tensors (rows first); a rank whose shard
                held no batch passes ``{}`` and still receives the other ranks' rows.
        """
        local = {key: torch.cat(list(parts)) for key, parts in outputs.items() if parts}
        if not self.is_distributed:
            return local
        specs: list[dict[str, tuple[tuple[int, ...], torch.dtype]]] = [{} for _ in range(self.world_size)]
        dist.all_gather_object(specs, {k: (tuple(v.shape[1:]), v.dtype) for k, v in local.items()})
        merged: dict[str, torch.Tensor] = {}
        for spec in specs:  # rank order, so every rank gathers the keys in the same order
            for key, (trailing, dtype) in spec.items():
                if key not in merged:
                    mine = local.get(key)
                    if mine is None:
                        mine = torch.empty((0, *trailing), dtype=dtype, device=self.device)
                    merged[key] = self.gather(mine)
        return merged

    def all_mean(self, value: float) -> float:
        """Return the mean of ``value`` over the ranks (e.g. each rank's training loss)."""
        if not self.is_distributed:
            return float(value)
        total = torch.tensor([float(value)], dtype=torch.float64, device=self.device)
        dist.all_reduce(total)
        return float(total.item()) / self.world_size

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Return the element-wise sum of ``tensor`` over the ranks (a new tensor; the input is kept).

        Evaluators reduce their per-metric sums and row counts with it (send float64 so
        large sums stay exact).
        """
        total = tensor.detach().to(self.device, copy=True)
        if self.is_distributed:
            dist.all_reduce(total)
        return total

    def any_rank(self, flag: bool) -> bool:
        """Return whether ``flag`` is true on any rank, so every rank takes the same decision."""
        if not self.is_distributed:
            return bool(flag)
        value = torch.tensor([1 if flag else 0], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def broadcast_module(self, module: nn.Module, src: int = 0) -> None:
        """Overwrite ``module``'s parameters and buffers with rank ``src``'s."""
        if not self.is_distributed:
            return
        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.data, src)

    def all_reduce_grads(self, params: Iterable[nn.Parameter]) -> None:
        """Average gradients over the ranks, for trainable parameters DDP does not own.

        A loss weighter's parameters (learned task weights) are optimised with the model
        but live outside the DistributedDataParallel wrapper; without this each rank
        would step them with its own gradient and the replicas would drift apart. A
        missing gradient counts as zero, so every rank ends with the same one.
        """
        params = [p for p in params if p.requires_grad]
        if not self.is_distributed or not params:
            return
        for param in params:
            if param.grad is None:
                param.grad = torch.zeros_like(param)
        average_in_place([p.grad for p in params])


def average_in_place(tensors: Sequence[torch.Tensor]) -> None:
    """Average ``tensors`` in place over the ranks with one all-reduce (a no-op on one process)."""
    if not tensors or not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for tensor in tensors:
        tensor.copy_(flat[offset : offset + tensor.numel()].view_as(tensor))
        offset += tensor.numel()


def shutdown(*, barrier: bool = True) -> None:
    """Leave the process group, after a barrier unless a rank failed, so workers exit together."""
    if dist.is_available() and dist.is_initialized():
        try:
            if barrier:
                dist.barrier()
        finally:
            dist.destroy_process_group()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"environment: {name}={raw!r} is not an integer") from None


def _loader_options(loader: Any) -> dict[str, Any]:
    """Return the ``DataLoader`` options a sharded copy of ``loader`` keeps."""
    options: dict[str, Any] = {
        "collate_fn": loader.collate_fn,
        "num_workers": loader.num_workers,
        "pin_memory": loader.pin_memory,
        "timeout": loader.timeout,
        "worker_init_fn": loader.worker_init_fn,
        "generator": loader.generator,
        "multiprocessing_context": loader.multiprocessing_context,
    }
    if loader.num_workers > 0:
        options["persistent_workers"] = loader.persistent_workers
        options["prefetch_factor"] = loader.prefetch_factor
    return options


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
    except Exception as exc:  # ChildFailedError and friends
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
