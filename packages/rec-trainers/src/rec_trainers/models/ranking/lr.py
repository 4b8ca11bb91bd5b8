"""Logistic regression: the first-order baseline of CTR prediction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch

from rec_trainers.layers._features import Feature
from rec_trainers.layers.linear import LinearLogit
from rec_trainers.models.ranking._base import RankingModel

__all__ = ["LR"]


class LR(RankingModel):
    """Score a sample by a weighted sum of its features (logistic regression).

    Each sparse id has its own weight (a 1-dimensional embedding), a sequence adds the
    mean or sum of its ids' weights, dense values enter linearly.

    ``forward(x)`` returns **logits** of shape ``(B,)``, not probabilities: use
    ``BCEWithLogitsLoss`` and ``torch.sigmoid`` (torch-rechub returned sigmoid outputs).

    Args:
        features: All features of the model.

    Example:
        >>> model = LR.from_features(features)
        >>> probs = torch.sigmoid(model(batch))
    """

    default_params: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, features: Iterable[Feature]) -> None:
        super().__init__()
        self.features = list(features)
        self.linear = LinearLogit(self.features)

    @classmethod
    def feature_args(cls, features: list[Feature]) -> dict[str, Sequence[Feature]]:
        """Use every feature."""
        return {"features": features}

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the logits ``(B,)`` for the batch ``x``."""
        return self.linear(x).squeeze(1)
