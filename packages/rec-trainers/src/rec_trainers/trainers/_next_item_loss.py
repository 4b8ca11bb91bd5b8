"""Next-item losses: full softmax cross-entropy (chunked), sampled softmax and BCE with negatives.

Every loss takes the states of the positions that have a target, ``states`` ``(P, d)``,
their target items ``labels`` ``(P,)`` and the item table ``items`` ``(n_items, d)``
(row 0 is padding: never a target, never a negative, excluded from the softmax).

The full softmax never holds more than ``memory_budget`` bytes of logits: past that, the
positions are scored in chunks whose logits are recomputed in the backward pass
(activation checkpointing), so training a 1M-item catalogue costs one extra matmul,
not ``P × n_items`` floats.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from rec_core.errors import ConfigError

__all__ = ["LOSS_TYPES", "next_item_loss"]

LOSS_TYPES = ("cross_entropy", "sampled_softmax", "bce")
"""Training losses of next-item models (torch-rechub's ``nce`` is ``cross_entropy`` with a temperature)."""
BYTES_PER_LOGIT = 12
"""A float32 logit, its softmax and its gradient."""


def next_item_loss(
    loss_type: str, states: torch.Tensor, labels: torch.Tensor, items: torch.Tensor, *,
    temperature: float = 1.0, num_negatives: int = 100, memory_budget: int = 256 * 2**20,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Return the mean loss over the ``P`` positions (module docs).

    Args:
        loss_type: One of :data:`LOSS_TYPES`.
        states: ``(P, d)`` states of the positions with a target.
        labels: ``(P,)`` target items (``1..n_items - 1``).
        items: ``(n_items, d)`` item table.
        temperature: Logits are divided by it.
        num_negatives: Items drawn uniformly per batch (sampled softmax) or per position (BCE).
        memory_budget: Bytes of full-softmax logits scored at once.
        label_smoothing: As in ``torch.nn.functional.cross_entropy`` (full softmax only).

    Raises:
        ConfigError: An unknown loss type.
    """
    if loss_type not in LOSS_TYPES:
        raise ConfigError(f"unknown loss_type {loss_type!r} (choose from {', '.join(LOSS_TYPES)})")
    if len(labels) == 0:
        return states.sum() * 0.0
    states = states / temperature if temperature != 1.0 else states
    if loss_type == "cross_entropy":
        return _full_softmax(states, labels, items, memory_budget, label_smoothing)
    negatives = torch.randint(1, items.shape[0], _negative_shape(loss_type, len(labels), num_negatives),
                              device=labels.device)
    if loss_type == "sampled_softmax":
        return _sampled_softmax(states, labels, items, negatives)
    return _bce(states, labels, items, negatives)


def _negative_shape(loss_type: str, positions: int, num_negatives: int) -> tuple[int, ...]:
    return (num_negatives,) if loss_type == "sampled_softmax" else (positions, num_negatives)


def _full_softmax(states: torch.Tensor, labels: torch.Tensor, items: torch.Tensor, budget: int,
                  smoothing: float) -> torch.Tensor:
    rows = max(1, budget // (items.shape[0] * BYTES_PER_LOGIT))
    if len(labels) <= rows:
        return _softmax_sum(states, labels, items, smoothing) / len(labels)
    total = states.new_zeros(())
    for start in range(0, len(labels), rows):
        part = slice(start, start + rows)
        total = total + checkpoint(_softmax_sum, states[part], labels[part], items, smoothing, use_reentrant=False)
    return total / len(labels)


def _softmax_sum(states: torch.Tensor, labels: torch.Tensor, items: torch.Tensor, smoothing: float) -> torch.Tensor:
    # Column 0 (padding) is left out of the softmax altogether: targets are 1..n-1.
    logits = (states @ items[1:].T).float()
    return F.cross_entropy(logits, labels - 1, reduction="sum", label_smoothing=smoothing)


def _sampled_softmax(states: torch.Tensor, labels: torch.Tensor, items: torch.Tensor,
                     negatives: torch.Tensor) -> torch.Tensor:
    positive = (states * items[labels]).sum(-1, keepdim=True)
    negative = states @ items[negatives].T
    negative = negative.masked_fill(negatives.unsqueeze(0) == labels.unsqueeze(1), -math.inf)  # not the target
    logits = torch.cat([positive, negative], dim=1).float()
    return F.cross_entropy(logits, torch.zeros_like(labels))


def _bce(states: torch.Tensor, labels: torch.Tensor, items: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    positive = (states * items[labels]).sum(-1).float()
    negative = torch.einsum("pd,pkd->pk", states, items[negatives]).float()
    keep = (negatives != labels.unsqueeze(1)).float()
    loss = F.binary_cross_entropy_with_logits(positive, torch.ones_like(positive), reduction="sum")
    loss = loss + (F.binary_cross_entropy_with_logits(negative, torch.zeros_like(negative), reduction="none")
                   * keep).sum() / negatives.shape[1]
    return loss / len(labels)
