"""AutoInt: multi-head self-attention across feature fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_core.features import DenseFeature
from rec_trainers.layers._features import Feature, check_pooled, common_embed_dim, embedded
from rec_trainers.layers.attention import InteractingLayer
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.layers.linear import LinearLogit
from rec_trainers.layers.pooling import DenseEmbedding
from rec_trainers.models.ranking._base import DEFAULT_MLP_PARAMS, RankingModel, build_mlp, split_kinds

__all__ = ["AutoInt"]


class AutoInt(RankingModel):
    """Learn high-order interactions by self-attention over fields (Song et al., CIKM 2019).

    Sparse and pooled sequence features are fields directly; each dense feature
    becomes a field through its own projection ``W_f v``. ``num_layers`` interacting
    layers (multi-head attention with residual projection and ReLU) transform the
    fields; ``logit = Linear(attended fields) + first-order term [+ MLP(fields)]``
    (AutoInt+ when ``mlp_params`` is given).

    ``forward(x)`` returns **logits** of shape ``(B,)``, not probabilities: use
    ``BCEWithLogitsLoss`` and ``torch.sigmoid`` (torch-rechub's models returned
    sigmoid outputs).

    Args:
        sparse_features: Sparse (and sequence) features, all of one ``embed_dim``.
        dense_features: Dense features, or ``None``.
        num_layers: Number of interacting layers.
        num_heads: Attention heads; must divide ``embed_dim``.
        dropout: Dropout on the attention weights.
        mlp_params: Optional MLP over the flattened fields, e.g. ``{"dims": [256, 128]}``.

    ``from_features`` passes sparse + sequence features as ``sparse_features``, dense
    features as ``dense_features``; defaults ``num_layers=3``, ``num_heads=2``,
    ``dropout=0.0``, ``mlp_params={"dims": [256, 128], "dropout": 0.2}``.

    Raises:
        ConfigError: If there is no sparse feature, the embedding sizes differ, or
            ``num_heads`` does not divide them.
    """

    default_params: ClassVar[Mapping[str, Any]] = {
        "num_layers": 3,
        "num_heads": 2,
        "dropout": 0.0,
        "mlp_params": DEFAULT_MLP_PARAMS,
    }

    def __init__(
        self,
        sparse_features: Iterable[Feature],
        dense_features: Iterable[Feature] | None = None,
        num_layers: int = 3,
        num_heads: int = 2,
        dropout: float = 0.0,
        mlp_params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.sparse_features = list(sparse_features)
        self.dense_features = list(dense_features or [])
        for fea in self.sparse_features:
            if isinstance(fea, DenseFeature):
                raise ConfigError(f"AutoInt: DenseFeature {fea.name!r} belongs in dense_features")
        for fea in self.dense_features:
            if not isinstance(fea, DenseFeature):
                raise ConfigError(f"AutoInt: {type(fea).__name__} {fea.name!r} belongs in sparse_features")
        check_pooled(self.sparse_features, "AutoInt")
        self.embed_dim = common_embed_dim(self.sparse_features, "AutoInt")
        num_fields = len(self.sparse_features) + len(self.dense_features)
        self.dims = num_fields * self.embed_dim
        self.embedding = EmbeddingLayer(self.sparse_features)
        self.dense_embedding = DenseEmbedding(self.dense_features, self.embed_dim)
        self.interacting_layers = nn.ModuleList(
            InteractingLayer(self.embed_dim, num_heads=num_heads, dropout=dropout) for _ in range(num_layers)
        )
        self.attn_linear = nn.Linear(self.dims, 1)
        self.linear = LinearLogit(self.sparse_features + self.dense_features)
        self.mlp = None if mlp_params is None else build_mlp("AutoInt", self.dims, mlp_params)

    @classmethod
    def feature_args(cls, features: list[Feature]) -> dict[str, Sequence[Feature]]:
        """Sparse: the sparse and sequence features; dense: the dense features."""
        return {"sparse_features": embedded(features), "dense_features": split_kinds(features)[2]}

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the logits ``(B,)`` for the batch ``x``."""
        fields = self.embedding.fields(x, self.sparse_features)
        if self.dense_features:
            fields = torch.cat([fields, self.dense_embedding(x)], dim=1)
        attended = fields
        for layer in self.interacting_layers:
            attended = layer(attended)
        y = self.attn_linear(attended.flatten(start_dim=1)) + self.linear(x)
        if self.mlp is not None:
            y = y + self.mlp(fields.flatten(start_dim=1))
        return y.squeeze(1)
