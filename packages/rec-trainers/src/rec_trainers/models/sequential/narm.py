"""NARM: neural attentive session-based recommendation (Li et al., CIKM 2017)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from rec_trainers.models.sequential._align import left_align, restore_order
from rec_trainers.models.sequential._base import SequentialModel, causal_mask, check_positive, check_rate

__all__ = ["NARM"]


class NARM(SequentialModel):
    """A GRU's last state (global encoder) joined with attention over its states (local encoder).

    At position ``t`` the global representation is the GRU state ``h_t`` and the local one
    ``sum_j alpha_tj h_j`` over ``j <= t`` with ``alpha_tj = v^T sigmoid(A1 h_t + A2 h_j)``
    (unnormalised, as in the paper). ``[c_global; c_local]`` goes through session dropout
    and the bilinear matrix ``B`` to ``embed_dim`` and scores items by dot product with the
    item table, so every position gets a causal state and all are trained at once.

    Each row's items are moved to the front before the GRU runs, so the states do not
    depend on how much padding precedes them. Training scores every position, so its
    attention takes ``O(B L^2 H)`` memory; ranking (:meth:`query_states`) scores only the
    last item, in ``O(B L H)``.

    Args:
        n_items: Catalogue size, padding id 0 included.
        embed_dim: Item embedding size ``d``.
        hidden_size: GRU state size ``H`` (also the attention size).
        emb_dropout: Dropout on the item embeddings.
        session_dropout: Dropout on the session representation ``[c_global; c_local]``.
        max_len: Longest history read (older items are cut off).
    """

    padding_invariant: ClassVar[bool] = True

    def __init__(self, n_items: int, embed_dim: int = 64, hidden_size: int = 100, emb_dropout: float = 0.25,
                 session_dropout: float = 0.5, max_len: int = 50) -> None:
        super().__init__()
        self.n_items = check_positive("NARM", "n_items", n_items)
        self.max_len = check_positive("NARM", "max_len", max_len)
        check_positive("NARM", "embed_dim", embed_dim)
        check_positive("NARM", "hidden_size", hidden_size)
        self.item_embedding = nn.Embedding(n_items, embed_dim, padding_idx=0)
        self.embedding_dropout = nn.Dropout(check_rate("NARM", "emb_dropout", emb_dropout))
        self.gru = nn.GRU(embed_dim, hidden_size, batch_first=True)
        self.query = nn.Linear(hidden_size, hidden_size, bias=False)  # A1
        self.key = nn.Linear(hidden_size, hidden_size, bias=False)  # A2
        self.attention = nn.Linear(hidden_size, 1, bias=False)  # v
        self.session_dropout = nn.Dropout(check_rate("NARM", "session_dropout", session_dropout))
        self.bilinear = nn.Linear(2 * hidden_size, embed_dim, bias=False)  # B
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
        # (B, L_query, L_key): once aligned, the keys j <= t of a real position t are all real.
        alpha = self.attention(torch.sigmoid(self.query(states).unsqueeze(2) + self.key(states).unsqueeze(1)))
        alpha = alpha.squeeze(-1).masked_fill(causal_mask(history.shape[1], history.device), 0.0)
        local = alpha @ states
        session = self.bilinear(self.session_dropout(torch.cat([states, local], dim=-1)))
        return restore_order(session, order) * history.ne(0).unsqueeze(-1)

    def query_states(self, history: torch.Tensor) -> torch.Tensor:
        """Return the ``(B, d)`` state of each history's last item in ``O(B L H)`` memory.

        The same as ``encode(history)[:, -1]`` (the attention of one query, the last item,
        over its states), without the ``(B, L, L, H)`` scores of every position: ranking
        needs only the last one.
        """
        history = history[:, -self.max_len :]
        aligned, _ = left_align(history)
        states, _ = self.gru(self.embedding_dropout(self.item_embedding(aligned)))
        lengths = history.ne(0).sum(dim=1)
        last = (lengths - 1).clamp(min=0)  # once aligned, the last item sits at n - 1
        current = states[torch.arange(len(states), device=states.device), last]
        alpha = self.attention(torch.sigmoid(self.query(current).unsqueeze(1) + self.key(states))).squeeze(-1)
        alpha = alpha * (torch.arange(states.shape[1], device=states.device) <= last.unsqueeze(1))
        local = (alpha.unsqueeze(1) @ states).squeeze(1)
        session = self.bilinear(self.session_dropout(torch.cat([current, local], dim=-1)))
        return session * lengths.ne(0).unsqueeze(-1)

    def item_embeddings(self) -> torch.Tensor:
        """Return the item table (shared with the input embeddings)."""
        return self.item_embedding.weight
