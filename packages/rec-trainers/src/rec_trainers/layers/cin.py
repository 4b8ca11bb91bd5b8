"""Compressed Interaction Network (xDeepFM): explicit vector-wise feature crosses."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError

__all__ = ["CIN"]


class CIN(nn.Module):
    """Cross field embeddings vector-wise, layer by layer, and sum-pool each layer into a logit.

    Layer ``k`` forms every product ``h_i * x0_j`` of its input maps ``h`` (``H_{k-1}``
    of them) with the raw fields ``x0`` (``num_fields``), then compresses the
    ``H_{k-1} * num_fields`` products to ``cin_size[k]`` maps by a learned weighted
    sum (a 1x1 convolution) and a ReLU. Each layer's maps are summed over the
    embedding dimension; a linear layer turns the pooled values into one logit.

    Args:
        input_dim: Number of fields ``num_fields`` (torch-rechub's name).
        cin_size: Number of feature maps per layer.
        split_half: Feed only half of each hidden layer's maps to the next layer and
            pool the other half (the last layer pools all); sizes must then be even.

    Shape:
        Input ``(B, num_fields, embed_dim)``; output ``(B, 1)``.

    Raises:
        ConfigError: If ``cin_size`` is empty, or odd where ``split_half`` splits it.
    """

    def __init__(self, input_dim: int, cin_size: Sequence[int], split_half: bool = True) -> None:
        super().__init__()
        sizes = [int(size) for size in cin_size]
        if not sizes or min(sizes) < 1:
            raise ConfigError(f"CIN needs at least one positive layer size, got cin_size={list(cin_size)}")
        self.split_half = split_half
        self.layers = nn.ModuleList()
        self.sizes = sizes
        prev, pooled = input_dim, 0
        for index, size in enumerate(sizes):
            self.layers.append(nn.Linear(input_dim * prev, size))
            if split_half and index < len(sizes) - 1:
                if size % 2:
                    raise ConfigError(f"CIN with split_half needs even hidden layer sizes, got cin_size={sizes}")
                prev = size // 2
            else:
                prev = size
            pooled += prev
        self.fc = nn.Linear(pooled, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the CIN logit."""
        batch, _, dim = x.shape
        hidden = x
        pooled = []
        for index, layer in enumerate(self.layers):
            # (B, H, D) x (B, m, D) -> (B, D, H * m): all vector-wise products, per embedding position.
            products = torch.einsum("bhd,bmd->bdhm", hidden, x).reshape(batch, dim, -1)
            maps = F.relu(layer(products))  # (B, D, size)
            if self.split_half and index < len(self.layers) - 1:
                nxt, out = maps.split(self.sizes[index] // 2, dim=-1)
            else:
                nxt = out = maps
            hidden = nxt.transpose(1, 2)
            pooled.append(out.sum(dim=1))
        return self.fc(torch.cat(pooled, dim=1))
