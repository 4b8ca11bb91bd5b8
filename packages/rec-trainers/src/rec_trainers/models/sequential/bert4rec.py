"""BERT4Rec: a bidirectional transformer trained by the cloze task (Sun et al., CIKM 2019)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError
from rec_trainers.models.sequential._base import SequentialModel, check_heads, check_positive, check_rate

__all__ = ["BERT4Rec"]


class BERT4Rec(SequentialModel):
    """Post-norm transformer blocks that see the whole history; masked items are predicted.

    As in the paper: item + learned position embeddings, layer norm and dropout, blocks of
    bidirectional multi-head attention (padding masked as keys) and a GELU feed-forward
    network of width ``4 d``, and an output layer ``GELU(h W + b)`` (layer-normed, as in the
    authors' code) whose result scores items by dot product with the item table. The input
    table has one more row than the catalogue: the ``[mask]`` token, id ``n_items``, which
    :meth:`item_embeddings` leaves out so it is never ranked.

    Positions count back from the most recent slot, so a history reads the same whatever
    padding precedes it. Training masks items (:meth:`training_inputs`); a history's next
    item is predicted by appending ``[mask]`` (:meth:`query_states`).

    Args:
        n_items: Catalogue size, padding id 0 included.
        embed_dim: Hidden size ``d``.
        max_len: Longest history read (older items are cut off).
        num_blocks: Transformer blocks.
        num_heads: Attention heads (must divide ``embed_dim``).
        dropout_rate: Dropout on embeddings, attention and feed-forward layers.
        mask_prob: Chance that a training item is replaced by ``[mask]``, in ``(0, 1)``.
    """

    padding_invariant: ClassVar[bool] = True

    def __init__(self, n_items: int, embed_dim: int = 64, max_len: int = 50, num_blocks: int = 2,
                 num_heads: int = 2, dropout_rate: float = 0.2, mask_prob: float = 0.2) -> None:
        super().__init__()
        self.n_items = check_positive("BERT4Rec", "n_items", n_items)
        self.max_len = check_positive("BERT4Rec", "max_len", max_len)
        check_positive("BERT4Rec", "embed_dim", embed_dim)
        check_positive("BERT4Rec", "num_blocks", num_blocks)
        check_heads("BERT4Rec", check_positive("BERT4Rec", "num_heads", num_heads), embed_dim)
        dropout = check_rate("BERT4Rec", "dropout_rate", dropout_rate)
        if isinstance(mask_prob, bool) or not isinstance(mask_prob, (int, float)) or not 0 < mask_prob < 1:
            raise ConfigError(f"BERT4Rec mask_prob must be a number in (0, 1), got {mask_prob!r}")
        self.mask_prob = float(mask_prob)
        self.mask_token = n_items
        self.item_embedding = nn.Embedding(n_items + 1, embed_dim, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, embed_dim)
        self.embedding_norm = nn.LayerNorm(embed_dim)
        self.embedding_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(embed_dim, num_heads, dropout) for _ in range(num_blocks))
        self.output = nn.Linear(embed_dim, embed_dim)
        self.output_norm = nn.LayerNorm(embed_dim)
        nn.init.xavier_normal_(self.item_embedding.weight)
        nn.init.xavier_normal_(self.position_embedding.weight)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def encode(self, history: torch.Tensor) -> torch.Tensor:
        """Return the ``(B, L, d)`` states of the left-padded histories, each position seeing all items."""
        history = history[:, -self.max_len :]
        length = history.shape[1]
        positions = torch.arange(self.max_len - length, self.max_len, device=history.device)
        x = self.embedding_norm(self.item_embedding(history) + self.position_embedding(positions))
        x = self.embedding_dropout(x)
        padding = history.eq(0)
        # A row of padding only would leave its queries nothing to attend to (NaN); let it see itself.
        padding = padding & ~padding.all(dim=1, keepdim=True)
        for block in self.blocks:
            x = block(x, padding)
        return self.output_norm(F.gelu(self.output(x)))

    def item_embeddings(self) -> torch.Tensor:
        """Return the catalogue's rows of the input table (the ``[mask]`` row left out)."""
        return self.item_embedding.weight[: self.n_items]

    def query_states(self, history: torch.Tensor) -> torch.Tensor:
        """Return the ``(B, d)`` states at a ``[mask]`` appended to each history (its oldest slot dropped)."""
        history = history[:, -self.max_len :]
        mask = torch.full_like(history[:, :1], self.mask_token)
        return self.encode(torch.cat([history[:, 1:], mask], dim=1))[:, -1]

    def training_inputs(self, history: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the cloze task on ``target`` (each history shifted by one): ``(masked items, labels)``.

        Each real item of ``target`` is replaced by ``[mask]`` with probability
        :attr:`mask_prob` (the last one if none was drawn, so every non-empty row has one);
        labels hold the original item at masked positions and 0 elsewhere.
        """
        target = target[:, -self.max_len :]
        real = target.ne(0)
        masked = (torch.rand(target.shape, device=target.device) < self.mask_prob) & real
        positions = torch.arange(target.shape[1], device=target.device)
        last = (real * positions).argmax(dim=1, keepdim=True)
        unmasked_rows = real.any(dim=1, keepdim=True) & ~masked.any(dim=1, keepdim=True)
        masked = masked | (unmasked_rows & positions.eq(last))
        inputs = target.masked_fill(masked, self.mask_token)
        labels = target.masked_fill(~masked, 0)
        return inputs, labels


class _Block(nn.Module):
    """Bidirectional self-attention and a GELU feed-forward network, each residual then layer-normed."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.attention_dropout = nn.Dropout(dropout)
        self.attention_norm = nn.LayerNorm(dim)
        self.feed_forward = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(dropout)
        )
        self.feed_forward_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        attended, _ = self.attention(x, x, x, key_padding_mask=padding, need_weights=False)
        x = self.attention_norm(x + self.attention_dropout(attended))
        return self.feed_forward_norm(x + self.feed_forward(x))

