"""AITM: sequential conversion tasks that pass information down the funnel by attention."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_trainers.layers._features import Feature, flat_dim
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.layers.transfer import AttentionTransfer
from rec_trainers.models.multi_task._base import (
    MultiTaskModel,
    build_hidden,
    build_towers,
    check_count,
    check_task_types,
    input_features,
    trainable_parameters,
)

__all__ = ["AITM"]


class AITM(MultiTaskModel):
    """Model the sequential dependence of multi-step conversions (Xi et al., KDD 2021).

    Task ``t`` (in funnel order: impression → click → … → purchase) has its own bottom
    MLP ``q_t = f_t(x)`` over the shared embeddings. From the second task on, the
    information ``p_{t-1} = g_{t-1}(z_{t-1})`` (a Linear + ReLU) of the previous task
    is merged with ``q_t`` by the adaptive information transfer module,
    ``z_t = AIT(p_{t-1}, q_t)`` (:class:`~rec_trainers.layers.AttentionTransfer`);
    ``z_1 = q_1``. Tower ``t`` maps ``z_t`` to task ``t``'s output.

    ``forward(x)`` returns ``(B, n_task)`` **logits** (all tasks are binary
    classifications; no sigmoid, unlike torch-rechub). The paper's behavioural
    expectation calibrator is available as :meth:`calibration_loss`; add
    ``alpha * model.calibration_loss(logits)`` to the task losses to use it
    (torch-rechub has no such term, and the MTL trainer does not add it).

    Args:
        features: Features of the model (sparse, sequence and dense).
        n_task: Number of (binary classification) tasks.
        bottom_params: Every task's bottom MLP, e.g. ``{"dims": [128, 64]}`` (no output unit).
        tower_params_list: One tower MLP dict per task, or one dict for every tower.

    Shared parameters: the embeddings — each bottom, info layer and transfer module
    belongs to one task (its output reaches the later tasks through the transfer
    chain, but not the earlier ones); the embeddings are also the last shared layer.
    ``from_features`` takes ``task_types`` of classification tasks only; defaults
    ``bottom_params={"dims": [128, 64], "dropout": 0.2}``,
    ``tower_params_list={"dims": [32], "dropout": 0.2}`` (for every task).
    """

    default_params: ClassVar[Mapping[str, Any]] = {
        "bottom_params": {"dims": [128, 64], "dropout": 0.2},
        "tower_params_list": {"dims": [32], "dropout": 0.2},
    }

    def __init__(
        self,
        features: Iterable[Feature],
        n_task: int,
        bottom_params: Mapping[str, Any],
        tower_params_list: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    ) -> None:
        super().__init__()
        self.features = input_features("AITM", features)
        self.n_task = check_count("AITM", "n_task", n_task, 1)
        self.task_types = ["classification"] * self.n_task
        input_dim = flat_dim(self.features)
        self.embedding = EmbeddingLayer(self.features)
        self.bottoms = nn.ModuleList(
            build_hidden("AITM", input_dim, bottom_params, "bottom_params") for _ in range(self.n_task)
        )
        dim = self.bottoms[0].output_dim
        self.info_gates = nn.ModuleList(nn.Sequential(nn.Linear(dim, dim), nn.ReLU()) for _ in range(self.n_task - 1))
        self.aits = nn.ModuleList(AttentionTransfer(dim) for _ in range(self.n_task - 1))
        self.towers = build_towers("AITM", dim, tower_params_list, self.n_task)

    @classmethod
    def constructor_args(cls, features: list[Feature], task_types: list[str], params: dict[str, Any]) -> dict[str, Any]:
        """Map ``task_types`` (classification only) onto ``n_task``."""
        types = check_task_types("AITM", task_types, only="classification")
        return {"features": features, "n_task": len(types), **params}

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the ``(B, n_task)`` logits for the batch ``x``."""
        emb = self.embedding.flat(x, self.features)
        z = self.bottoms[0](emb)
        outs = [self.towers[0](z)]
        for t in range(1, self.n_task):
            z = self.aits[t - 1](self.info_gates[t - 1](z), self.bottoms[t](emb))
            outs.append(self.towers[t](z))
        return torch.cat(outs, dim=1)

    @staticmethod
    def calibration_loss(logits: torch.Tensor) -> torch.Tensor:
        """Return the paper's behavioural expectation calibrator, unweighted.

        ``mean over the batch of sum_t max(σ(y_t) - σ(y_{t-1}), 0)``: it penalises a
        later funnel step predicted likelier than the step before it. The paper adds
        it to the task losses with a weight ``alpha``.

        Args:
            logits: ``(B, n_task)`` outputs of :meth:`forward`.

        Raises:
            ConfigError: If ``logits`` is not two-dimensional.
        """
        if logits.dim() != 2:
            raise ConfigError(f"AITM.calibration_loss expects (batch, n_task) logits, got {tuple(logits.shape)}")
        probs = torch.sigmoid(logits.float())
        return torch.relu(probs[:, 1:] - probs[:, :-1]).sum(dim=1).mean()

    def shared_parameters(self) -> list[nn.Parameter]:
        """Return the embeddings' parameters."""
        return trainable_parameters(self.embedding)

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """Return the embeddings' parameters (no other layer serves every task)."""
        return trainable_parameters(self.embedding)
