"""Wide & Deep: a linear model over ids next to an MLP over embeddings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch

from rec_trainers.layers._features import Feature, check_pooled, flat_dim
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.layers.linear import LinearLogit
from rec_trainers.models.ranking._base import DEFAULT_MLP_PARAMS, RankingModel, build_mlp, split_kinds

__all__ = ["WideDeep"]


class WideDeep(RankingModel):
    """Add a wide linear model (memorisation) to a deep MLP (generalisation) (Cheng et al., DLRS 2016).

    The wide part gives every id of ``wide_features`` its own weight (the paper's
    linear model over one-hot ids); the deep part feeds the concatenated embeddings
    and dense values of ``deep_features`` to an MLP ending in one unit.

    ``forward(x)`` returns **logits** of shape ``(B,)``, not probabilities: use
    ``BCEWithLogitsLoss`` and ``torch.sigmoid`` (torch-rechub's models returned
    sigmoid outputs).

    Args:
        wide_features: Features of the wide (linear) part.
        deep_features: Features of the deep part.
        mlp_params: The deep MLP, e.g. ``{"dims": [256, 128], "dropout": 0.2,
            "activation": "relu"}``.

    ``from_features`` uses the SparseFeatures as wide features (all features when
    there are none) and all features as deep features; default
    ``mlp_params={"dims": [256, 128], "dropout": 0.2}``.
    """

    default_params: ClassVar[Mapping[str, Any]] = {"mlp_params": DEFAULT_MLP_PARAMS}

    def __init__(
        self,
        wide_features: Iterable[Feature],
        deep_features: Iterable[Feature],
        mlp_params: Mapping[str, Any],
    ) -> None:
        super().__init__()
        self.wide_features = list(wide_features)
        self.deep_features = list(deep_features)
        check_pooled(self.deep_features, "WideDeep")
        self.linear = LinearLogit(self.wide_features)
        self.embedding = EmbeddingLayer(self.deep_features)
        self.mlp = build_mlp("WideDeep", flat_dim(self.deep_features), mlp_params)

    @classmethod
    def feature_args(cls, features: list[Feature]) -> dict[str, Sequence[Feature]]:
        """Wide: the SparseFeatures (or everything if none); deep: every feature."""
        sparse, _, _ = split_kinds(features)
        return {"wide_features": list(sparse) or features, "deep_features": features}

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the logits ``(B,)`` for the batch ``x``."""
        y = self.linear(x) + self.mlp(self.embedding.flat(x, self.deep_features))
        return y.squeeze(1)
