"""Field-interaction layers: FM's pairwise term and FiBiNET's SENET and bilinear layers.

All take field embeddings of shape ``(B, num_fields, embed_dim)``.
"""

from __future__ import annotations

import math
from itertools import combinations

import torch
from torch import nn

from rec_core.errors import ConfigError

__all__ = ["FM", "BiLinearInteraction", "BiLinearInteractionLayer", "SENETLayer"]

BILINEAR_TYPES = ("field_all", "field_each", "field_interaction")


class FM(nn.Module):
    """Compute the factorization machine's second-order term ``sum_{i<j} <v_i, v_j>``.

    Uses the identity ``sum_{i<j} v_i * v_j = ((sum v)^2 - sum v^2) / 2``, linear in
    the number of fields.

    Args:
        reduce_sum: Sum over the embedding dimension (the inner products); otherwise
            keep the element-wise ``(B, embed_dim)`` interaction vector.

    Shape:
        Input ``(B, num_fields, embed_dim)``; output ``(B, 1)`` or ``(B, embed_dim)``.
    """

    def __init__(self, reduce_sum: bool = True) -> None:
        super().__init__()
        self.reduce_sum = reduce_sum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the pairwise interaction of the fields."""
        square_of_sum = x.sum(dim=1).pow(2)
        sum_of_square = x.pow(2).sum(dim=1)
        out = 0.5 * (square_of_sum - sum_of_square)
        return out.sum(dim=1, keepdim=True) if self.reduce_sum else out


class SENETLayer(nn.Module):
    """Re-weight fields by learned importance (squeeze-and-excitation, FiBiNET).

    Each field is squeezed to its mean, a two-layer bottleneck (ReLU, then sigmoid as
    in SENet, so no excitation weight can get stuck at zero) yields one weight per
    field, and the fields are scaled by it.

    Args:
        num_fields: Number of fields.
        reduction_ratio: Bottleneck width is ``max(1, num_fields // reduction_ratio)``.

    Shape:
        Input and output ``(B, num_fields, embed_dim)``.
    """

    def __init__(self, num_fields: int, reduction_ratio: int = 3) -> None:
        super().__init__()
        if reduction_ratio < 1:
            raise ConfigError(f"SENETLayer reduction_ratio must be >= 1, got {reduction_ratio}")
        hidden = max(1, num_fields // reduction_ratio)
        self.excitation = nn.Sequential(
            nn.Linear(num_fields, hidden, bias=False),
            nn.ReLU(),
            nn.Linear(hidden, num_fields, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the fields scaled by their importance weights."""
        weights = self.excitation(x.mean(dim=-1))
        return x * weights.unsqueeze(-1)


class BiLinearInteraction(nn.Module):
    """Combine each pair of fields ``i < j`` as ``(v_i W) * v_j`` (FiBiNET's bilinear layer).

    Args:
        input_dim: Embedding size of the fields.
        num_fields: Number of fields.
        bilinear_type: Which ``W`` a pair uses: ``"field_all"`` one shared matrix,
            ``"field_each"`` one per field ``i``, ``"field_interaction"`` one per pair.

    Shape:
        Input ``(B, num_fields, input_dim)``; output
        ``(B, num_fields * (num_fields - 1) / 2, input_dim)``.
    """

    left: torch.Tensor
    right: torch.Tensor

    def __init__(self, input_dim: int, num_fields: int, bilinear_type: str = "field_interaction") -> None:
        super().__init__()
        if bilinear_type not in BILINEAR_TYPES:
            raise ConfigError(f"unknown bilinear_type {bilinear_type!r} (use one of {', '.join(BILINEAR_TYPES)})")
        if num_fields < 2:
            raise ConfigError(f"BiLinearInteraction needs at least 2 fields, got {num_fields}")
        self.bilinear_type = bilinear_type
        left, right = zip(*combinations(range(num_fields), 2), strict=True)
        self.register_buffer("left", torch.tensor(left), persistent=False)
        self.register_buffer("right", torch.tensor(right), persistent=False)
        count = {"field_all": 1, "field_each": num_fields, "field_interaction": len(left)}[bilinear_type]
        bound = 1.0 / math.sqrt(input_dim)
        self.weight = nn.Parameter(torch.empty(count, input_dim, input_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the bilinear interaction of every field pair."""
        if self.bilinear_type == "field_all":
            return (x @ self.weight[0])[:, self.left] * x[:, self.right]
        if self.bilinear_type == "field_each":
            return torch.einsum("bfd,fde->bfe", x, self.weight)[:, self.left] * x[:, self.right]
        return torch.einsum("bpd,pde->bpe", x[:, self.left], self.weight) * x[:, self.right]


BiLinearInteractionLayer = BiLinearInteraction
"""torch-rechub's name for :class:`BiLinearInteraction`."""
