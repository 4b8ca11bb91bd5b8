"""What the multi-interest models (MIND, ComirecSA, ComirecDR) share.

A multi-interest user tower turns the history ``(B, L)`` into ``K`` interest vectors,
appends the user's profile features to each, projects them to the item embedding width
and L2-normalises them: ``(B, K, d)``. Training picks, per user, the interest closest to
the positive item (label-aware attention with a hard maximum, as torch-rechub and the
ComiRec paper do) and scores it against ``[positive, negatives...]``; retrieval scores
every interest and keeps the best (:meth:`MatchModel.score_items`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError
from rec_core.features import SequenceFeature
from rec_trainers.layers._features import Feature, check_features, check_pooled, flat_dim
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.models.matching._base import (
    MatchFeatures,
    MatchModel,
    check_positive_int,
    check_temperature,
    listwise_features,
)

__all__ = ["MultiInterestModel", "dynamic_routing", "squash"]


def squash(s: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """Scale capsule vectors to a length in ``[0, 1)``, keeping their direction."""
    norm2 = s.pow(2).sum(dim=-1, keepdim=True)
    return s * (norm2 / (1.0 + norm2) / torch.sqrt(norm2 + eps))


def dynamic_routing(u_hat: torch.Tensor, mask: torch.Tensor, logits: torch.Tensor, iterations: int = 3) -> torch.Tensor:
    """Route behaviour capsules to interest capsules by agreement (B2I routing).

    Each real behaviour spreads a unit of weight over the ``K`` interests (softmax over
    interests, as in the ComiRec reference code); padded behaviours get none, so padding
    never changes the result. (torch-rechub normalises over the behaviours instead and
    zeroes the padding afterwards, so its padding shifts the weights of real items.) The
    agreement updates see detached predictions; only the last pass carries gradients to
    ``u_hat``.

    Args:
        u_hat: Per-interest predictions of the behaviours ``(B, K, L, D)``.
        mask: ``(B, L)`` bool, True at real behaviours.
        logits: Initial routing logits ``(B, K, L)``.
        iterations: Number of routing passes (at least 1).

    Returns:
        The interest capsules ``(B, K, D)``.
    """
    real = mask.unsqueeze(1).to(u_hat.dtype)
    frozen = u_hat.detach()
    for _ in range(iterations - 1):
        capsules = squash(torch.einsum("bkl,bkld->bkd", F.softmax(logits, dim=1) * real, frozen))
        logits = logits + torch.einsum("bkld,bkd->bkl", frozen, capsules)
    return squash(torch.einsum("bkl,bkld->bkd", F.softmax(logits, dim=1) * real, u_hat))


class MultiInterestModel(MatchModel):
    """Base of MIND and ComiRec: history -> ``K`` interests -> ``(B, K, d)`` user embeddings.

    Subclasses build their interest extractor and implement :meth:`extract_interests`.

    Args:
        owner: Model name, for messages.
        user_features: Profile features appended to each interest (may be empty).
        history_features: One SequenceFeature of item ids (padding id 0).
        item_features: One SparseFeature, the item id.
        neg_item_feature: One SequenceFeature of negative item ids sharing the item
            table, or empty (then only the towers are usable for training).
        temperature: Divides the training logits.
        interest_num: Number of interests ``K``.

    Raises:
        ConfigError: For a wrong feature layout or option value.
    """

    multi_interest: ClassVar[bool] = True

    def __init__(
        self,
        owner: str,
        user_features: Sequence[Feature],
        history_features: Sequence[Feature],
        item_features: Sequence[Feature],
        neg_item_feature: Sequence[Feature],
        temperature: float,
        interest_num: int,
    ) -> None:
        super().__init__()
        self.mode = None
        self.temperature = check_temperature(owner, temperature)
        self.interest_num = check_positive_int(owner, "interest_num", interest_num)
        self.user_features = check_features(user_features, owner)
        history = check_features(history_features, owner)
        if len(history) != 1 or not isinstance(history[0], SequenceFeature):
            raise ConfigError(f"{owner}: history_features must be one SequenceFeature of item ids, got {history!r}")
        self.history_features: list[SequenceFeature] = [history[0]]
        self.item_feature, self.neg_feature = listwise_features(owner, item_features, neg_item_feature)
        self.item_features = [self.item_feature]
        self.neg_item_feature = [self.neg_feature] if self.neg_feature is not None else []
        check_pooled(self.user_features, owner)
        dim = int(self.item_feature.embed_dim or 0)
        if history[0].embed_dim != dim:
            raise ConfigError(
                f"{owner}: history feature {history[0].name!r} has embed_dim {history[0].embed_dim}, "
                f"item feature {self.item_feature.name!r} has {dim}; they must match"
            )
        self.output_dim = dim
        self.embedding = EmbeddingLayer(
            [*self.user_features, *self.item_features, *self.history_features, *self.neg_item_feature]
        )
        self.check_shared_negatives(self.item_feature, self.neg_feature)
        # torch-rechub's ``convert_user_weight``: [profile, interest] -> d, shared by the K interests.
        self.user_projection = nn.Linear(flat_dim(self.user_features) + dim, dim, bias=False)

    def extract_interests(self, seq: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return ``(B, K, D)`` interest vectors of the history embeddings ``(B, L, D)``."""
        raise NotImplementedError

    def active_interest_mask(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
        """Return a ``(B, K)`` bool mask of each user's active interests, or ``None`` (all active)."""
        return None

    def user_tower(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the L2-normalised interest embeddings ``(B, K, d)``; inactive interests are zero rows."""
        seq, mask = self.embedding.sequence(x, self.history_features[0])
        interests = self.extract_interests(seq, mask)
        if self.user_features:
            profile = self.embedding.flat(x, self.user_features)
            profile = profile.unsqueeze(1).expand(-1, self.interest_num, -1)
            interests = torch.cat([profile, interests], dim=-1)
        user = F.normalize(self.user_projection(interests), p=2, dim=-1)
        active = self.active_interest_mask(x)
        if active is not None:
            user = user * active.unsqueeze(-1).to(user.dtype)
        return user

    def item_tower(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the L2-normalised item id embeddings ``(N, d)``."""
        return self.id_embeddings(x, self.item_feature)

    def training_logits(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return ``(B, 1 + n_neg)`` logits of the label-aware interest against ``[positive, negatives]``."""
        user = self.user_tower(x)
        candidates = self.candidate_embeddings(x, self.item_feature, self.neg_feature)
        affinity = torch.einsum("bkd,bd->bk", user, candidates[:, 0])
        active = self.active_interest_mask(x)
        if active is not None:
            affinity = affinity.masked_fill(~active, float("-inf"))
        chosen = user[torch.arange(user.shape[0], device=user.device), affinity.argmax(dim=1)]
        return torch.einsum("bd,bnd->bn", chosen, candidates) / self.temperature

    @classmethod
    def feature_args(cls, groups: MatchFeatures, item_feature: str) -> dict[str, list[Feature]]:
        """Use the ``hist_*`` sequence as history, the item id, the ``neg_*`` sequence, the rest as profile.

        Other item-side features are not used: the item tower is the id embedding table.

        Raises:
            ConfigError: Without exactly one ``hist_*`` SequenceFeature or without the item id.
        """
        item = cls.require_item_id(groups, item_feature)
        if len(groups.history) != 1:
            found = ", ".join(fea.name for fea in groups.history) or "none"
            raise ConfigError(f"{cls.__name__} needs exactly one 'hist_*' SequenceFeature, found {found}")
        return {
            "user_features": list(groups.user),
            "history_features": list(groups.history),
            "item_features": [item],
            "neg_item_feature": list(groups.negatives),
        }
