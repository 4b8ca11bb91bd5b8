"""ComiRec: multi-interest user embeddings by self-attention (SA) or dynamic routing (DR).

The ComiRec paper defines the two extractors as two variants of one model, and torch-rechub
keeps them in one module; so does rec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import DataError
from rec_trainers.layers._features import Feature
from rec_trainers.models.matching._base import check_positive_int
from rec_trainers.models.matching._interest import MultiInterestModel, dynamic_routing

__all__ = ["ComirecDR", "ComirecSA"]

ROUTING_ITERATIONS = 3


class ComirecSA(MultiInterestModel):
    """ComiRec with a self-attentive interest extractor (Cen et al., KDD 2020).

    Each of the ``interest_num`` attention heads weighs the history positions by
    ``softmax_L(w2_k · tanh(W1 e_l))`` (padding masked out) and sums the history
    embeddings; each interest is concatenated with the user profile embeddings and
    projected to the item width.

    * ``mode="user"``/:meth:`user_tower`: ``(B, K, d)`` L2-normalised interests;
    * ``mode="item"``/:meth:`item_tower`: ``(N, d)`` L2-normalised item id embeddings;
    * ``mode=None``: ``(B, 1 + n_neg)`` logits of the interest closest to the positive
      (label-aware attention, hard maximum) against ``[positive, negatives...]``
      divided by the temperature; the positive is column 0.

    For retrieval, :meth:`score_items` keeps each item's best interest. Unlike
    torch-rechub, whose ComiRec models ignore ``temperature``, the training logits are
    divided by it (the default 1.0 changes nothing).

    Args:
        user_features: Profile features appended to each interest (may be empty).
        history_features: One SequenceFeature of item ids (padding id 0), usually
            ``shared_with`` the item id.
        item_features: One SparseFeature, the item id.
        neg_item_feature: One SequenceFeature of negative item ids sharing the item
            table, or empty.
        temperature: Divides the training logits.
        interest_num: Number of interests ``K``.

    ``from_features`` defaults: ``temperature=0.05``, ``interest_num=4``.

    Raises:
        ConfigError: For a wrong feature layout or option value.
    """

    default_params: ClassVar[Mapping[str, Any]] = {"temperature": 0.05, "interest_num": 4}

    def __init__(
        self,
        user_features: Sequence[Feature],
        history_features: Sequence[Feature],
        item_features: Sequence[Feature],
        neg_item_feature: Sequence[Feature],
        temperature: float = 1.0,
        interest_num: int = 4,
    ) -> None:
        super().__init__(
            "ComirecSA", user_features, history_features, item_features, neg_item_feature, temperature, interest_num
        )
        hidden = 4 * self.output_dim
        self.attention_hidden = nn.Linear(self.output_dim, hidden, bias=False)
        self.attention_heads = nn.Linear(hidden, self.interest_num, bias=False)

    def extract_interests(self, seq: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pool the history embeddings ``(B, L, D)`` into ``(B, K, D)`` with ``K`` attention heads."""
        scores = self.attention_heads(torch.tanh(self.attention_hidden(seq)))
        real = mask.unsqueeze(-1)
        # A finite fill (not -inf) keeps an all-padding history at zero weights instead of NaN.
        weights = F.softmax(scores.masked_fill(~real, torch.finfo(scores.dtype).min), dim=1) * real
        return torch.einsum("blk,bld->bkd", weights, seq)


class ComirecDR(MultiInterestModel):
    """ComiRec with a dynamic-routing interest extractor (Cen et al., KDD 2020).

    Every history position ``l`` and interest ``k`` has its own bilinear map
    ``W[l, k]``; the mapped behaviours are routed to ``interest_num`` capsules by
    dynamic routing (3 passes, routing logits starting at zero, each behaviour's weight
    spread over the interests, padding masked out). Each interest is concatenated with
    the user profile embeddings and projected to the item width.

    * ``mode="user"``/:meth:`user_tower`: ``(B, K, d)`` L2-normalised interests;
    * ``mode="item"``/:meth:`item_tower`: ``(N, d)`` L2-normalised item id embeddings;
    * ``mode=None``: ``(B, 1 + n_neg)`` logits of the interest closest to the positive
      (label-aware attention, hard maximum) against ``[positive, negatives...]``
      divided by the temperature; the positive is column 0.

    For retrieval, :meth:`score_items` keeps each item's best interest. Unlike
    torch-rechub, whose ComiRec models ignore ``temperature``, the training logits are
    divided by it (the default 1.0 changes nothing).

    Args:
        user_features: Profile features appended to each interest (may be empty).
        history_features: One SequenceFeature of item ids (padding id 0), usually
            ``shared_with`` the item id.
        item_features: One SparseFeature, the item id.
        neg_item_feature: One SequenceFeature of negative item ids sharing the item
            table, or empty.
        max_length: Longest history accepted (one bilinear map per position).
        temperature: Divides the training logits.
        interest_num: Number of interests ``K``.

    ``from_features`` needs ``max_length``; defaults: ``temperature=0.05``, ``interest_num=4``.

    Raises:
        ConfigError: For a wrong feature layout or option value.
    """

    default_params: ClassVar[Mapping[str, Any]] = {"temperature": 0.05, "interest_num": 4}
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
    ) -> None:
        super().__init__(
            "ComirecDR", user_features, history_features, item_features, neg_item_feature, temperature, interest_num
        )
        self.max_length = check_positive_int("ComirecDR", "max_length", max_length)
        dim = self.output_dim
        self.bilinear = nn.Parameter(torch.empty(self.max_length, self.interest_num, dim, dim))
        nn.init.normal_(self.bilinear, std=1.0)

    def extract_interests(self, seq: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Route the history embeddings ``(B, L, D)`` to ``(B, K, D)`` interest capsules."""
        batch, length, _ = seq.shape
        if length > self.max_length:
            raise DataError(
                f"ComirecDR: history {self.history_features[0].name!r} has length {length} "
                f"> max_length {self.max_length}"
            )
        u_hat = torch.einsum("lkde,ble->bkld", self.bilinear[:length], seq)
        logits = seq.new_zeros(batch, self.interest_num, length)
        return dynamic_routing(u_hat, mask, logits, ROUTING_ITERATIONS)
