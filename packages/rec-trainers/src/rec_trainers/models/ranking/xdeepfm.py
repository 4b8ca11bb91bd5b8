"""xDeepFM: linear term, compressed interaction network and MLP."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch

from rec_trainers.layers._features import Feature, check_pooled, common_embed_dim, embedded, flat_dim
from rec_trainers.layers.cin import CIN
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.layers.linear import LinearLogit
from rec_trainers.models.ranking._base import DEFAULT_MLP_PARAMS, RankingModel, build_mlp

__all__ = ["xDeepFM"]


class xDeepFM(RankingModel):
    """Combine explicit vector-wise crosses (CIN) with an implicit MLP (Lian et al., KDD 2018).

    ``logit = first-order(features) + CIN(fields) + MLP(flat input)``. The CIN reads
    the sparse and pooled sequence fields (one common ``embed_dim``); the MLP reads
    all embeddings and dense values. torch-rechub ships the CIN layer but no xDeepFM
    model, so the arguments follow its other models.

    ``forward(x)`` returns **logits** of shape ``(B,)``, not probabilities: use
    ``BCEWithLogitsLoss`` and ``torch.sigmoid`` (torch-rechub's models returned
    sigmoid outputs).

    Args:
        features: All features of the model.
        cin_size: Number of feature maps of each CIN layer.
        mlp_params: The deep MLP, e.g. ``{"dims": [256, 128], "dropout": 0.2}``;
            ``None`` drops the deep part.
        split_half: Pass half of each hidden CIN layer on and pool the other half.

    ``from_features`` defaults: ``cin_size=[128, 128]``,
    ``mlp_params={"dims": [256, 128], "dropout": 0.2}``, ``split_half=True``.
    """

    default_params: ClassVar[Mapping[str, Any]] = {
        "cin_size": [128, 128],
        "mlp_params": DEFAULT_MLP_PARAMS,
        "split_half": True,
    }

    def __init__(
        self,
        features: Iterable[Feature],
        cin_size: Sequence[int],
        mlp_params: Mapping[str, Any] | None,
        split_half: bool = True,
    ) -> None:
        super().__init__()
        self.features = list(features)
        self.fields = embedded(self.features)
        check_pooled(self.features, "xDeepFM")
        common_embed_dim(self.fields, "xDeepFM")
        self.embedding = EmbeddingLayer(self.features)
        self.linear = LinearLogit(self.features)
        self.cin = CIN(len(self.fields), cin_size, split_half=split_half)
        self.mlp = None if mlp_params is None else build_mlp("xDeepFM", flat_dim(self.features), mlp_params)

    @classmethod
    def feature_args(cls, features: list[Feature]) -> dict[str, Sequence[Feature]]:
        """Use every feature."""
        return {"features": features}

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the logits ``(B,)`` for the batch ``x``."""
        cache: dict[str, torch.Tensor] = {}  # the CIN and the MLP read the same embeddings
        y = self.linear(x) + self.cin(self.embedding.fields(x, self.fields, cache))
        if self.mlp is not None:
            y = y + self.mlp(self.embedding.flat(x, self.features, cache))
        return y.squeeze(1)
