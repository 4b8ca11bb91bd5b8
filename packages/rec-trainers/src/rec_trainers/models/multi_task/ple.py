"""PLE: stacked customized gate control levels with task-specific and shared experts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rec_trainers.layers._features import Feature, flat_dim
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.layers.moe import CGC
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

__all__ = ["PLE"]


class PLE(MultiTaskModel):
    """Extract task-specific and shared knowledge progressively, level by level (Tang et al., RecSys 2020).

    Each of the ``n_level`` CGC levels (:class:`~rec_trainers.layers.CGC`) gives every
    task its own experts plus a gate over them and the shared experts; below the top
    level a shared gate mixes all experts into the next level's shared input. Task
    ``k``'s tower reads the top level's task-``k`` output.

    ``forward(x)`` returns ``(B, n_task)``: **logits** for classification tasks (no
    sigmoid, unlike torch-rechub) and values for regression tasks.

    Args:
        features: Features of the model (sparse, sequence and dense).
        task_types: ``"classification"`` or ``"regression"`` per task.
        n_level: Number of CGC levels (1 = the CGC model of the paper).
        n_expert_specific: Experts per task and level (may be 0).
        n_expert_shared: Shared experts per level (at least 1).
        expert_params: Every expert's MLP, e.g. ``{"dims": [128, 64]}`` (no output unit).
        tower_params_list: One tower MLP dict per task, or one dict for every tower.

    Shared parameters: the embeddings, every level's shared experts and the shared
    gates (task-specific experts, task gates and towers are not shared); last shared
    layer: the last ``nn.Linear`` of each shared expert of the top level.
    ``from_features`` defaults: ``n_level=2``, ``n_expert_specific=2``,
    ``n_expert_shared=2``, ``expert_params={"dims": [128, 64], "dropout": 0.2}``,
    ``tower_params_list={"dims": [32], "dropout": 0.2}`` (for every task).
    """

    default_params: ClassVar[Mapping[str, Any]] = {
        "n_level": 2,
        "n_expert_specific": 2,
        "n_expert_shared": 2,
        "expert_params": {"dims": [128, 64], "dropout": 0.2},
        "tower_params_list": {"dims": [32], "dropout": 0.2},
    }

    def __init__(
        self,
        features: Iterable[Feature],
        task_types: Sequence[str],
        n_level: int,
        n_expert_specific: int,
        n_expert_shared: int,
        expert_params: Mapping[str, Any],
        tower_params_list: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    ) -> None:
        super().__init__()
        self.features = input_features("PLE", features)
        self.task_types = check_task_types("PLE", task_types)
        self.n_task = len(self.task_types)
        self.n_level = check_count("PLE", "n_level", n_level, 1)
        n_specific = check_count("PLE", "n_expert_specific", n_expert_specific, 0)
        n_shared = check_count("PLE", "n_expert_shared", n_expert_shared, 1)
        self.embedding = EmbeddingLayer(self.features)

        def make_expert(input_dim: int) -> nn.Module:
            return build_hidden("PLE", input_dim, expert_params, "expert_params")

        levels: list[CGC] = []
        input_dim = flat_dim(self.features)
        for level in range(self.n_level):
            shared_gate = level < self.n_level - 1
            levels.append(CGC(self.n_task, n_specific, n_shared, input_dim, make_expert, shared_gate))
            input_dim = levels[-1].output_dim
        self.cgc_layers = nn.ModuleList(levels)
        self.towers = build_towers("PLE", input_dim, tower_params_list, self.n_task)

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the ``(B, n_task)`` logits / values for the batch ``x``."""
        emb = self.embedding.flat(x, self.features)
        outs = [emb] * (self.n_task + 1)
        for level in self.cgc_layers:
            outs = level(outs)
        return torch.cat([tower(out) for tower, out in zip(self.towers, outs, strict=True)], dim=1)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Return the embeddings', the shared experts' and the shared gates' parameters."""
        shared: list[nn.Module] = [self.embedding]
        for level in self.cgc_layers:
            shared.append(level.experts_shared)
            if level.gate_shared is not None:
                shared.append(level.gate_shared)
        return trainable_parameters(*shared)

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """Return the last linear layer of every shared expert of the top level."""
        top = self.cgc_layers[-1]
        return trainable_parameters(*(last_linear(expert) for expert in top.experts_shared))
