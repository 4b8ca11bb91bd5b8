"""Factorization machine: first-order weights plus pairwise embedding interactions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch

from rec_trainers.layers._features import Feature, check_pooled, common_embed_dim, embedded
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.layers.interaction import FM as FMInteraction
from rec_trainers.layers.linear import LinearLogit
from rec_trainers.models.ranking._base import RankingModel

__all__ = ["FM"]


class FM(RankingModel):
    """Predict with a factorization machine (Rendle, ICDM 2010).

    ``logit = bias + sum_i w_i + sum_{i<j} <v_i, v_j>``: the first-order term covers all
    features (dense values linearly), the interactions the sparse and pooled sequence
    fields, which must share one ``embed_dim``. torch-rechub has no FM model; this
    one is DeepFM without the deep part.

    ``forward(x)`` returns **logits** of shape ``(B,)``, not probabilities: use
    ``BCEWithLogitsLoss`` and ``torch.sigmoid`` (torch-rechub's models returned
    sigmoid outputs).

    Args:
        features: All features of the model.

    Raises:
        ConfigError: If the sparse/sequence features differ in ``embed_dim`` or
            there are none.
    """

    default_params: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, features: Iterable[Feature]) -> None:
        super().__init__()
        self.features = list(features)
        self.fm_fields = embedded(self.features)
        check_pooled(self.features, "FM")
        common_embed_dim(self.fm_fields, "FM")
        self.linear = LinearLogit(self.features)
        self.embedding = EmbeddingLayer(self.fm_fields)
        self.fm = FMInteraction(reduce_sum=True)

    @classmethod
    def feature_args(cls, features: list[Feature]) -> dict[str, Sequence[Feature]]:
        """Use every feature."""
        return {"features": features}

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the logits ``(B,)`` for the batch ``x``."""
        y = self.linear(x) + self.fm(self.embedding.fields(x, self.fm_fields))
        return y.squeeze(1)
