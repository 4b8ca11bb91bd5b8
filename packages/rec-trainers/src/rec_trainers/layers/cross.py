"""Cross networks of DCN and DCN-V2: explicit, bounded-degree feature crosses.

All take the flat input ``x0`` of shape ``(B, input_dim)`` and return the same shape.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rec_core.errors import ConfigError

__all__ = ["CrossNetMix", "CrossNetV2", "CrossNetwork"]


def _check_layers(owner: str, num_layers: int) -> None:
    if num_layers < 1:
        raise ConfigError(f"{owner} needs at least one cross layer, got num_layers={num_layers}")


class CrossNetwork(nn.Module):
    """Apply DCN's cross layers ``x_{l+1} = x0 * (w_l · x_l) + b_l + x_l``.

    Each layer adds one degree of crossing with only ``2 * input_dim`` parameters.

    Args:
        input_dim: Width of the flat input.
        num_layers: Number of cross layers.
    """

    def __init__(self, input_dim: int, num_layers: int) -> None:
        super().__init__()
        _check_layers("CrossNetwork", num_layers)
        self.num_layers = num_layers
        bound = 1.0 / math.sqrt(input_dim)
        self.w = nn.Parameter(torch.empty(num_layers, input_dim).uniform_(-bound, bound))
        self.b = nn.Parameter(torch.zeros(num_layers, input_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the crossed features."""
        x0 = x
        for layer in range(self.num_layers):
            x = x0 * (x @ self.w[layer]).unsqueeze(1) + self.b[layer] + x
        return x


class CrossNetV2(nn.Module):
    """Apply DCN-V2's full-rank cross layers ``x_{l+1} = x0 * (W_l x_l + b_l) + x_l``.

    Args:
        input_dim: Width of the flat input.
        num_layers: Number of cross layers.
    """

    def __init__(self, input_dim: int, num_layers: int) -> None:
        super().__init__()
        _check_layers("CrossNetV2", num_layers)
        layers = [nn.Linear(input_dim, input_dim) for _ in range(num_layers)]
        for layer in layers:
            nn.init.zeros_(layer.bias)
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the crossed features."""
        x0 = x
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x


class CrossNetMix(nn.Module):
    """Apply DCN-V2's mixture of low-rank cross experts.

    Expert ``e`` of layer ``l`` computes ``x0 * (U tanh(C tanh(V^T x_l)) + b_l)``, with
    ``U, V`` of shape ``(input_dim, low_rank)``; a softmax gate over ``x_l`` mixes the
    experts and the result is added to ``x_l``. Cheaper than :class:`CrossNetV2` when
    ``low_rank << input_dim``.

    Args:
        input_dim: Width of the flat input.
        num_layers: Number of cross layers.
        low_rank: Rank of each expert's projection.
        num_experts: Number of experts per layer.
    """

    def __init__(self, input_dim: int, num_layers: int = 2, low_rank: int = 32, num_experts: int = 4) -> None:
        super().__init__()
        _check_layers("CrossNetMix", num_layers)
        if low_rank < 1 or num_experts < 1:
            raise ConfigError(f"CrossNetMix needs low_rank >= 1 and num_experts >= 1, got {low_rank}, {num_experts}")
        self.num_layers = num_layers
        shape = (num_layers, num_experts, input_dim, low_rank)
        std = math.sqrt(2.0 / (input_dim + low_rank))
        self.u = nn.Parameter(torch.randn(shape) * std)
        self.v = nn.Parameter(torch.randn(shape) * std)
        self.c = nn.Parameter(torch.randn(num_layers, num_experts, low_rank, low_rank) * math.sqrt(1.0 / low_rank))
        self.bias = nn.Parameter(torch.zeros(num_layers, input_dim))
        self.gating = nn.Linear(input_dim, num_experts, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the crossed features."""
        x0 = x
        for layer in range(self.num_layers):
            low = torch.tanh(torch.einsum("bd,edr->ber", x, self.v[layer]))
            low = torch.tanh(torch.einsum("ber,ers->bes", low, self.c[layer]))
            experts = x0.unsqueeze(1) * (torch.einsum("ber,edr->bed", low, self.u[layer]) + self.bias[layer])
            gates = torch.softmax(self.gating(x), dim=-1)
            x = (gates.unsqueeze(-1) * experts).sum(dim=1) + x
        return x
