"""MMoE: shared experts mixed by one softmax gate per task."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rec_trainers.layers._features import Feature, flat_dim
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.layers.moe import ExpertGate, stack_experts
from rec_trainers.models.multi_task._base import (
    MultiTaskModel,
    build_hidden,
    build_towers,
    check_count,
    check_task_types,
    input_features,
    last_linear,
    trainable_parameters,
)

__all__ = ["MMOE"]


class MMOE(MultiTaskModel):
    """Mix shared expert MLPs with one softmax gate per task (Ma et al., KDD 2018).

    Every expert reads the concatenated embeddings; task ``k``'s gate weighs the
    experts by ``softmax(W_k x)`` and its tower maps the mixture to one output.

    ``forward(x)`` returns ``(B, n_task)``: **logits** for classification tasks (no
    sigmoid, unlike torch-rechub) and values for regression tasks.

    Args:
        features: Features of the model (sparse, sequence and dense).
        task_types: ``"classification"`` or ``"regression"`` per task.
        n_expert: Number of shared experts.
        expert_params: Every expert's MLP, e.g. ``{"dims": [128, 64]}`` (no output unit).
        tower_params_list: One tower MLP dict per task, or one dict for every tower.

    Shared parameters: the embeddings and the experts (the gates and towers are
    task-specific); last shared layer: every expert's last ``nn.Linear``.
    ``from_features`` defaults: ``n_expert=4``,
    ``expert_params={"dims": [128, 64], "dropout": 0.2}``,
    ``tower_params_list={"dims": [32], "dropout": 0.2}`` (for every task).
    """

    default_params: ClassVar[Mapping[str, Any]] = {
        "n_expert": 4,
        "expert_params": {"dims": [128, 64], "dropout": 0.2},
        "tower_params_list": {"dims": [32], "dropout": 0.2},
    }

    def __init__(
        self,
        features: Iterable[Feature],
        task_types: Sequence[str],
        n_expert: int,
        expert_params: Mapping[str, Any],
        tower_params_list: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    ) -> None:
        super().__init__()
        self.features = input_features("MMOE", features)
        self.task_types = check_task_types("MMOE", task_types)
        self.n_task = len(self.task_types)
        self.n_expert = check_count("MMOE", "n_expert", n_expert, 1)
        input_dim = flat_dim(self.features)
        self.embedding = EmbeddingLayer(self.features)
        self.experts = nn.ModuleList(
            build_hidden("MMOE", input_dim, expert_params, "expert_params") for _ in range(self.n_expert)
        )
        self.gates = nn.ModuleList(ExpertGate(input_dim, self.n_expert) for _ in range(self.n_task))
        self.towers = build_towers("MMOE", self.experts[0].output_dim, tower_params_list, self.n_task)

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the ``(B, n_task)`` logits / values for the batch ``x``."""
        emb = self.embedding.flat(x, self.features)
        experts = stack_experts(self.experts, emb)
        return torch.cat([tower(gate(emb, experts)) for gate, tower in zip(self.gates, self.towers, strict=True)], 1)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Return the embeddings' and the experts' parameters."""
        return trainable_parameters(self.embedding, self.experts)

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """Return the last linear layer of every expert."""
        return trainable_parameters(*(last_linear(expert) for expert in self.experts))
