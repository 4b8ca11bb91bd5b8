"""SASRec: causal self-attention over the item history (Kang & McAuley, ICDM 2018)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from rec_trainers.models.sequential._base import (
    SequentialModel,
    causal_mask,
    check_heads,
    check_positive,
    check_rate,
)

__all__ = ["SASRec"]


class SASRec(SequentialModel):
    """Stack of causal pre-norm transformer blocks over item + position embeddings.

    As in the paper: shared input/output item embeddings, learned positions, dropout on
    the embeddings and in each block, padding positions zeroed after every block, and a
    final layer norm. The states score items by dot product with the item table.
    Positions count back from the most recent slot and padding is masked as a key, so a
    history's states do not depend on how much padding precedes it (the trainer may trim
    it away).

    Args:
        n_items: Catalogue size, padding id 0 included.
        embed_dim: Hidden size ``d`` (``hidden_units`` in the paper's code).
        max_len: Longest history read (older items are cut off).
        num_blocks: Transformer blocks.
        num_heads: Attention heads (must divide ``embed_dim``).
        dropout_rate: Dropout on embeddings, attention and feed-forward layers.
    """

    padding_invariant: ClassVar[bool] = True

    def __init__(self, n_items: int, embed_dim: int = 64, max_len: int = 50, num_blocks: int = 2,
                 num_heads: int = 1, dropout_rate: float = 0.5) -> None:
        super().__init__()
        self.n_items = check_positive("SASRec", "n_items", n_items)
        self.max_len = check_positive("SASRec", "max_len", max_len)
        check_positive("SASRec", "embed_dim", embed_dim)
        check_positive("SASRec", "num_blocks", num_blocks)
        check_heads("SASRec", check_positive("SASRec", "num_heads", num_heads), embed_dim)
        dropout = check_rate("SASRec", "dropout_rate", dropout_rate)
        self.item_embedding = nn.Embedding(n_items, embed_dim, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, embed_dim)
        self.embedding_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(embed_dim, num_heads, dropout) for _ in range(num_blocks))
        self.final_norm = nn.LayerNorm(embed_dim, eps=1e-8)
        self.scale = embed_dim**0.5
        nn.init.xavier_normal_(self.item_embedding.weight)
        nn.init.xavier_normal_(self.position_embedding.weight)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def encode(self, history: torch.Tensor) -> torch.Tensor:
        """Return the ``(B, L, d)`` causal states of the left-padded histories (``L <= max_len``)."""
        history = history[:, -self.max_len :]
        length = history.shape[1]
        keep = history.ne(0).unsqueeze(-1)
        positions = torch.arange(self.max_len - length, self.max_len, device=history.device)
        x = self.item_embedding(history) * self.scale + self.position_embedding(positions)
        x = self.embedding_dropout(x) * keep
        mask = self._attention_mask(history)
        for block in self.blocks:
            x = block(x, mask) * keep
        return self.final_norm(x)

    def _attention_mask(self, history: torch.Tensor) -> torch.Tensor:
        """Return the ``(B * heads, L, L)`` mask: no later position, no padding key (each position sees itself)."""
        length = history.shape[1]
        blocked = causal_mask(length, history.device).unsqueeze(0) | history.eq(0).unsqueeze(1)
        blocked &= ~torch.eye(length, dtype=torch.bool, device=history.device)
        return blocked.repeat_interleave(self.blocks[0].attention.num_heads, dim=0)

    def item_embeddings(self) -> torch.Tensor:
        """Return the item table (shared with the input embeddings)."""
        return self.item_embedding.weight


class _Block(nn.Module):
    """Pre-norm causal self-attention and a point-wise two-layer feed-forward network, both residual."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(dim, eps=1e-8)
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.feed_forward_norm = nn.LayerNorm(dim, eps=1e-8)
        self.feed_forward = nn.Sequential(
            nn.Linear(dim, dim), nn.Dropout(dropout), nn.ReLU(), nn.Linear(dim, dim), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        query = self.attention_norm(x)
        attended, _ = self.attention(query, x, x, attn_mask=mask, need_weights=False)
        x = query + attended
        return x + self.feed_forward(self.feed_forward_norm(x))
