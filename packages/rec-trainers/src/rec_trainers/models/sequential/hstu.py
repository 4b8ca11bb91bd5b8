"""HSTU: hierarchical sequential transduction units (Zhai et al., ICML 2024, "Actions Speak Louder than Words")."""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError
from rec_trainers.models.sequential._base import SequentialModel, causal_mask, check_positive, check_rate

__all__ = ["HSTU"]

ALIASES = {"vocab_size": "n_items", "d_model": "embed_dim", "n_heads": "num_heads", "n_layers": "num_blocks",
           "max_seq_len": "max_len", "dropout": "dropout_rate"}
"""torch-rechub's ``HSTUModel`` argument names and the options they stand for."""


class HSTU(SequentialModel):
    """Causal HSTU blocks over the item history: pointwise (SiLU) attention gated by a learned ``U``.

    Each block, as in the paper: ``U, V, Q, K = SiLU(Linear(LayerNorm(x)))``;
    ``A = SiLU(Q K^T + rab) / n`` with a causal mask and padding keys masked, ``rab`` a
    learned bias per head and relative position ``i - j`` (clipped at ``max_len - 1``);
    ``Y = LayerNorm(A V) * U``; ``x + Linear(dropout(Y))``. A final layer norm gives the
    states, scored by dot product with the (tied) item table.

    ``n`` is ``max_len`` (the paper's padded length), a constant, so with relative
    positions only a history reads the same whatever padding precedes it.

    torch-rechub's ``HSTUModel`` names are accepted too: ``vocab_size``, ``d_model``,
    ``n_heads``, ``n_layers``, ``max_seq_len`` and ``dropout``.

    Args:
        n_items: Catalogue size, padding id 0 included.
        embed_dim: Hidden size ``d``.
        num_heads: Attention heads.
        num_blocks: HSTU blocks.
        max_len: Longest history read (older items are cut off).
        dropout_rate: Dropout on the embeddings and on each block's ``Y``.
        linear_hidden_dim: Size of ``U`` and ``V`` per head; ``None`` = ``embed_dim // num_heads``.
        attention_dim: Size of ``Q`` and ``K`` per head; ``None`` = ``embed_dim // num_heads``.
        **aliases: torch-rechub names for the options above.

    Raises:
        ConfigError: An option is invalid, an alias is unknown, or an alias and its option disagree.
    """

    padding_invariant: ClassVar[bool] = True

    def __init__(self, n_items: int | None = None, embed_dim: int = 64, num_heads: int = 2, num_blocks: int = 2,
                 max_len: int = 50, dropout_rate: float = 0.2, linear_hidden_dim: int | None = None,
                 attention_dim: int | None = None, **aliases: Any) -> None:
        super().__init__()
        options = _resolve_aliases(
            {"n_items": n_items, "embed_dim": embed_dim, "num_heads": num_heads, "num_blocks": num_blocks,
             "max_len": max_len, "dropout_rate": dropout_rate}, aliases)
        if options["n_items"] is None:
            raise ConfigError("HSTU needs n_items (or torch-rechub's vocab_size)")
        self.n_items = check_positive("HSTU", "n_items", options["n_items"])
        self.max_len = check_positive("HSTU", "max_len", options["max_len"])
        embed_dim = check_positive("HSTU", "embed_dim", options["embed_dim"])
        num_heads = check_positive("HSTU", "num_heads", options["num_heads"])
        num_blocks = check_positive("HSTU", "num_blocks", options["num_blocks"])
        dropout = check_rate("HSTU", "dropout_rate", options["dropout_rate"])
        if (linear_hidden_dim is None or attention_dim is None) and embed_dim % num_heads:
            raise ConfigError(f"HSTU num_heads ({num_heads}) must divide embed_dim ({embed_dim}) "
                              "unless linear_hidden_dim and attention_dim are given")
        head_dim = embed_dim // num_heads
        linear_dim = check_positive("HSTU", "linear_hidden_dim",
                                    head_dim if linear_hidden_dim is None else linear_hidden_dim)
        attention_dim = check_positive("HSTU", "attention_dim", head_dim if attention_dim is None else attention_dim)
        self.item_embedding = nn.Embedding(self.n_items, embed_dim, padding_idx=0)
        self.embedding_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            _Block(embed_dim, num_heads, linear_dim, attention_dim, self.max_len, dropout) for _ in range(num_blocks)
        )
        self.final_norm = nn.LayerNorm(embed_dim)
        self.scale = embed_dim**0.5
        nn.init.xavier_normal_(self.item_embedding.weight)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def encode(self, history: torch.Tensor) -> torch.Tensor:
        """Return the ``(B, L, d)`` causal states of the left-padded histories (``L <= max_len``)."""
        history = history[:, -self.max_len :]
        keep = history.ne(0).unsqueeze(-1)
        length = history.shape[1]
        positions = torch.arange(length, device=history.device)
        distance = (positions.unsqueeze(1) - positions.unsqueeze(0)).clamp(0, self.max_len - 1)
        # (B, L_query, L_key): True where a query may attend to a key.
        allowed = ~causal_mask(length, history.device) & history.ne(0).unsqueeze(1)
        x = self.embedding_dropout(self.item_embedding(history) * self.scale) * keep
        for block in self.blocks:
            x = block(x, allowed, distance) * keep
        return self.final_norm(x)

    def item_embeddings(self) -> torch.Tensor:
        """Return the item table (shared with the input embeddings)."""
        return self.item_embedding.weight


def _resolve_aliases(options: dict[str, Any], aliases: dict[str, Any]) -> dict[str, Any]:
    """Return ``options`` with the torch-rechub ``aliases`` filled in.

    An alias replaces an option left at its default; one that disagrees with an option
    given a different value raises.

    Raises:
        ConfigError: An alias is unknown, or disagrees with its option.
    """
    defaults = {name: p.default for name, p in inspect.signature(HSTU.__init__).parameters.items()}
    resolved = dict(options)
    for alias, value in aliases.items():
        if alias not in ALIASES:
            known = ", ".join(sorted(ALIASES))
            raise ConfigError(f"HSTU got an unknown option '{alias}' (torch-rechub names accepted: {known})")
        name = ALIASES[alias]
        if resolved[name] != defaults[name] and resolved[name] != value:
            raise ConfigError(f"HSTU {alias}={value!r} disagrees with {name}={resolved[name]!r}; give one of them")
        resolved[name] = value
    return resolved


class _Block(nn.Module):
    """One HSTU layer: gated pointwise attention with a relative position bias, residual."""

    def __init__(self, dim: int, heads: int, linear_dim: int, attention_dim: int, max_len: int,
                 dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.split = [linear_dim * heads, linear_dim * heads, attention_dim * heads, attention_dim * heads]
        self.norm = nn.LayerNorm(dim)
        self.uvqk = nn.Linear(dim, sum(self.split))
        self.position_bias = nn.Embedding(max_len, heads)
        self.output_norm = nn.LayerNorm(linear_dim * heads)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(linear_dim * heads, dim)
        self.normaliser = float(max_len)
        nn.init.xavier_uniform_(self.uvqk.weight)
        nn.init.zeros_(self.uvqk.bias)
        nn.init.normal_(self.position_bias.weight, std=0.02)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        u, v, q, k = (part.view(batch, length, self.heads, -1).transpose(1, 2)
                      for part in F.silu(self.uvqk(self.norm(x))).split(self.split, dim=-1))
        bias = self.position_bias(distance).permute(2, 0, 1)  # (heads, L, L)
        weights = F.silu(q @ k.transpose(-1, -2) + bias) / self.normaliser
        weights = weights * allowed.unsqueeze(1)
        y = (weights @ v).transpose(1, 2).reshape(batch, length, -1)
        y = self.output_norm(y) * u.transpose(1, 2).reshape(batch, length, -1)
        return x + self.output(self.dropout(y))
