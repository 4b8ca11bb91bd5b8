"""Attention layers: AutoInt's self-attention over fields and DIN's target attention."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError
from rec_trainers.layers.mlp import MLP

__all__ = ["ActivationUnit", "InteractingLayer", "MultiHeadSelfAttention"]


class InteractingLayer(nn.Module):
    """Let every field attend to every other field (AutoInt's interacting layer).

    Multi-head scaled dot-product attention over the fields, an optional residual
    projection of the input, then a ReLU.

    Args:
        embed_dim: Field embedding size; must be divisible by ``num_heads``.
        num_heads: Number of attention heads.
        dropout: Dropout on the attention weights while training.
        residual: Add ``W_res x`` to the attention output.

    Shape:
        Input and output ``(B, num_fields, embed_dim)``.
    """

    def __init__(self, embed_dim: int, num_heads: int = 2, dropout: float = 0.0, residual: bool = True) -> None:
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads:
            raise ConfigError(f"embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.dropout = float(dropout)
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=False)
        self.residual = nn.Linear(embed_dim, embed_dim, bias=False) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the attended fields."""
        batch, fields, dim = x.shape
        q, k, v = self.qkv(x).view(batch, fields, 3, self.num_heads, dim // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        out = out.transpose(1, 2).reshape(batch, fields, dim)
        if self.residual is not None:
            out = out + self.residual(x)
        return F.relu(out)


MultiHeadSelfAttention = InteractingLayer
"""Another name for :class:`InteractingLayer`."""


class ActivationUnit(nn.Module):
    """Pool a behaviour sequence by its relevance to the target item (DIN's target attention).

    For each position an MLP scores ``[target, h, target - h, target * h]``; the
    output is the score-weighted sum of the history. Padded positions get weight 0.
    As in the paper the scores are not normalised unless ``use_softmax`` is set.

    Args:
        emb_dim: Embedding size of the history and the target.
        dims: Hidden sizes of the scoring MLP (default ``[36]``).
        activation: Activation of the scoring MLP (default ``"dice"``).
        use_softmax: Normalise the scores over the real positions.
        dropout: Dropout in the scoring MLP.

    Shape:
        ``history (B, L, D)``, ``target (B, D)``, optional ``mask (B, L)`` bool;
        output ``(B, D)``.
    """

    def __init__(
        self,
        emb_dim: int,
        dims: Sequence[int] | None = None,
        activation: str | type[nn.Module] = "dice",
        use_softmax: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.use_softmax = use_softmax
        self.attention = MLP(4 * emb_dim, dims=[36] if dims is None else dims, dropout=dropout, activation=activation)

    def forward(self, history: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Return the attention-pooled history."""
        batch, length, dim = history.shape
        target = target.unsqueeze(1).expand(-1, length, -1)
        pair = torch.cat([target, history, target - history, target * history], dim=-1)
        scores = self.attention(pair.reshape(batch * length, 4 * dim)).reshape(batch, length)
        if self.use_softmax:
            if mask is not None:
                scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
            scores = scores.softmax(dim=-1)
        if mask is not None:
            scores = scores * mask.to(scores.dtype)
        return (scores.unsqueeze(-1) * history).sum(dim=1)
