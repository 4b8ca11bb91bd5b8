"""``ItemLists``: a variable number of item indices per row, stored flat (CSR)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rec_core.errors import DataError

__all__ = ["ItemLists"]


@dataclass(frozen=True, eq=False)
class ItemLists:
    """Per-row lists of item indices: row ``r`` holds ``items[offsets[r]:offsets[r + 1]]``.

    The form used for several targets per query, or for the known (history) items a
    query must not be recommended again, without padding every row to the longest.

    Args:
        offsets: LongTensor (rows + 1,), starting at 0, non-decreasing, ending at ``len(items)``.
        items: Integer tensor (nnz,) of item indices.

    Raises:
        DataError: If the offsets do not describe ``items``.

    Example:
        >>> lists = ItemLists.from_lists([[3, 1], [], [2]])
        >>> lists.offsets.tolist(), lists.items.tolist(), len(lists)
        ([0, 2, 2, 3], [3, 1, 2], 3)
    """

    offsets: torch.Tensor
    items: torch.Tensor

    def __post_init__(self) -> None:
        offsets, items = self.offsets, self.items
        if offsets.ndim != 1 or len(offsets) == 0 or _is_not_integer(offsets):
            raise DataError(f"ItemLists offsets must be a 1-D integer tensor (rows + 1), got {_describe(offsets)}")
        if items.ndim != 1 or _is_not_integer(items):
            raise DataError(f"ItemLists items must be a 1-D integer tensor, got {_describe(items)}")
        if int(offsets[0]) != 0 or int(offsets[-1]) != len(items) or bool((offsets[1:] < offsets[:-1]).any()):
            raise DataError(
                f"ItemLists offsets must rise from 0 to len(items)={len(items)}, "
                f"got {int(offsets[0])}..{int(offsets[-1])}"
            )
        object.__setattr__(self, "offsets", offsets.long())
        object.__setattr__(self, "items", items.long())

    @classmethod
    def from_lists(cls, lists: Sequence[Any], *, what: str = "targets") -> ItemLists:
        """Build from one sequence (tensor or list of ints) per row."""
        parts = []
        for row, value in enumerate(lists):
            part = torch.as_tensor(value).reshape(-1) if not isinstance(value, torch.Tensor) else value.reshape(-1)
            if part.numel() == 0:
                part = part.long()
            if _is_not_integer(part):
                raise DataError(f"{what} of row {row} must hold integer item indices, got {part.dtype}")
            parts.append(part.long().cpu())
        lengths = torch.tensor([len(p) for p in parts], dtype=torch.long)
        items = torch.cat(parts) if parts else torch.empty(0, dtype=torch.long)
        return cls(_offsets(lengths), items)

    @classmethod
    def from_column(cls, column: torch.Tensor) -> ItemLists:
        """Build with exactly one item per row from a 1-D integer tensor."""
        column = column.reshape(-1)
        return cls(torch.arange(len(column) + 1, dtype=torch.long), column.cpu())

    @classmethod
    def from_csr_rows(cls, offsets: Any, items: Any, rows: Any) -> ItemLists:
        """Build from the rows ``rows`` (in that order, repeats allowed) of CSR arrays, without a Python loop.

        Args:
            offsets: ``(n + 1,)`` integer offsets: row ``r`` is ``items[offsets[r]:offsets[r + 1]]``.
            items: The items, row after row.
            rows: The row indices to take (e.g. encoded user ids of ``UserSequences``).
        """
        offsets, items = torch.as_tensor(offsets, dtype=torch.long), torch.as_tensor(items, dtype=torch.long)
        rows = torch.as_tensor(rows, dtype=torch.long).reshape(-1)
        starts, lengths = offsets[rows], offsets[rows + 1] - offsets[rows]
        new_offsets = _offsets(lengths)
        index = torch.arange(int(new_offsets[-1])) - new_offsets[:-1].repeat_interleave(lengths) \
            + starts.repeat_interleave(lengths)
        return cls(new_offsets, items[index])

    @classmethod
    def coerce(cls, value: Any, n_rows: int, *, what: str = "targets") -> ItemLists:
        """Return ``value`` as ``ItemLists`` of ``n_rows`` rows.

        Args:
            value: ``ItemLists``; a 1-D integer tensor or numpy array (one item per row);
                or a sequence with one tensor or list of item indices per row.
            n_rows: The number of rows the caller has (scores, queries).
            what: The argument's name, for error messages.

        Raises:
            DataError: If the form, the dtype or the number of rows is wrong.
        """
        if hasattr(value, "__array__") and not isinstance(value, torch.Tensor):
            value = torch.as_tensor(value)  # a numpy array
        if isinstance(value, ItemLists):
            lists = value
        elif isinstance(value, torch.Tensor):
            if value.ndim != 1:
                raise DataError(
                    f"{what} must be a 1-D tensor of item indices or a list of per-row index tensors, "
                    f"got shape {tuple(value.shape)}"
                )
            if _is_not_integer(value):
                raise DataError(f"{what} must hold integer item indices, got {value.dtype}")
            lists = cls.from_column(value)
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            lists = cls.from_lists(value, what=what)
        else:
            kind = type(value).__name__
            raise DataError(f"{what} must be a tensor, a list of per-row tensors or ItemLists, got {kind}")
        if len(lists) != n_rows:
            raise DataError(f"{what} has {len(lists)} rows but there are {n_rows}")
        return lists

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> torch.Tensor:
        """Return the number of items of each row, (rows,) long."""
        return self.offsets[1:] - self.offsets[:-1]

    def check_range(self, n_items: int, *, what: str = "targets") -> None:
        """Raise ``DataError`` naming the first item index outside ``[0, n_items)``."""
        bad = (self.items < 0) | (self.items >= n_items)
        if bool(bad.any()):
            position = int(bad.nonzero()[0, 0])
            row = int(torch.searchsorted(self.offsets, position, right=True)) - 1
            value = int(self.items[position])
            raise DataError(f"{what} item index {value} in row {row} is outside [0, {n_items})")

    def take(self, rows: torch.Tensor) -> ItemLists:
        """Return the lists of ``rows`` (a 1-D index tensor), in that order."""
        rows = rows.long().cpu()
        lengths = self.lengths[rows]
        offsets = _offsets(lengths)
        shift = torch.repeat_interleave(self.offsets[rows] - offsets[:-1], lengths)
        return ItemLists(offsets, self.items[shift + torch.arange(int(offsets[-1]))])

    def slice(self, start: int, stop: int) -> ItemLists:
        """Return rows ``start`` to ``stop`` (exclusive) without copying the items."""
        offsets = self.offsets[start : stop + 1]
        return ItemLists(offsets - offsets[0], self.items[int(offsets[0]) : int(offsets[-1])])

    def padded(self, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(index, valid)``: (rows, T) item indices padded with 0 and where they are real.

        ``T`` is the longest row's length (at least 1).
        """
        lengths = self.lengths
        width = max(int(lengths.max()) if len(lengths) else 0, 1)
        valid = torch.arange(width) < lengths[:, None]
        index = torch.zeros(valid.shape, dtype=torch.long)
        index[valid] = self.items
        return index.to(device), valid.to(device)

    def mask(self, n_items: int, device: torch.device | str | None = None) -> torch.Tensor:
        """Return a (rows, n_items) bool mask, True at every listed item."""
        mask = torch.zeros((len(self), n_items), dtype=torch.bool, device=device)
        rows = torch.repeat_interleave(torch.arange(len(self)), self.lengths)
        mask[rows.to(mask.device), self.items.to(mask.device)] = True
        return mask


def _offsets(lengths: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])


def _is_not_integer(tensor: torch.Tensor) -> bool:
    return tensor.dtype == torch.bool or tensor.is_floating_point() or tensor.is_complex()


def _describe(tensor: torch.Tensor) -> str:
    return f"{tensor.dtype} of shape {tuple(tensor.shape)}"
