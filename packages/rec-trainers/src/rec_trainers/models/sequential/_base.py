"""The contract every next-item model of task ``seq`` follows, and what they share.

A sequential model reads a user's history as a left-padded ``(B, L)`` LongTensor of item
ids (0 = padding, the most recent item last) and returns one state per position:

* :meth:`SequentialModel.encode` -> ``(B, L, d)``: position ``t`` summarises the items up to
  ``t`` (causal models) and predicts the item after it;
* :meth:`SequentialModel.item_embeddings` -> ``(n_items, d)``: the output table the states
  are scored against (dot product); row 0 is padding and never ranked;
* :meth:`SequentialModel.query_states` -> ``(B, d)``: the state that ranks the next item of
  each history (by default the last position's);
* :meth:`SequentialModel.training_inputs`: what the model is trained on, given the input
  rows and their next-item targets (identity for causal models; BERT4Rec masks items);
* ``forward(history)`` -> ``(B, L, n_items)`` logits, as torch-rechub's sequence models
  (``forward(history, target=...)`` is the training path, see :meth:`SequentialModel.forward`).

The trainer never materialises ``forward``'s logits during training: it scores the
non-padding states against :meth:`item_embeddings` in chunks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import nn

from rec_core.errors import ConfigError

__all__ = ["ITEM_FEATURE", "SequentialModel", "catalogue_size", "check_heads", "check_positive", "check_rate"]

ITEM_FEATURE = "item"
"""The feature of a ``seq`` data set whose vocabulary is the item catalogue (0 = padding)."""


class SequentialModel(nn.Module):
    """Base of the ``seq`` models: states per position, scored against an item table.

    Subclasses set :attr:`n_items` (catalogue size, padding included) and :attr:`max_len`
    and implement :meth:`encode` and :meth:`item_embeddings`.
    """

    n_items: int
    max_len: int
    padding_invariant: ClassVar[bool] = False
    """Whether a history's states are the same however much padding precedes it; the trainer
    then batches histories of similar length together and trims the common padding away."""

    @classmethod
    def from_features(cls, features: Iterable[Any], **params: Any) -> SequentialModel:
        """Build from a ``seq`` data set's features: the ``item`` feature gives the catalogue size.

        Raises:
            ConfigError: The data set has no ``item`` feature.
        """
        return cls(n_items=catalogue_size(features, cls.__name__), **params)

    def encode(self, history: torch.Tensor) -> torch.Tensor:
        """Return the ``(B, L, d)`` states of the left-padded histories ``(B, L)``."""
        raise NotImplementedError

    def item_embeddings(self) -> torch.Tensor:
        """Return the ``(n_items, d)`` table the states are scored against (row 0: padding)."""
        raise NotImplementedError

    def query_states(self, history: torch.Tensor) -> torch.Tensor:
        """Return the ``(B, d)`` states that rank each history's next item."""
        return self.encode(history)[:, -1]

    def training_inputs(self, history: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(inputs, labels)`` to train on: ``labels[b, t]`` is the item state ``t`` must rank first.

        ``target[b, t]`` is the item that followed ``history[b, t]`` (0 where there is none).
        Causal models train on the histories as they are.
        """
        return history, target

    def forward(
        self, history: torch.Tensor, time_diffs: torch.Tensor | None = None, *, target: torch.Tensor | None = None
    ) -> Any:
        """Return ``(B, L, n_items)`` next-item logits, or with ``target`` the training triple.

        Args:
            history: ``(B, L)`` left-padded item ids.
            time_diffs: Accepted for torch-rechub's ``model(seq_tokens, seq_time_diffs)``
                calls; models without time features ignore it.
            target: ``(B, L)`` next items of ``history`` (0: none). When given, return
                ``(states, labels, items)``: the ``(P, d)`` states of the positions with a
                label after :meth:`training_inputs`, their ``(P,)`` labels and the item table.
                Training goes through ``forward`` so that DistributedDataParallel sees it.
        """
        if target is None:
            return self.encode(history) @ self.item_embeddings().T
        inputs, labels = self.training_inputs(history, target)
        states = self.encode(inputs)
        chosen = labels.ne(0)
        return states[chosen], labels[chosen], self.item_embeddings()

    def scores(self, history: torch.Tensor) -> torch.Tensor:
        """Return ``(B, n_items)`` scores of every item as each history's next one."""
        return self.query_states(history) @ self.item_embeddings().T


def catalogue_size(features: Iterable[Any], model: str) -> int:
    """Return the vocabulary size of the ``item`` feature (the catalogue, padding included).

    Raises:
        ConfigError: There is no ``item`` feature.
    """
    for feature in features:
        if getattr(feature, "name", None) == ITEM_FEATURE:
            return int(feature.vocab_size)
    raise ConfigError(f"{model} needs an '{ITEM_FEATURE}' feature (a seq data set's item catalogue)")


def check_positive(model: str, name: str, value: Any) -> int:
    """Return ``value`` if it is a positive integer, else raise ``ConfigError`` naming ``model.name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{model} {name} must be a positive integer, got {value!r}")
    return value


def check_heads(model: str, num_heads: int, embed_dim: int) -> None:
    """Raise ``ConfigError`` unless ``num_heads`` divides ``embed_dim`` (multi-head attention splits it)."""
    if embed_dim % num_heads:
        raise ConfigError(f"{model} num_heads ({num_heads}) must divide embed_dim ({embed_dim})")


def check_rate(model: str, name: str, value: Any) -> float:
    """Return ``value`` if it is a number in ``[0, 1)``, else raise ``ConfigError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{model} {name} must be a number in [0, 1), got {value!r}")
    return float(value)


def padding_mask(history: torch.Tensor) -> torch.Tensor:
    """Return the ``(B, L)`` bool mask of real (non-padding) positions."""
    return history.ne(0)


def causal_mask(length: int, device: torch.device) -> torch.Tensor:
    """Return the ``(L, L)`` bool mask that forbids attending to later positions (``True`` = blocked)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(1)
