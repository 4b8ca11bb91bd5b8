"""FiBiNET: field importance (SENET) and bilinear field interactions feeding an MLP."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch

from rec_trainers.layers._batch import dense_value
from rec_trainers.layers._features import Feature, check_pooled, common_embed_dim, dense_dim, embedded
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.layers.interaction import BiLinearInteraction, SENETLayer
from rec_trainers.models.ranking._base import DEFAULT_MLP_PARAMS, RankingModel, build_mlp, split_kinds

__all__ = ["FiBiNET", "FiBiNet"]


class FiBiNet(RankingModel):
    """Weigh fields by importance, cross them bilinearly, and feed an MLP (Huang et al., RecSys 2019).

    The sparse and pooled sequence fields (one common ``embed_dim``) go through two
    paths: as they are, and re-weighted by a SENET layer. Each path crosses every
    field pair with its own bilinear layer; the two results, flattened, and the dense
    values form the MLP's input.

    ``forward(x)`` returns **logits** of shape ``(B,)``, not probabilities: use
    ``BCEWithLogitsLoss`` and ``torch.sigmoid`` (torch-rechub's models returned
    sigmoid outputs).

    Args:
        features: All features of the model (at least two sparse/sequence fields).
        mlp_params: The MLP, e.g. ``{"dims": [256, 128], "dropout": 0.2}``.
        reduction_ratio: Bottleneck reduction of the SENET layer.
        bilinear_type: ``"field_interaction"`` (a matrix per field pair),
            ``"field_each"`` (per field) or ``"field_all"`` (one shared matrix).

    ``from_features`` defaults: ``mlp_params={"dims": [256, 128], "dropout": 0.2}``,
    ``reduction_ratio=3``, ``bilinear_type="field_interaction"``. The paper's
    spelling :data:`FiBiNET` is an alias of this class.
    """

    default_params: ClassVar[Mapping[str, Any]] = {
        "mlp_params": DEFAULT_MLP_PARAMS,
        "reduction_ratio": 3,
        "bilinear_type": "field_interaction",
    }

    def __init__(
        self,
        features: Iterable[Feature],
        mlp_params: Mapping[str, Any],
        reduction_ratio: int = 3,
        bilinear_type: str = "field_interaction",
    ) -> None:
        super().__init__()
        self.features = list(features)
        self.fields = embedded(self.features)
        self.dense_features = split_kinds(self.features)[2]
        check_pooled(self.features, "FiBiNet")
        embed_dim = common_embed_dim(self.fields, "FiBiNet")
        num_fields = len(self.fields)
        self.embedding = EmbeddingLayer(self.fields)
        self.senet_layer = SENETLayer(num_fields, reduction_ratio)
        self.bilinear = BiLinearInteraction(embed_dim, num_fields, bilinear_type)
        self.bilinear_senet = BiLinearInteraction(embed_dim, num_fields, bilinear_type)
        self.dims = num_fields * (num_fields - 1) * embed_dim + dense_dim(self.dense_features)
        self.mlp = build_mlp("FiBiNet", self.dims, mlp_params)

    @classmethod
    def feature_args(cls, features: list[Feature]) -> dict[str, Sequence[Feature]]:
        """Use every feature."""
        return {"features": features}

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the logits ``(B,)`` for the batch ``x``."""
        fields = self.embedding.fields(x, self.fields)
        parts = [
            self.bilinear(fields).flatten(start_dim=1),
            self.bilinear_senet(self.senet_layer(fields)).flatten(start_dim=1),
            *(dense_value(x, fea) for fea in self.dense_features),
        ]
        return self.mlp(torch.cat(parts, dim=1)).squeeze(1)


FiBiNET = FiBiNet
"""The paper's spelling of :class:`FiBiNet`."""
