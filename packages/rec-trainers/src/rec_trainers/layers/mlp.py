"""Multi-layer perceptron and the activations the ranking models use (incl. DIN's Dice).

torch-rechub's ``mlp_params`` dicts map straight onto :class:`MLP`'s keyword arguments::

    MLP(input_dim, **{"dims": [256, 128], "dropout": 0.2, "activation": "relu"})
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rec_core.errors import ConfigError

__all__ = ["ACTIVATIONS", "MLP", "Dice", "activation_layer"]

ACTIVATIONS = ("dice", "gelu", "leakyrelu", "prelu", "relu", "sigmoid", "silu", "tanh")


class Dice(nn.Module):
    """Apply the data-adaptive activation of the DIN paper.

    ``f(s) = p(s) * s + (1 - p(s)) * alpha * s`` with ``p(s) = sigmoid(normalised s)``;
    ``s`` is normalised with mini-batch statistics while training and running
    averages in evaluation (a batch norm without affine parameters).

    Args:
        num_features: Size of the last input dimension.
        eps: Added to the variance for numerical stability.

    Shape:
        Input ``(..., num_features)``, output the same. Like any batch norm, training
        needs more than one row per batch.
    """

    def __init__(self, num_features: int, eps: float = 1e-8) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(num_features, eps=eps, affine=False)
        self.alpha = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the activated input."""
        p = torch.sigmoid(self.norm(x.reshape(-1, x.shape[-1])).reshape(x.shape))
        return x * (p + (1.0 - p) * self.alpha)


def activation_layer(activation: str | type[nn.Module], num_features: int) -> nn.Module:
    """Return a fresh activation module.

    Args:
        activation: A name from :data:`ACTIVATIONS` (case-insensitive) or an
            ``nn.Module`` subclass built without arguments.
        num_features: Width of the activated tensor (used by Dice).

    Raises:
        ConfigError: For an unknown name.
    """
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation()
    name = str(activation).lower()
    if name == "dice":
        return Dice(num_features)
    if name == "prelu":
        return nn.PReLU()
    simple: dict[str, type[nn.Module]] = {
        "gelu": nn.GELU,
        "leakyrelu": nn.LeakyReLU,
        "relu": nn.ReLU,
        "sigmoid": nn.Sigmoid,
        "silu": nn.SiLU,
        "tanh": nn.Tanh,
    }
    if name not in simple:
        raise ConfigError(f"unknown activation {activation!r} (available: {', '.join(ACTIVATIONS)})")
    return simple[name]()


class MLP(nn.Module):
    """Stack ``Linear -> [BatchNorm] -> activation -> [Dropout]`` blocks, optionally ending in one output unit.

    Args:
        input_dim: Width of the input.
        dims: Widths of the hidden layers.
        dropout: Dropout probability after each hidden layer (0 disables it).
        activation: Activation name or module class, see :func:`activation_layer`.
        output_layer: Append ``Linear(dims[-1], 1)`` so the output is one logit.
        batch_norm: Add a batch norm after each hidden linear layer.

    Shape:
        Input ``(B, input_dim)``; output ``(B, 1)`` with the output layer, else
        ``(B, output_dim)`` where ``output_dim`` is ``dims[-1]`` (``input_dim`` if
        ``dims`` is empty).
    """

    def __init__(
        self,
        input_dim: int,
        dims: Sequence[int] = (),
        dropout: float = 0.0,
        activation: str | type[nn.Module] = "relu",
        output_layer: bool = True,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"MLP dropout must be in [0, 1), got {dropout!r}")
        layers: list[nn.Module] = []
        width = int(input_dim)
        for dim in dims:
            if int(dim) < 1:
                raise ConfigError(f"MLP layer sizes must be positive, got dims={list(dims)}")
            layers.append(nn.Linear(width, int(dim)))
            if batch_norm:
                layers.append(nn.BatchNorm1d(int(dim)))
            layers.append(activation_layer(activation, int(dim)))
            if dropout > 0:
                layers.append(nn.Dropout(float(dropout)))
            width = int(dim)
        if output_layer:
            layers.append(nn.Linear(width, 1))
        self.output_dim = 1 if output_layer else width
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the network's output for a ``(B, input_dim)`` input."""
        return self.mlp(x)
