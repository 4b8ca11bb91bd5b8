"""First-order (linear) term of CTR models: one weight per id, plus a linear map of dense values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_core.features import DenseFeature
from rec_trainers.layers._batch import dense_value
from rec_trainers.layers._features import Feature, check_pooled, dense_dim, embedded, unique_features
from rec_trainers.layers.embedding import EmbeddingLayer

__all__ = ["LinearLogit"]


class LinearLogit(nn.Module):
    """Compute ``bias + sum of per-id weights + w · dense values`` as a ``(B, 1)`` logit.

    This is logistic regression over one-hot ids, written as 1-dimensional embedding
    tables (zero-initialised, ``shared_with`` honoured) so that it scales to large
    vocabularies and works with sparse gradients. A sequence feature contributes the
    mean or sum of its ids' weights, as its ``pooling`` says.

    Args:
        features: Sparse, sequence and dense features of the linear term.

    Raises:
        ConfigError: If ``features`` is empty or a sequence uses ``pooling="concat"``.
    """

    def __init__(self, features: Iterable[Feature]) -> None:
        super().__init__()
        self.features = unique_features(features, "LinearLogit")
        if not self.features:
            raise ConfigError("LinearLogit needs at least one feature")
        check_pooled(self.features, "LinearLogit")
        self.sparse_features = embedded(self.features)
        self.dense_features = [fea for fea in self.features if isinstance(fea, DenseFeature)]
        self.weights = EmbeddingLayer(self.sparse_features, embed_dim=1) if self.sparse_features else None
        dims = dense_dim(self.dense_features)
        self.dense_linear = nn.Linear(dims, 1, bias=False) if dims else None
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the first-order logit of shape ``(B, 1)``."""
        out = self.bias.unsqueeze(0)
        if self.weights is not None:
            out = out + self.weights.fields(x, self.sparse_features).sum(dim=1)
        if self.dense_linear is not None:
            out = out + self.dense_linear(torch.cat([dense_value(x, fea) for fea in self.dense_features], dim=1))
        return out
