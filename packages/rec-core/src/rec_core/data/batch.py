"""Move batches between devices and measure them, whatever loader made them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import torch

from rec_core.errors import DataError

__all__ = ["batch_size_of", "move_batch"]

T = TypeVar("T")


def move_batch(batch: T, device: torch.device | str, non_blocking: bool = False) -> T:
    """Return ``batch`` with every tensor in it moved to ``device``.

    Handles tensors, dicts, lists, tuples and named tuples, nested in any way (an
    ``(x_dict, y)`` pair, an ``x_dict`` alone, a tuple of tensors); anything else is
    returned unchanged.

    Args:
        batch: The batch as a loader yielded it.
        device: Target device, e.g. ``"cuda"`` or ``torch.device("cpu")``.
        non_blocking: Ask for asynchronous copies (useful from pinned memory).

    Returns:
        A batch of the same structure; tensors already on ``device`` are not copied.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)  # type: ignore[return-value]
    if isinstance(batch, Mapping):
        moved = {k: move_batch(v, device, non_blocking) for k, v in batch.items()}
        return moved if type(batch) is dict else type(batch)(moved)  # type: ignore[return-value,call-arg]
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(move_batch(v, device, non_blocking) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_batch(v, device, non_blocking) for v in batch)  # type: ignore[return-value,call-arg]
    return batch


def _first_tensor(batch: Any) -> torch.Tensor | None:
    if isinstance(batch, torch.Tensor):
        return batch
    values = batch.values() if isinstance(batch, Mapping) else batch
    if isinstance(values, (list, tuple)) or isinstance(batch, Mapping):
        for value in values:
            found = _first_tensor(value)
            if found is not None:
                return found
    return None


def batch_size_of(batch: Any) -> int:
    """Return the number of samples in ``batch``: the first dimension of its first tensor.

    Args:
        batch: A tensor, ``x_dict``, ``(x_dict, y)`` pair or other nesting of them.

    Raises:
        DataError: If the batch holds no tensor with at least one dimension.
    """
    tensor = _first_tensor(batch)
    if tensor is None or tensor.dim() == 0:
        raise DataError(
            f"cannot tell the batch size of a {type(batch).__name__}: it holds no tensor with a batch dimension"
        )
    return int(tensor.shape[0])
