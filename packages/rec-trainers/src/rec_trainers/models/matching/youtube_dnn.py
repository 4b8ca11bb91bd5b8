"""YoutubeDNN: an MLP user tower scored against item id embeddings with a sampled softmax."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch.nn import functional as F

from rec_core.errors import ConfigError
from rec_trainers.layers._features import Feature, check_features, check_pooled, flat_dim
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.models.matching._base import (
    MatchFeatures,
    MatchModel,
    check_temperature,
    listwise_features,
    pooled_history,
    tower_mlp,
)

__all__ = ["YoutubeDNN"]


class YoutubeDNN(MatchModel):
    """The candidate generator of "Deep Neural Networks for YouTube Recommendations" (RecSys 2016).

    The user tower is an MLP over the user features (with a pooled history); the item
    tower is the item id embedding itself, as in the paper. Both are L2-normalised.
    ``mode="user"``/``"item"`` return ``(B, d)`` embeddings; ``mode=None`` returns
    list-wise logits ``(B, 1 + n_neg)`` of the user against ``[positive item,
    negatives...]`` divided by the temperature (the positive is column 0, so the
    loss is ``cross_entropy(logits, zeros)``), as torch-rechub does.

    Args:
        user_features: Features of the user tower.
        item_features: One SparseFeature, the item id.
        neg_item_feature: One SequenceFeature of sampled negative item ids sharing the
            item id's table (``shared_with``), or empty to train with in-batch negatives
            through :meth:`user_tower`/:meth:`item_tower` only.
        user_params: User MLP, ``{"dims": [...], "activation": ..., "dropout": ...,
            "batch_norm": ...}`` (batch norm off unless asked for, unlike torch-rechub);
            ``dims[-1]`` must equal the item feature's ``embed_dim``.
        temperature: Divides the training logits.

    ``from_features`` uses the user features and ``hist_*`` histories (``pooling="concat"``
    read as ``"mean"``) for the user tower, ``item_feature`` as the item and the ``neg_*``
    sequence as negatives; other ``item*`` features are not used. Defaults:
    ``user_params={"dims": [128, <item embed_dim>], "activation": "prelu"}`` (the activation
    follows the last layer too, as in torch-rechub; a ReLU there would keep the user
    embeddings in the positive orthant), ``temperature=0.05``.

    Raises:
        ConfigError: For a wrong feature layout, bad ``user_params`` or a width mismatch.
    """

    default_params: ClassVar[Mapping[str, Any]] = {"user_params": None, "temperature": 0.05}

    def __init__(
        self,
        user_features: Sequence[Feature],
        item_features: Sequence[Feature],
        neg_item_feature: Sequence[Feature],
        user_params: Mapping[str, Any],
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        self.mode = None
        self.temperature = check_temperature("YoutubeDNN", temperature)
        self.user_features = check_features(user_features, "YoutubeDNN")
        if not self.user_features:
            raise ConfigError("YoutubeDNN: user_features must hold at least one feature")
        check_pooled(self.user_features, "YoutubeDNN")
        self.item_feature, self.neg_feature = listwise_features("YoutubeDNN", item_features, neg_item_feature)
        self.item_features = [self.item_feature]
        self.neg_item_feature = [self.neg_feature] if self.neg_feature is not None else []
        self.embedding = EmbeddingLayer([*self.user_features, *self.item_features, *self.neg_item_feature])
        self.check_shared_negatives(self.item_feature, self.neg_feature)
        self.user_mlp = tower_mlp("YoutubeDNN", "user_params", flat_dim(self.user_features), user_params)
        self.output_dim = int(self.item_feature.embed_dim or 0)
        if self.user_mlp.output_dim != self.output_dim:
            raise ConfigError(
                f"YoutubeDNN: user_params['dims'][-1] gives {self.user_mlp.output_dim} dims but item feature "
                f"{self.item_feature.name!r} has embed_dim {self.output_dim}; they must match"
            )

    def user_tower(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the L2-normalised user embeddings ``(B, d)``."""
        return F.normalize(self.user_mlp(self.embedding.flat(x, self.user_features)), p=2, dim=-1)

    def item_tower(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the L2-normalised item id embeddings ``(N, d)``."""
        return self.id_embeddings(x, self.item_feature)

    def training_logits(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return ``(B, 1 + n_neg)`` logits of the user against ``[positive, negatives...]``."""
        candidates = self.candidate_embeddings(x, self.item_feature, self.neg_feature)
        return torch.einsum("bd,bnd->bn", self.user_tower(x), candidates) / self.temperature

    @classmethod
    def feature_args(cls, groups: MatchFeatures, item_feature: str) -> dict[str, list[Feature]]:
        """Use user features and histories for the user tower, the item id, and the ``neg_*`` sequence.

        Raises:
            ConfigError: Without the item id feature.
        """
        item = cls.require_item_id(groups, item_feature)
        return {
            "user_features": [*groups.user, *pooled_history(groups.history)],
            "item_features": [item],
            "neg_item_feature": list(groups.negatives),
        }

    @classmethod
    def auto_params(cls, groups: MatchFeatures, item_feature: str) -> dict[str, Any]:
        """Return the defaults, with a user MLP ending in the item embedding width."""
        params = super().auto_params(groups, item_feature)
        item = cls.require_item_id(groups, item_feature)
        params["user_params"] = {"dims": [128, int(item.embed_dim or 0)], "activation": "prelu"}
        return params
