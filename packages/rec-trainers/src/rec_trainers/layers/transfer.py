"""AITM's adaptive information transfer between the towers of sequential tasks."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["AttentionTransfer"]


class AttentionTransfer(nn.Module):
    """Merge the information passed on by the previous task with a task's own representation.

    The AIT module of Xi et al., KDD 2021: for the two inputs ``u in {p, q}`` (``p``
    transferred from task ``t-1``, ``q`` the task's own tower input)::

        w_u = softmax_u(<h2(u), h3(u)> / sqrt(dim))
        z   = sum_u w_u * h1(u)

    with ``h1``, ``h2``, ``h3`` bias-free linear maps (value, query, key).

    Args:
        dim: Width of both inputs and of the output.

    Shape:
        ``transferred (B, dim)``, ``own (B, dim)``; output ``(B, dim)``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = int(dim)
        self.value = nn.Linear(dim, dim, bias=False)
        self.query = nn.Linear(dim, dim, bias=False)
        self.key = nn.Linear(dim, dim, bias=False)

    def weights(self, transferred: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
        """Return the attention weights ``(B, 2)`` of ``[transferred, own]``."""
        return self._weights(torch.stack([transferred, own], dim=1))

    def forward(self, transferred: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
        """Return the merged representation ``z``."""
        u = torch.stack([transferred, own], dim=1)
        return (self._weights(u).unsqueeze(-1) * self.value(u)).sum(dim=1)

    def _weights(self, u: torch.Tensor) -> torch.Tensor:
        scores = (self.query(u) * self.key(u)).sum(dim=-1) / math.sqrt(self.dim)
        return torch.softmax(scores, dim=1)
