"""DeepFM: a factorization machine and an MLP sharing one set of embeddings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch

from rec_trainers.layers._features import Feature, check_pooled, common_embed_dim, embedded, flat_dim
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.layers.interaction import FM
from rec_trainers.layers.linear import LinearLogit
from rec_trainers.models.ranking._base import DEFAULT_MLP_PARAMS, RankingModel, build_mlp

__all__ = ["DeepFM"]


class DeepFM(RankingModel):
    """Sum a factorization machine and a deep MLP over shared embeddings (Guo et al., IJCAI 2017).

    ``logit = first-order(fm_features) + FM(fm fields) + MLP(deep_features)``. The
    first-order term gives each id its own weight and dense values a linear weight;
    the FM term crosses the sparse and pooled sequence fields of ``fm_features``
    (one common ``embed_dim``). A feature listed in both groups uses one embedding
    table.

    ``forward(x)`` returns **logits** of shape ``(B,)``, not probabilities: use
    ``BCEWithLogitsLoss`` and ``torch.sigmoid`` (torch-rechub's models returned
    sigmoid outputs).

    Args:
        deep_features: Features of the deep part.
        fm_features: Features of the FM part.
        mlp_params: The deep MLP, e.g. ``{"dims": [256, 128], "dropout": 0.2}``.

    ``from_features`` uses all features as deep features and the sparse + sequence
    features as FM features; default ``mlp_params={"dims": [256, 128], "dropout": 0.2}``.
    """

    default_params: ClassVar[Mapping[str, Any]] = {"mlp_params": DEFAULT_MLP_PARAMS}

    def __init__(
        self,
        deep_features: Iterable[Feature],
        fm_features: Iterable[Feature],
        mlp_params: Mapping[str, Any],
    ) -> None:
        super().__init__()
        self.deep_features = list(deep_features)
        self.fm_features = list(fm_features)
        self.fm_fields = embedded(self.fm_features)
        check_pooled(self.deep_features + self.fm_features, "DeepFM")
        common_embed_dim(self.fm_fields, "DeepFM's fm_features")
        self.linear = LinearLogit(self.fm_features)
        self.fm = FM(reduce_sum=True)
        self.embedding = EmbeddingLayer(self.deep_features + self.fm_features)
        self.mlp = build_mlp("DeepFM", flat_dim(self.deep_features), mlp_params)

    @classmethod
    def feature_args(cls, features: list[Feature]) -> dict[str, Sequence[Feature]]:
        """Deep: every feature; FM: the sparse and sequence features."""
        return {"deep_features": features, "fm_features": embedded(features)}

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the logits ``(B,)`` for the batch ``x``."""
        cache: dict[str, torch.Tensor] = {}  # features in both parts are looked up once
        y_fm = self.fm(self.embedding.fields(x, self.fm_fields, cache))
        y_deep = self.mlp(self.embedding.flat(x, self.deep_features, cache))
        return (self.linear(x) + y_fm + y_deep).squeeze(1)
