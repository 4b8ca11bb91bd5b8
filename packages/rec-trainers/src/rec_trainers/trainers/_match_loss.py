"""Two-tower training losses: point-wise BCE, pair-wise BPR, list-wise softmax and in-batch softmax.

All take logits (scores before any sigmoid or softmax) and are written in their numerically
stable forms: BPR is ``softplus(neg - pos)`` (``-log sigmoid(pos - neg)`` without the
overflow), the softmax losses go through ``log_softmax``.

The in-batch softmax scores every user of a batch against every positive item of the
batch; the other users' positives are its negatives. They are drawn in proportion to
popularity, so a popular item is over-penalised; the log-Q correction (Yi et al., RecSys
2019) subtracts ``log q(item)``, the item's sampling probability, from its logits. A
batch's own duplicates (the same item positive for two users) are not negatives.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["bpr_loss", "in_batch_softmax_loss", "list_wise_loss", "point_wise_loss"]


def point_wise_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Return the mean BCE-with-logits of ``(B,)`` logits against 0/1 labels."""
    return F.binary_cross_entropy_with_logits(logits.float().reshape(-1), labels.float().reshape(-1))


def bpr_loss(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Return the mean BPR loss ``-log sigmoid(pos - neg)`` over pairs (``negative`` may be ``(B, K)``)."""
    positive = positive.float().reshape(positive.shape[0], -1)
    return F.softplus(negative.float().reshape(positive.shape[0], -1) - positive).mean()


def list_wise_loss(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Return the softmax cross-entropy of ``(B, 1 + K)`` logits whose column 0 is the positive."""
    logits = logits.float() / temperature
    return F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device))


def in_batch_softmax_loss(
    users: torch.Tensor, items: torch.Tensor, item_ids: torch.Tensor | None = None, *,
    temperature: float = 1.0, log_q: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return the softmax cross-entropy of each user's positive among the batch's positives.

    Args:
        users: ``(B, d)`` user embeddings.
        items: ``(B, d)`` embeddings of each user's positive item.
        item_ids: ``(B,)`` ids of those items: another row's copy of a user's positive is
            not counted as a negative. ``None`` treats every row's item as distinct.
        temperature: Logits are divided by it.
        log_q: ``(B,)`` log sampling probabilities of the items (log-Q correction), or ``None``.
    """
    logits = (users @ items.T).float() / temperature
    if log_q is not None:
        logits = logits - log_q.float().reshape(1, -1)
    if item_ids is not None:
        same = item_ids.reshape(-1, 1) == item_ids.reshape(1, -1)
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, float("-inf"))
    return F.cross_entropy(logits, torch.arange(logits.shape[0], device=logits.device))
