"""One embedding table holding the rows of several fields (the fused layout of :class:`EmbeddingLayer`).

On a GPU a model that looks up two dozen per-field tables launches two dozen small
gather kernels forward and as many backward; stacking the tables' rows in one weight with
a row offset per field turns them into one gather (measured on an H200 for DeepFM on
Criteo-shaped data: 390k -> 726k samples/s at batch 2048). On this project's CPUs the
per-field tables were faster, so :class:`EmbeddingLayer` fuses only when asked
(``set_embedding_layout("fused")``, which the trainers do on CUDA).

Checkpoints do not depend on the layout: an :class:`EmbeddingLayer` in the fused layout
saves and loads its weights under the per-field names (``embed_dict.<field>.weight``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import DataError

__all__ = ["FusedEmbedding", "FusedPart"]


@dataclass(frozen=True)
class FusedPart:
    """The rows of one field's table inside a :class:`FusedEmbedding`.

    Attributes:
        name: The field (table owner) name.
        offset: Index of the field's row 0 in the fused weight.
        rows: Number of rows of the field's table.
        padding_idx: The field's padding row (its own index), or ``None``.
    """

    name: str
    offset: int
    rows: int
    padding_idx: int | None


class FusedEmbedding(nn.Embedding):
    """Several fields' embedding tables of one width stacked in one weight.

    A lookup of field ``f``'s id ``i`` reads row ``offset(f) + i``. As with the per-field
    ``nn.Embedding(padding_idx=p)``, an id equal to the field's padding index returns its row
    and passes no gradient to it. Ids outside a field's own rows are refused (on the CPU with
    a :class:`DataError`, on an accelerator by an asynchronous device assertion, as
    ``nn.Embedding`` does there), never read from a neighbouring field.

    Args:
        weights: The fields' weights, in order (one width, one dtype, one device).
        parts: Each field's name and padding index, in the same order.
    """

    def __init__(self, weights: Sequence[torch.Tensor], parts: Sequence[tuple[str, int | None]]) -> None:
        stacked = torch.cat([weight.detach() for weight in weights])
        super().__init__(stacked.shape[0], stacked.shape[1], _weight=stacked, device=stacked.device,
                         dtype=stacked.dtype)
        layout, offset = [], 0
        for weight, (name, padding_idx) in zip(weights, parts, strict=True):
            layout.append(FusedPart(name, offset, weight.shape[0], padding_idx))
            offset += weight.shape[0]
        self.parts: dict[str, FusedPart] = {part.name: part for part in layout}
        self._plans: dict[tuple[tuple[str, ...], torch.device], tuple[torch.Tensor, torch.Tensor, Any]] = {}

    def lookup(self, ids: torch.Tensor, fields: Sequence[str]) -> torch.Tensor:
        """Return the rows of ``ids``, whose last dimension runs over ``fields`` (or is one field).

        Args:
            ids: ``(..., len(fields))`` ids, each in its field's own numbering; with a single
                field, any shape.
            fields: Field names of the last dimension (one name: every id is that field's).

        Returns:
            ``ids.shape + (embedding_dim,)``.
        """
        offsets, sizes, pad = self._plan(tuple(fields), ids.device)
        _check_ids(ids, sizes, fields)
        rows = F.embedding(ids + offsets, self.weight)
        if pad is None:
            return rows
        frozen = ids.eq(pad).unsqueeze(-1)
        return torch.where(frozen, rows.detach(), rows)  # the padding row gets no gradient

    def pooled(self, ids: torch.Tensor, field: str, mode: str, padding_id: int) -> torch.Tensor:
        """Return each row of ``(B, L)`` ids of ``field`` pooled (``"mean"``/``"sum"``) by one ``embedding_bag``.

        Positions holding ``padding_id`` are left out (a row of padding only pools to zeros)
        and pass no gradient, as in :func:`~rec_trainers.layers.pooling.pool_sequence` over
        :meth:`lookup`, without materialising the ``(B, L, D)`` embeddings.
        """
        offsets, sizes, _ = self._plan((field,), ids.device)
        _check_ids(ids, sizes, [field])
        padding = self.parts[field].offset + padding_id
        return F.embedding_bag(ids + offsets, self.weight, mode=mode, padding_idx=padding)

    def _plan(self, fields: tuple[str, ...], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Return the offsets, sizes and padding ids of ``fields`` as tensors on ``device``.

        Made once per field tuple and device, so a step makes no host-to-device copy (a
        synchronisation on a GPU, and not allowed while a CUDA graph is captured).
        """
        plan = self._plans.get((fields, device))
        if plan is None:
            parts = [self.parts[name] for name in fields]

            def tensor(values: list[int]) -> torch.Tensor:
                return torch.tensor(values if len(values) > 1 else values[0], device=device)

            padding = [part.padding_idx for part in parts]
            pad = None if all(p is None for p in padding) else tensor([-1 if p is None else p for p in padding])
            plan = (tensor([part.offset for part in parts]), tensor([part.rows for part in parts]), pad)
            self._plans[(fields, device)] = plan
        return plan

    def part_weight(self, name: str) -> torch.Tensor:
        """Return the rows of field ``name`` (a view of the fused weight)."""
        part = self.parts[name]
        return self.weight[part.offset : part.offset + part.rows]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, fields={list(self.parts)}"


def _check_ids(ids: torch.Tensor, sizes: torch.Tensor, fields: Sequence[str]) -> None:
    if torch.compiler.is_compiling():
        return
    valid = (ids >= 0) & (ids < sizes)
    if ids.device.type != "cpu":
        torch._assert_async(valid.all(), "an embedding id lies outside its field's table")
        return
    if bool(valid.all()):
        return
    bad = (~valid).nonzero()[0]
    field = fields[int(bad[-1])] if len(fields) > 1 else fields[0]
    limit = int(sizes.reshape(-1)[int(bad[-1]) if len(fields) > 1 else 0])
    raise DataError(f"id {int(ids[tuple(bad)])} of feature {field!r} is outside its table ({limit} rows)")
