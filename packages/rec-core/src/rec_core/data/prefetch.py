"""Host batches to the GPU in one packed copy each, the next one in flight during the step.

A recommender batch is dozens of small columns. Moving them one by one costs a launch and a
synchronous copy from pageable memory per column; here every batch is packed into one pinned
host buffer (each column at an aligned offset), copied to the device in a single
asynchronous transfer on a side stream, and unpacked there into views of the same shapes and
dtypes. The copy of batch ``k + 1`` runs while the model trains on batch ``k``.

Used by the trainer for data that stays on the host (``TrainingConfig.prefetch_batches``;
columns that fit are better moved once, ``data_on_device``). Packing and unpacking are plain
tensor code (tested on the CPU); the streams, events and pinned buffers are CUDA's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._pytree import tree_flatten, tree_unflatten

__all__ = ["ALIGN", "PackedLayout", "pack", "packed_layout", "prefetch_to_device", "unpack"]

ALIGN = 64
"""Byte alignment of each column in the packed buffer (a multiple of every dtype's size)."""


@dataclass(frozen=True)
class PackedLayout:
    """Where each host tensor of a batch lies in its packed byte buffer.

    Attributes:
        spec: The batch's structure (``torch.utils._pytree``).
        leaves: The batch's leaves; the packed ones are replaced by ``None``.
        slots: ``(leaf index, byte offset, byte count, dtype, shape)`` of each packed tensor.
        nbytes: Size of the buffer.
    """

    spec: Any
    leaves: list[Any]
    slots: list[tuple[int, int, int, torch.dtype, torch.Size]]
    nbytes: int


def packed_layout(batch: Any) -> PackedLayout:
    """Return the layout that packs ``batch``'s CPU tensors (other leaves are kept as they are)."""
    leaves, spec = tree_flatten(batch)
    slots, offset = [], 0
    kept = list(leaves)
    for index, leaf in enumerate(leaves):
        if isinstance(leaf, torch.Tensor) and leaf.device.type == "cpu":
            size = leaf.numel() * leaf.element_size()
            slots.append((index, offset, size, leaf.dtype, leaf.shape))
            offset += -(-size // ALIGN) * ALIGN
            kept[index] = None
    return PackedLayout(spec, kept, slots, offset)


def pack(batch: Any, layout: PackedLayout, buffer: torch.Tensor) -> None:
    """Copy ``batch``'s CPU tensors into ``buffer`` (``uint8``, at least ``layout.nbytes``) at their offsets."""
    leaves, _ = tree_flatten(batch)
    for index, offset, size, _dtype, _shape in layout.slots:
        if size:
            buffer[offset : offset + size].copy_(leaves[index].contiguous().reshape(-1).view(torch.uint8))


def unpack(buffer: torch.Tensor, layout: PackedLayout) -> Any:
    """Return the batch of ``layout`` whose tensors are views of ``buffer`` (wherever it lives)."""
    leaves = list(layout.leaves)
    for index, offset, size, dtype, shape in layout.slots:
        leaves[index] = buffer[offset : offset + size].view(dtype).view(shape)
    return tree_unflatten(leaves, layout.spec)


def prefetch_to_device(batches: Iterable[tuple[int, Any]], device: torch.device, depth: int = 2
                       ) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, batch)`` from ``batches`` with each batch on ``device`` (CUDA), one ahead.

    Each batch is packed into one of ``depth`` reused pinned buffers (a buffer is refilled only
    after its previous copy finished), copied on a side stream and handed to the current stream
    once that copy is done; the device memory is tied to the current stream, so the allocator
    does not reuse it while the step still reads it.
    """
    side = torch.cuda.Stream(device)
    pinned: list[torch.Tensor | None] = [None] * depth
    copied: list[torch.cuda.Event | None] = [None] * depth
    in_flight: deque[tuple[int, Any, torch.cuda.Event | None]] = deque()
    slot = 0
    for index, batch in batches:
        layout = packed_layout(batch)
        if not layout.slots:
            in_flight.append((index, batch, None))
        else:
            if copied[slot] is not None:
                copied[slot].synchronize()  # type: ignore[union-attr]  # its last copy has left the buffer
            host = pinned[slot]
            if host is None or host.numel() < layout.nbytes:
                host = pinned[slot] = torch.empty(layout.nbytes, dtype=torch.uint8, pin_memory=True)
            pack(batch, layout, host)
            with torch.cuda.stream(side):  # not ordered after the step in flight: that is the overlap
                on_device = host[: layout.nbytes].to(device, non_blocking=True)
                done = torch.cuda.Event()
                done.record(side)
            copied[slot] = done
            slot = (slot + 1) % depth
            in_flight.append((index, (on_device, layout), done))
        if len(in_flight) > 1:
            yield _ready(in_flight.popleft(), device)
    while in_flight:
        yield _ready(in_flight.popleft(), device)


def _ready(entry: tuple[int, Any, Any], device: torch.device) -> tuple[int, Any]:
    index, payload, done = entry
    if done is None:
        return index, payload
    on_device, layout = payload
    current = torch.cuda.current_stream(device)
    current.wait_event(done)
    on_device.record_stream(current)
    return index, unpack(on_device, layout)
