"""DSSM: a user MLP tower and an item MLP tower, scored by the cosine of their outputs."""

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
    pooled_history,
    tower_mlp,
)

__all__ = ["DSSM"]


class DSSM(MatchModel):
    """Two MLP towers over the user and item features (Huang et al., CIKM 2013).

    Each tower concatenates its features' embeddings (sequences pooled, dense values
    as they are), runs an MLP and L2-normalises the result. ``mode="user"`` returns
    ``(B, d)`` user embeddings, ``mode="item"`` ``(B, d)`` item embeddings and
    ``mode=None`` the point-wise **logit** ``(B,)`` of each (user, item) row:
    ``cos(user, item) / temperature``.

    Unlike torch-rechub, whose training output is ``sigmoid(cos(user, item))`` (its
    temperature is unused), this returns the logit: train with ``BCEWithLogitsLoss``
    (or softmax over in-batch items built from :meth:`user_tower` and
    :meth:`item_tower`). With ``temperature=1.0``, ``torch.sigmoid`` of it equals
    torch-rechub's output.

    Args:
        user_features: Features of the user tower (e.g. user id, profile, a pooled history).
        item_features: Features of the item tower (e.g. item id, category).
        user_params: User MLP, ``{"dims": [...], "activation": ..., "dropout": ...,
            "batch_norm": ...}``; ``dims[-1]`` is the embedding width. Unlike
            torch-rechub's, batch norm is off unless ``batch_norm`` is True.
        item_params: Item MLP, same keys; must end in the user tower's width.
        temperature: Divides the cosine in the training logit.

    ``from_features`` uses the item features (``item*`` names and ``item_feature``) for
    the item tower and the others, ``hist_*`` histories included (``pooling="concat"``
    read as ``"mean"``), for the user tower; ``neg_*`` features are ignored. Defaults:
    ``user_params = item_params = {"dims": [128, 64], "activation": "prelu"}``,
    ``temperature=0.05``.

    As in torch-rechub, the activation follows every tower layer, the last included.
    A ReLU there keeps the embeddings in the positive orthant and stalls learning,
    hence the PReLU default of ``from_features``.

    Raises:
        ConfigError: For empty feature lists, bad tower params or towers of different widths.
    """

    listwise: ClassVar[bool] = False
    default_params: ClassVar[Mapping[str, Any]] = {
        "user_params": {"dims": [128, 64], "activation": "prelu"},
        "item_params": {"dims": [128, 64], "activation": "prelu"},
        "temperature": 0.05,
    }

    def __init__(
        self,
        user_features: Sequence[Feature],
        item_features: Sequence[Feature],
        user_params: Mapping[str, Any],
        item_params: Mapping[str, Any],
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        self.mode = None
        self.temperature = check_temperature("DSSM", temperature)
        self.user_features = check_features(user_features, "DSSM")
        self.item_features = check_features(item_features, "DSSM")
        for option, features in (("user_features", self.user_features), ("item_features", self.item_features)):
            if not features:
                raise ConfigError(f"DSSM: {option} must hold at least one feature")
            check_pooled(features, "DSSM")
        self.embedding = EmbeddingLayer([*self.user_features, *self.item_features])
        self.user_mlp = tower_mlp("DSSM", "user_params", flat_dim(self.user_features), user_params)
        self.item_mlp = tower_mlp("DSSM", "item_params", flat_dim(self.item_features), item_params)
        if self.user_mlp.output_dim != self.item_mlp.output_dim:
            raise ConfigError(
                f"DSSM: the user tower outputs {self.user_mlp.output_dim} dims but the item tower "
                f"{self.item_mlp.output_dim}; make user_params['dims'][-1] equal item_params['dims'][-1]"
            )
        self.output_dim = self.user_mlp.output_dim

    def user_tower(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the L2-normalised user embeddings ``(B, d)``."""
        return F.normalize(self.user_mlp(self.embedding.flat(x, self.user_features)), p=2, dim=-1)

    def item_tower(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the L2-normalised item embeddings ``(N, d)``."""
        return F.normalize(self.item_mlp(self.embedding.flat(x, self.item_features)), p=2, dim=-1)

    def training_logits(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the point-wise logits ``(B,)``: ``cos(user, item) / temperature``."""
        return (self.user_tower(x) * self.item_tower(x)).sum(dim=-1) / self.temperature

    @classmethod
    def feature_args(cls, groups: MatchFeatures, item_feature: str) -> dict[str, list[Feature]]:
        """Use the item features for the item tower and user features plus histories for the user tower.

        Raises:
            ConfigError: If there is no item feature.
        """
        if not groups.items:
            cls.require_item_id(groups, item_feature)
        return {"user_features": [*groups.user, *pooled_history(groups.history)], "item_features": list(groups.items)}
