"""GRU4Rec: a recurrent network over the item history (Hidasi et al., ICLR 2016)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from rec_trainers.models.sequential._align import left_align, restore_order
from rec_trainers.models.sequential._base import SequentialModel, check_positive, check_rate

__all__ = ["GRU4Rec"]


class GRU4Rec(SequentialModel):
    """Item embeddings through a GRU, projected back to the item space and scored by dot product.

    The embedding-input variant of the paper (as in RecBole and torch-rechub): item
    embedding -> dropout -> GRU -> linear projection to ``embed_dim``, scored against the
    same (tied) item table. A GRU is causal by construction; each row's items are moved to
    the front before the GRU runs, so the states do not depend on how much padding precedes
    them (a GRU step on a zero input still changes its state through the biases).

    Args:
        n_items: Catalogue size, padding id 0 included.
        embed_dim: Item embedding size ``d``.
        hidden_size: GRU state size.
        num_layers: Stacked GRU layers.
        dropout_rate: Dropout on the item embeddings (and between GRU layers).
        max_len: Longest history read (older items are cut off).
    """

    padding_invariant: ClassVar[bool] = True

    def __init__(self, n_items: int, embed_dim: int = 64, hidden_size: int = 128, num_layers: int = 1,
                 dropout_rate: float = 0.3, max_len: int = 50) -> None:
        super().__init__()
        self.n_items = check_positive("GRU4Rec", "n_items", n_items)
        self.max_len = check_positive("GRU4Rec", "max_len", max_len)
        check_positive("GRU4Rec", "embed_dim", embed_dim)
        check_positive("GRU4Rec", "hidden_size", hidden_size)
        check_positive("GRU4Rec", "num_layers", num_layers)
        dropout = check_rate("GRU4Rec", "dropout_rate", dropout_rate)
        self.item_embedding = nn.Embedding(n_items, embed_dim, padding_idx=0)
        self.embedding_dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(embed_dim, hidden_size, num_layers, batch_first=True,
                          dropout=dropout if num_layers > 1 else 0.0)
        self.projection = nn.Linear(hidden_size, embed_dim)
        nn.init.xavier_normal_(self.item_embedding.weight)
        for name, weight in self.gru.named_parameters():
            if name.startswith("weight"):
                nn.init.xavier_uniform_(weight)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def encode(self, history: torch.Tensor) -> torch.Tensor:
        """Return the ``(B, L, d)`` causal states of the left-padded histories (0 at padding)."""
        history = history[:, -self.max_len :]
        aligned, order = left_align(history)
        states, _ = self.gru(self.embedding_dropout(self.item_embedding(aligned)))
        states = restore_order(self.projection(states), order)
        return states * history.ne(0).unsqueeze(-1)

    def item_embeddings(self) -> torch.Tensor:
        """Return the item table (shared with the input embeddings)."""
        return self.item_embedding.weight
