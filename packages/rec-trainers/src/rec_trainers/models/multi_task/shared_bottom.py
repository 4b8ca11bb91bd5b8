"""Shared-Bottom: one MLP shared by all tasks under one tower per task."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rec_trainers.layers._features import Feature, flat_dim
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.models.multi_task._base import (
    MultiTaskModel,
    build_hidden,
    build_towers,
    check_task_types,
    input_features,
    last_linear,
    trainable_parameters,
)

__all__ = ["SharedBottom"]


class SharedBottom(MultiTaskModel):
    """Feed shared embeddings through a shared bottom MLP into one tower per task (Caruana, 1997).

    ``forward(x)`` returns ``(B, n_task)``: **logits** for classification tasks (no
    sigmoid, unlike torch-rechub) and values for regression tasks.

    Args:
        features: Features of the model (sparse, sequence and dense).
        task_types: ``"classification"`` or ``"regression"`` per task.
        bottom_params: The shared MLP, e.g. ``{"dims": [256, 128], "dropout": 0.2}``;
            it has no output unit.
        tower_params_list: One tower MLP dict per task (each tower ends in one unit),
            or one dict for every tower.

    Shared parameters: the embeddings and the bottom MLP; last shared layer: the
    bottom's last ``nn.Linear``. ``from_features`` defaults:
    ``bottom_params={"dims": [256, 128], "dropout": 0.2}``,
    ``tower_params_list={"dims": [64], "dropout": 0.2}`` (for every task).
    """

    default_params: ClassVar[Mapping[str, Any]] = {
        "bottom_params": {"dims": [256, 128], "dropout": 0.2},
        "tower_params_list": {"dims": [64], "dropout": 0.2},
    }

    def __init__(
        self,
        features: Iterable[Feature],
        task_types: Sequence[str],
        bottom_params: Mapping[str, Any],
        tower_params_list: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    ) -> None:
        super().__init__()
        self.features = input_features("SharedBottom", features)
        self.task_types = check_task_types("SharedBottom", task_types)
        self.n_task = len(self.task_types)
        self.embedding = EmbeddingLayer(self.features)
        self.bottom_mlp = build_hidden("SharedBottom", flat_dim(self.features), bottom_params, "bottom_params")
        self.towers = build_towers("SharedBottom", self.bottom_mlp.output_dim, tower_params_list, self.n_task)

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the ``(B, n_task)`` logits / values for the batch ``x``."""
        hidden = self.bottom_mlp(self.embedding.flat(x, self.features))
        return torch.cat([tower(hidden) for tower in self.towers], dim=1)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Return the embeddings' and the bottom MLP's parameters."""
        return trainable_parameters(self.embedding, self.bottom_mlp)

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """Return the bottom MLP's last linear layer."""
        return trainable_parameters(last_linear(self.bottom_mlp))
