"""Pool padded id sequences, and embed dense values as fields.

Sequences follow one convention across rec: the padding id is **0**, unless the
:class:`~rec_core.features.SequenceFeature` sets its own ``padding_idx``. Padded
positions carry no weight in mean/sum pooling or attention.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_core.features import DenseFeature
from rec_trainers.layers._batch import dense_value
from rec_trainers.layers._features import Feature

__all__ = ["DenseEmbedding", "pool_sequence", "sequence_mask"]

PADDING_ID = 0


def sequence_mask(ids: torch.Tensor, padding_idx: int | None = None) -> torch.Tensor:
    """Return a boolean mask of the real (non-padding) positions of an id sequence.

    Args:
        ids: Integer ids of shape ``(B, L)``.
        padding_idx: The padding id; ``None`` means the default padding id 0.

    Returns:
        A ``(B, L)`` bool tensor, True where ``ids`` holds a real id.
    """
    return ids != (PADDING_ID if padding_idx is None else padding_idx)


def pool_sequence(emb: torch.Tensor, mask: torch.Tensor, mode: str = "mean") -> torch.Tensor:
    """Reduce sequence embeddings ``(B, L, D)`` to ``(B, D)``, ignoring padded positions.

    Args:
        emb: Embeddings of the sequence positions.
        mask: ``(B, L)`` bool mask of real positions (see :func:`sequence_mask`).
        mode: ``"sum"`` adds the real positions, ``"mean"`` averages them. A sequence
            holding only padding pools to zeros.

    Raises:
        ConfigError: For another ``mode``.
    """
    weights = mask.unsqueeze(-1).to(emb.dtype)
    total = (emb * weights).sum(dim=1)
    if mode == "sum":
        return total
    if mode == "mean":
        return total / weights.sum(dim=1).clamp(min=1.0)
    raise ConfigError(f"unknown sequence pooling {mode!r} (use 'mean' or 'sum')")


class DenseEmbedding(nn.Module):
    """Project each dense feature to an ``embed_dim`` vector so it can act as a field.

    AutoInt treats dense values as fields next to the sparse embeddings: value ``v``
    of feature ``f`` becomes ``W_f v`` (no bias).

    Args:
        features: The dense features; other kinds are ignored.
        embed_dim: Width of the produced field vectors.

    Shape:
        Output ``(B, num_dense, embed_dim)``.
    """

    def __init__(self, features: Iterable[Feature], embed_dim: int) -> None:
        super().__init__()
        self.features = [fea for fea in features if isinstance(fea, DenseFeature)]
        self.projections = nn.ModuleDict(
            {fea.name: nn.Linear(fea.embed_dim, embed_dim, bias=False) for fea in self.features}
        )

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the stacked projections of the dense values."""
        fields = []
        for fea in self.features:
            fields.append(self.projections[fea.name](dense_value(x, fea)))
        return torch.stack(fields, dim=1)
