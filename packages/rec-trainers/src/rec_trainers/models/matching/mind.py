"""MIND: multi-interest user embeddings by capsule dynamic routing over the history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rec_core.errors import DataError
from rec_trainers.layers._batch import column
from rec_trainers.layers._features import Feature
from rec_trainers.layers.pooling import sequence_mask
from rec_trainers.models.matching._base import check_positive_int
from rec_trainers.models.matching._interest import MultiInterestModel, dynamic_routing

__all__ = ["MIND"]

ROUTING_ITERATIONS = 3


class MIND(MultiInterestModel):
    """Multi-Interest Network with Dynamic Routing (Li et al., CIKM 2019).

    The history embeddings go through one shared bilinear map and are routed to
    ``interest_num`` interest capsules by behaviour-to-interest dynamic routing (3
    passes, each behaviour's weight spread over the interests, padding masked out).
    Each interest is concatenated with the user profile embeddings, projected to the
    item width and L2-normalised.

    * ``mode="user"``/:meth:`user_tower`: ``(B, K, d)``;
    * ``mode="item"``/:meth:`item_tower`: ``(N, d)`` item id embeddings;
    * ``mode=None``: ``(B, 1 + n_neg)`` logits of the interest closest to the positive
      (label-aware attention, hard maximum) against ``[positive, negatives...]``
      divided by the temperature; the positive is column 0.

    For retrieval, :meth:`score_items` keeps each item's best interest. Unlike
    torch-rechub, whose MIND ignores ``temperature``, the training logits are divided
    by it (the default 1.0 changes nothing).

    Because the bilinear map is shared, the routing logits must start unequal to break
    the symmetry between interests. torch-rechub draws fresh random logits on every
    call (so a user's embedding changes between calls); here they are drawn once, per
    position, at construction (a buffer saved with the weights), so inference is
    deterministic.

    Args:
        user_features: Profile features appended to each interest (may be empty).
        history_features: One SequenceFeature of item ids (padding id 0), usually
            ``shared_with`` the item id.
        item_features: One SparseFeature, the item id.
        neg_item_feature: One SequenceFeature of negative item ids sharing the item
            table, or empty.
        max_length: Longest history accepted (sizes the initial routing logits).
        temperature: Divides the training logits.
        interest_num: Number of interests ``K`` (the upper bound with ``dynamic_interest``).
        dynamic_interest: Give each user ``K'_u = max(1, min(K, floor(log2 |history|)))``
            interests, as the paper; inactive interests are zero rows in
            :meth:`user_tower`, never chosen in training and skipped by :meth:`score_items`.

    ``from_features`` needs ``max_length``; defaults: ``temperature=0.05``,
    ``interest_num=4``, ``dynamic_interest=False``.

    Raises:
        ConfigError: For a wrong feature layout or option value.
    """

    default_params: ClassVar[Mapping[str, Any]] = {"temperature": 0.05, "interest_num": 4, "dynamic_interest": False}
    required_params: ClassVar[tuple[str, ...]] = ("max_length",)

    def __init__(
        self,
        user_features: Sequence[Feature],
        history_features: Sequence[Feature],
        item_features: Sequence[Feature],
        neg_item_feature: Sequence[Feature],
        max_length: int,
        temperature: float = 1.0,
        interest_num: int = 4,
        dynamic_interest: bool = False,
    ) -> None:
        super().__init__(
            "MIND", user_features, history_features, item_features, neg_item_feature, temperature, interest_num
        )
        self.max_length = check_positive_int("MIND", "max_length", max_length)
        self.dynamic_interest = bool(dynamic_interest)
        self.bilinear = nn.Linear(self.output_dim, self.output_dim, bias=False)
        self.register_buffer("routing_init", torch.randn(self.interest_num, self.max_length))

    def extract_interests(self, seq: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Route the history embeddings ``(B, L, D)`` to ``(B, K, D)`` interest capsules."""
        batch, length, _ = seq.shape
        if length > self.max_length:
            raise DataError(
                f"MIND: history {self.history_features[0].name!r} has length {length} > max_length {self.max_length}"
            )
        u_hat = self.bilinear(seq).unsqueeze(1).expand(-1, self.interest_num, -1, -1)
        logits = self.routing_init[:, :length].unsqueeze(0).expand(batch, -1, -1)
        return dynamic_routing(u_hat, mask, logits, ROUTING_ITERATIONS)

    def active_interest_mask(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
        """Return the ``(B, K)`` mask of each user's first ``K'_u`` interests, or ``None`` if not dynamic."""
        if not self.dynamic_interest:
            return None
        history = self.history_features[0]
        mask = sequence_mask(column(x, history.name), history.padding_idx)
        length = mask.sum(dim=1).clamp(min=1).float()
        k_user = torch.floor(torch.log2(length)).clamp(min=1, max=self.interest_num)
        return torch.arange(self.interest_num, device=mask.device).unsqueeze(0) < k_user.unsqueeze(1)
