"""Mixture-of-experts blocks: the softmax gate of MMOE and PLE's customized gate control (CGC)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from rec_core.errors import ConfigError

__all__ = ["CGC", "ExpertGate", "stack_experts"]


def stack_experts(experts: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Run every expert on ``x`` and stack the outputs into ``(B, n_expert, expert_dim)``."""
    return torch.stack([expert(x) for expert in experts], dim=1)


class ExpertGate(nn.Module):
    """Mix expert outputs with softmax weights computed from the gate's input (MMoE's gate).

    ``out = sum_k softmax(W x + b)_k * expert_k``.

    Args:
        input_dim: Width of the gate's input.
        n_expert: Number of experts it mixes.

    Shape:
        ``x (B, input_dim)``, ``experts (B, n_expert, D)``; output ``(B, D)``.
    """

    def __init__(self, input_dim: int, n_expert: int) -> None:
        super().__init__()
        if n_expert < 1:
            raise ConfigError(f"ExpertGate needs at least one expert, got n_expert={n_expert}")
        self.linear = nn.Linear(input_dim, n_expert)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """Return the mixing weights ``(B, n_expert)``; each row sums to 1."""
        return torch.softmax(self.linear(x), dim=-1)

    def forward(self, x: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
        """Return the gated sum of ``experts`` for the input ``x``."""
        return torch.bmm(self.weights(x).unsqueeze(1).to(experts.dtype), experts).squeeze(1)


class CGC(nn.Module):
    """One customized-gate-control level of PLE (Tang et al., RecSys 2020).

    Each task owns ``n_expert_specific`` experts and a gate over its own experts and the
    ``n_expert_shared`` shared experts. Below the top level a shared gate also mixes
    *all* experts into the input of the next level's shared experts.

    Args:
        n_task: Number of tasks.
        n_expert_specific: Experts per task (may be 0).
        n_expert_shared: Shared experts (at least 1).
        input_dim: Width of this level's inputs.
        make_expert: Builds one expert from its input width; every expert must expose
            ``output_dim`` (as :class:`~rec_trainers.layers.MLP` does).
        shared_gate: Whether to build the shared gate (every level but the last).

    Shape:
        Input: ``n_task + 1`` tensors ``(B, input_dim)`` — one per task, then the shared
        one. Output: ``n_task`` tensors ``(B, output_dim)``, plus the shared one when
        ``shared_gate`` is set.
    """

    def __init__(
        self,
        n_task: int,
        n_expert_specific: int,
        n_expert_shared: int,
        input_dim: int,
        make_expert: Callable[[int], nn.Module],
        shared_gate: bool,
    ) -> None:
        super().__init__()
        if n_expert_shared < 1:
            raise ConfigError(f"CGC needs at least one shared expert, got n_expert_shared={n_expert_shared}")
        self.n_task = n_task
        self.experts_specific = nn.ModuleList(
            nn.ModuleList(make_expert(input_dim) for _ in range(n_expert_specific)) for _ in range(n_task)
        )
        self.experts_shared = nn.ModuleList(make_expert(input_dim) for _ in range(n_expert_shared))
        self.output_dim = int(self.experts_shared[0].output_dim)
        self.gates_specific = nn.ModuleList(
            ExpertGate(input_dim, n_expert_specific + n_expert_shared) for _ in range(n_task)
        )
        n_all = n_task * n_expert_specific + n_expert_shared
        self.gate_shared = ExpertGate(input_dim, n_all) if shared_gate else None

    def forward(self, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Return each task's mixed experts, then (below the top level) the shared mix."""
        if len(inputs) != self.n_task + 1:
            raise ConfigError(f"CGC expects {self.n_task + 1} inputs (one per task, then shared), got {len(inputs)}")
        shared = stack_experts(self.experts_shared, inputs[-1])
        specific = [
            stack_experts(experts, x) if len(experts) else shared[:, :0]
            for experts, x in zip(self.experts_specific, inputs, strict=False)
        ]
        outs = [
            gate(x, torch.cat([own, shared], dim=1))
            for gate, x, own in zip(self.gates_specific, inputs, specific, strict=False)
        ]
        if self.gate_shared is not None:
            outs.append(self.gate_shared(inputs[-1], torch.cat([*specific, shared], dim=1)))
        return outs
