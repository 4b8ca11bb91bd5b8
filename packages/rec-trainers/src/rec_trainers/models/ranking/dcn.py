"""Deep & Cross Network: explicit cross layers in parallel with an MLP."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rec_trainers.layers._features import Feature, check_pooled, flat_dim
from rec_trainers.layers.cross import CrossNetwork
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.models.ranking._base import DEFAULT_MLP_PARAMS, RankingModel, build_mlp

__all__ = ["DCN"]


class DCN(RankingModel):
    """Run a cross network and an MLP side by side on the flat input (Wang et al., ADKDD 2017).

    The flat input is the concatenation of all embeddings and dense values. The
    cross network (``x_{l+1} = x0 * (w_l · x_l) + b_l + x_l``) and the MLP (without
    output unit) both read it; a linear layer maps their concatenated outputs to the
    logit.

    ``forward(x)`` returns **logits** of shape ``(B,)``, not probabilities: use
    ``BCEWithLogitsLoss`` and ``torch.sigmoid`` (torch-rechub's models returned
    sigmoid outputs).

    Args:
        features: All features of the model.
        n_cross_layers: Number of cross layers.
        mlp_params: The deep MLP, e.g. ``{"dims": [256, 128], "dropout": 0.2}``;
            it needs at least one hidden layer.

    ``from_features`` defaults: ``n_cross_layers=3``,
    ``mlp_params={"dims": [256, 128], "dropout": 0.2}``.
    """

    default_params: ClassVar[Mapping[str, Any]] = {"n_cross_layers": 3, "mlp_params": DEFAULT_MLP_PARAMS}

    def __init__(self, features: Iterable[Feature], n_cross_layers: int, mlp_params: Mapping[str, Any]) -> None:
        super().__init__()
        self.features = list(features)
        check_pooled(self.features, "DCN")
        self.dims = flat_dim(self.features)
        self.embedding = EmbeddingLayer(self.features)
        self.cn = CrossNetwork(self.dims, n_cross_layers)
        self.mlp = build_mlp("DCN", self.dims, mlp_params, output_layer=False)
        self.linear = nn.Linear(self.dims + self.mlp.output_dim, 1)

    @classmethod
    def feature_args(cls, features: list[Feature]) -> dict[str, Sequence[Feature]]:
        """Use every feature."""
        return {"features": features}

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the logits ``(B,)`` for the batch ``x``."""
        embed_x = self.embedding.flat(x, self.features)
        stacked = torch.cat([self.cn(embed_x), self.mlp(embed_x)], dim=1)
        return self.linear(stacked).squeeze(1)
