"""Embedding initializers with torch-rechub's names and call convention.

An initializer is a small value object: it holds its parameters and, when called as
``initializer(vocab_size, embed_dim)``, returns a freshly initialised
:class:`torch.nn.Embedding`. Features keep one as their ``initializer`` and call it from
``get_embedding_layer()``. Any callable with that signature works in its place.

Torch is imported only when an embedding is built, so importing feature definitions
stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rec_core.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = [
    "Pretrained",
    "RandomNormal",
    "RandomUniform",
    "XavierNormal",
    "XavierUniform",
]


@dataclass(frozen=True)
class RandomNormal:
    """Draw embedding weights from a normal distribution.

    Args:
        mean: Mean of the distribution.
        std: Standard deviation of the distribution.
    """

    mean: float = 0.0
    std: float = 1.0

    def __call__(self, vocab_size: int, embed_dim: int) -> torch.nn.Embedding:
        """Build a ``vocab_size x embed_dim`` embedding with normal weights."""
        import torch

        embed = torch.nn.Embedding(vocab_size, embed_dim)
        torch.nn.init.normal_(embed.weight, self.mean, self.std)
        return embed


@dataclass(frozen=True)
class RandomUniform:
    """Draw embedding weights uniformly from ``[minval, maxval)``.

    Args:
        minval: Lower bound of the range.
        maxval: Upper bound of the range.
    """

    minval: float = 0.0
    maxval: float = 1.0

    def __call__(self, vocab_size: int, embed_dim: int) -> torch.nn.Embedding:
        """Build a ``vocab_size x embed_dim`` embedding with uniform weights."""
        import torch

        embed = torch.nn.Embedding(vocab_size, embed_dim)
        torch.nn.init.uniform_(embed.weight, self.minval, self.maxval)
        return embed


@dataclass(frozen=True)
class XavierNormal:
    """Initialise embedding weights with Glorot's normal scheme.

    Args:
        gain: Scale factor; the standard deviation is
            ``gain * sqrt(2 / (vocab_size + embed_dim))``.
    """

    gain: float = 1.0

    def __call__(self, vocab_size: int, embed_dim: int) -> torch.nn.Embedding:
        """Build a ``vocab_size x embed_dim`` embedding with Xavier-normal weights."""
        import torch

        embed = torch.nn.Embedding(vocab_size, embed_dim)
        torch.nn.init.xavier_normal_(embed.weight, self.gain)
        return embed


@dataclass(frozen=True)
class XavierUniform:
    """Initialise embedding weights with Glorot's uniform scheme.

    Args:
        gain: Scale factor; the bound is ``gain * sqrt(6 / (vocab_size + embed_dim))``.
    """

    gain: float = 1.0

    def __call__(self, vocab_size: int, embed_dim: int) -> torch.nn.Embedding:
        """Build a ``vocab_size x embed_dim`` embedding with Xavier-uniform weights."""
        import torch

        embed = torch.nn.Embedding(vocab_size, embed_dim)
        torch.nn.init.xavier_uniform_(embed.weight, self.gain)
        return embed


@dataclass(frozen=True, eq=False, repr=False)
class Pretrained:
    """Start the embedding from given weights, frozen by default.

    Args:
        embedding_weight: A 2-D array-like (tensor, ndarray, nested lists) of shape
            ``(vocab_size, embed_dim)``; it is converted to a float32 tensor once.
        freeze: Keep the weights fixed during training.

    Raises:
        ConfigError: If the weights are not 2-D, or (when called) their shape differs
            from the feature's ``(vocab_size, embed_dim)``.
    """

    embedding_weight: Any
    freeze: bool = True
    _weight: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import torch

        weight = torch.as_tensor(self.embedding_weight, dtype=torch.float32)
        if weight.dim() != 2:
            raise ConfigError(
                f"Pretrained embedding weights must be 2-D (vocab_size, embed_dim), got shape {tuple(weight.shape)}"
            )
        object.__setattr__(self, "_weight", weight)

    @property
    def shape(self) -> tuple[int, int]:
        """Return ``(vocab_size, embed_dim)`` of the stored weights."""
        rows, cols = self._weight.shape
        return int(rows), int(cols)

    def __call__(self, vocab_size: int, embed_dim: int) -> torch.nn.Embedding:
        """Build an embedding holding a copy of the pretrained weights."""
        import torch

        if self.shape != (vocab_size, embed_dim):
            raise ConfigError(
                f"Pretrained weights have shape {self.shape}, but the feature needs ({vocab_size}, {embed_dim})"
            )
        return torch.nn.Embedding.from_pretrained(self._weight.clone(), freeze=self.freeze)

    def __repr__(self) -> str:
        return f"Pretrained(shape={self.shape}, freeze={self.freeze})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pretrained):
            return NotImplemented
        import torch

        return self.freeze == other.freeze and torch.equal(self._weight, other._weight)

    def __hash__(self) -> int:
        return hash((Pretrained, self.shape, self.freeze))
