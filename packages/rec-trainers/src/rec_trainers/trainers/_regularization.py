"""torch-rechub's ``regularization_params``: L1/L2 penalties on embeddings and dense weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["Regularization", "RegularizationSettings", "embedding_parameters"]


@dataclass
class RegularizationSettings:
    """torch-rechub's ``regularization_params`` as config fields (mixed into trainer configs).

    Attributes:
        embedding_l1: L1 coefficient on every embedding table (sum of absolute values), added to
            the loss every step.
        embedding_l2: L2 coefficient on every embedding table (sum of squares), added to the loss
            every step.
        dense_l1: L1 coefficient on every other weight, added to the loss every step.
        dense_l2: L2 coefficient on every other weight, added to the loss every step.
    """

    embedding_l1: float = 0.0
    embedding_l2: float = 0.0
    dense_l1: float = 0.0
    dense_l2: float = 0.0


def embedding_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Return the weights of every ``nn.Embedding``/``nn.EmbeddingBag`` in ``model``."""
    seen: dict[int, nn.Parameter] = {}
    for module in model.modules():
        if isinstance(module, (nn.Embedding, nn.EmbeddingBag)) and module.weight.requires_grad:
            seen[id(module.weight)] = module.weight
    return list(seen.values())


class Regularization:
    """Add ``l1 * sum|w| + l2 * sum w^2`` over embedding and dense weights to a loss.

    With every coefficient at zero (the default) it adds nothing and costs nothing.
    """

    def __init__(self, model: nn.Module, config: Any) -> None:
        self.embedding = embedding_parameters(model)
        embedding_ids = {id(p) for p in self.embedding}
        self.dense = [p for p in model.parameters() if p.requires_grad and id(p) not in embedding_ids]
        self.terms = [
            (params, l1, l2)
            for params, l1, l2 in (
                (self.embedding, config.embedding_l1, config.embedding_l2),
                (self.dense, config.dense_l1, config.dense_l2),
            )
            if params and (l1 or l2)
        ]

    def penalty(self) -> torch.Tensor | None:
        """Return the current penalty, or ``None`` when regularization is off."""
        total: torch.Tensor | None = None
        for params, l1, l2 in self.terms:
            for p in params:
                term = (l1 * p.abs().sum() if l1 else 0) + (l2 * p.square().sum() if l2 else 0)
                total = term if total is None else total + term
        return total

    def add_to(self, loss: torch.Tensor) -> torch.Tensor:
        """Return ``loss`` plus the penalty (``loss`` itself when regularization is off)."""
        penalty = self.penalty()
        return loss if penalty is None else loss + penalty
