"""Iterate over a columnar dataset in whole batches, seeded, resumable and sharded.

:class:`ColumnarLoader` is a drop-in for ``DataLoader(TorchDataset(x, y), ...)``: it
yields the same ``(x_dict, y)`` batches, but cuts each batch from the column tensors
at once (a slice, or one ``index_select`` per column when shuffled) instead of
collating samples one by one.

Order is a pure function of ``(seed, epoch, rank, world_size)``: epoch ``e`` uses the
permutation drawn by a generator seeded from ``(seed, e)``. Every rank draws the same
permutation, truncates it to a multiple of ``world_size`` and takes every
``world_size``-th index from position ``rank``; so with per-rank batch ``B`` the
ranks' k-th batches together hold exactly the k-th batch of one process using batch
``world_size * B``. ``state_dict()`` records the epoch and how many batches of it were
handed out; a loader given that state resumes at the next unseen batch.
"""

from __future__ import annotations

import copy
import math
import operator
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset

from rec_core.data.columnar import ColumnarDataset
from rec_core.errors import CheckpointError, ConfigError

__all__ = ["ColumnarLoader"]

_MASK64 = (1 << 64) - 1


def _mix64(value: int) -> int:
    """Scramble a 64-bit integer (the SplitMix64 finaliser)."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def epoch_seed(seed: int, epoch: int) -> int:
    """Return the generator seed of ``epoch``: distinct per (seed, epoch), 63 bits."""
    return _mix64((_mix64(seed & _MASK64) + epoch) & _MASK64) >> 1


def _as_int(arg: str, value: Any, minimum: int | None = None) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ConfigError(f"ColumnarLoader: {arg} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"ColumnarLoader: {arg} must be >= {minimum}, got {number}")
    return number


def _check_shard(rank: Any, world_size: Any) -> tuple[int, int]:
    world_size = _as_int("world_size", world_size, 1)
    rank = _as_int("rank", rank, 0)
    if rank >= world_size:
        raise ConfigError(f"ColumnarLoader: rank {rank} is not below world_size {world_size}")
    return rank, world_size


class ColumnarLoader:
    """Yield ``(x_dict, y)`` batches sliced from a :class:`ColumnarDataset`.

    Args:
        dataset_or_x: A :class:`ColumnarDataset` (``TorchDataset``/``PredictDataset``
            included), or the columns themselves (dict or DataFrame) with ``y``.
        y: Labels when ``dataset_or_x`` holds the columns; without labels the loader
            yields ``x_dict`` alone, like a ``DataLoader`` over ``PredictDataset``.
        batch_size: Samples per batch (per rank).
        shuffle: Draw a new seeded permutation every epoch.
        drop_last: Drop the last batch when it is smaller than ``batch_size``.
        seed: Base seed of the permutations.
        rank: This process's index among ``world_size`` data-parallel processes.
        world_size: Number of processes sharing the data.
        bucket_key: With ``shuffle``, a per-row number (e.g. a sequence length) to group rows
            by: each epoch's permutation is cut into windows of ``bucket_batches`` batches,
            each window is sorted by the key, and the resulting batches are shuffled. A
            batch then holds rows of similar length, so padding can be trimmed away, while
            every epoch stays a seeded permutation of all rows.
        bucket_batches: Batches per sorting window (larger: more uniform batches, less random).

    Raises:
        ConfigError: If an argument is invalid.
        DataError: If the columns cannot form a dataset.

    Batches may be views of the dataset's tensors: do not modify them in place.
    """

    def __init__(
        self,
        dataset_or_x: Any,
        y: Any = None,
        *,
        batch_size: int = 256,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        bucket_key: Any = None,
        bucket_batches: int = 64,
    ) -> None:
        if isinstance(dataset_or_x, ColumnarDataset):
            if y is not None:
                raise ConfigError("ColumnarLoader: pass y inside the dataset, not next to it")
            self.dataset = dataset_or_x
        elif isinstance(dataset_or_x, Dataset):
            raise ConfigError(
                f"ColumnarLoader needs a ColumnarDataset or a dict/DataFrame of columns, "
                f"got {type(dataset_or_x).__name__}; use torch.utils.data.DataLoader for it"
            )
        else:
            self.dataset = ColumnarDataset(dataset_or_x, y)
        self.batch_size = _as_int("batch_size", batch_size, 1)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = _as_int("seed", seed)
        self.rank, self.world_size = _check_shard(rank, world_size)
        self.bucket_key = None if bucket_key is None else torch.as_tensor(bucket_key).reshape(-1)
        if self.bucket_key is not None and len(self.bucket_key) != len(self.dataset):
            raise ConfigError(f"ColumnarLoader: bucket_key has {len(self.bucket_key)} values for "
                              f"{len(self.dataset)} rows")
        self.bucket_batches = _as_int("bucket_batches", bucket_batches, 1)
        self._epoch = 0
        self._batches_yielded = 0
        self._resume_at = 0

    @property
    def epoch(self) -> int:
        """Return the epoch the next full iteration will run."""
        return self._epoch

    @property
    def num_samples(self) -> int:
        """Return how many samples this rank sees per epoch (before ``drop_last``)."""
        return len(self.dataset) // self.world_size

    def __len__(self) -> int:
        """Return the number of batches per epoch for this rank."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (and so the permutation) of the next iteration.

        A position restored by :meth:`load_state_dict` is kept when ``epoch`` is the
        restored epoch, so the usual ``set_epoch(e)`` call before each epoch does not
        undo a mid-epoch resume.
        """
        epoch = _as_int("epoch", epoch, 0)
        if epoch != self._epoch:
            self._resume_at = 0
            self._batches_yielded = 0
        self._epoch = epoch

    def epoch_indices(self, epoch: int | None = None) -> torch.Tensor:
        """Return the dataset rows this rank visits in ``epoch``, in order.

        Args:
            epoch: The epoch; defaults to the current one.

        Returns:
            A 1-D ``int64`` tensor of ``num_samples`` row indices.
        """
        epoch = self._epoch if epoch is None else _as_int("epoch", epoch, 0)
        kept = self.num_samples * self.world_size
        return self.epoch_order(epoch)[:kept][self.rank :: self.world_size].contiguous()

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """Return every row of the data set in the order of ``epoch``, before it is shared among ranks."""
        total = len(self.dataset)
        if not self.shuffle:
            return torch.arange(total)
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
        order = torch.randperm(total, generator=generator)
        if self.bucket_key is None:
            return order
        group = self.batch_size * self.world_size  # the rows of one step on all ranks
        window = group * self.bucket_batches
        keys = self.bucket_key[order]
        order = torch.cat([
            order[start : start + window][torch.argsort(keys[start : start + window], stable=True)]
            for start in range(0, total, window)
        ])
        full = total // group
        steps = order[: full * group].view(full, group)[torch.randperm(full, generator=generator)]
        return torch.cat([steps.reshape(-1), order[full * group :]])

    def __iter__(self) -> Iterator[Any]:
        """Start an epoch, or resume the restored one at its next unseen batch."""
        start, self._resume_at = self._resume_at, 0
        self._batches_yielded = start
        return self._iterate(self._epoch, start)

    def _iterate(self, epoch: int, start: int) -> Iterator[Any]:
        columns = self.dataset.x
        labels = self.dataset.y
        size, step = self.batch_size, self.world_size
        stop = self.num_samples
        order = None
        if self.shuffle:
            # One transfer per epoch when the columns live on an accelerator.
            order = self.epoch_indices(epoch).to(next(iter(columns.values())).device)
        for k in range(start, len(self)):
            lo, hi = k * size, min((k + 1) * size, stop)
            if order is not None:
                index = order[lo:hi]
                x = {n: _take(c, index) for n, c in columns.items()}
                y = None if labels is None else _take(labels, index)
            else:
                rows = slice(self.rank + lo * step, self.rank + hi * step, step)
                x = {n: _cut(c, rows, step) for n, c in columns.items()}
                y = None if labels is None else _cut(labels, rows, step)
            self._batches_yielded = k + 1
            yield x if y is None else (x, y)
        self._epoch = epoch + 1
        self._batches_yielded = 0

    def state_dict(self) -> dict[str, int]:
        """Return the position: ``{"epoch", "batches_yielded", "seed"}`` (plain ints)."""
        return {
            "epoch": self._epoch,
            "batches_yielded": self._batches_yielded,
            "seed": self.seed,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Restore a position saved by :meth:`state_dict`.

        The next iteration yields the remaining batches of the saved epoch, in the
        saved order, and later iterations continue with the following epochs.

        Raises:
            CheckpointError: If the state is malformed or does not fit this loader.
        """
        try:
            epoch = _as_int("epoch", state["epoch"], 0)
            done = _as_int("batches_yielded", state["batches_yielded"], 0)
            seed = _as_int("seed", state["seed"])
        except (KeyError, TypeError, ConfigError) as exc:
            raise CheckpointError(f"invalid ColumnarLoader state {state!r}: {exc}") from None
        if done > len(self):
            raise CheckpointError(
                f"ColumnarLoader state says {done} batches were yielded, but an epoch "
                f"has only {len(self)}; did the data, batch_size or world_size change?"
            )
        self.seed, self._epoch = seed, epoch
        self._batches_yielded = self._resume_at = done

    def to(self, device: torch.device | str) -> ColumnarLoader:
        """Return a copy of this loader (same order and position) whose columns live on ``device``.

        Batches are then cut on the device: one transfer of the epoch's order instead of one
        copy per batch. Returns ``self`` when the columns are already there.
        """
        moved = self.dataset.to(device)
        if moved is self.dataset:
            return self
        loader = copy.copy(self)
        loader.dataset = moved
        return loader

    def with_shard(self, rank: int, world_size: int) -> ColumnarLoader:
        """Return a copy of this loader (same data, seed and position) for one rank."""
        rank, world_size = _check_shard(rank, world_size)
        shard = copy.copy(self)
        shard.rank, shard.world_size = rank, world_size
        return shard

    def __repr__(self) -> str:
        return (
            f"ColumnarLoader({self.dataset!r}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed}, "
            f"rank={self.rank}, world_size={self.world_size}, epoch={self._epoch})"
        )


def _take(column: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    if index.device != column.device:
        index = index.to(column.device)
    return torch.index_select(column, 0, index)


def _cut(column: torch.Tensor, rows: slice, step: int) -> torch.Tensor:
    # A step-1 slice of a contiguous tensor is already contiguous: a free view.
    return column[rows] if step == 1 else column[rows].contiguous()
