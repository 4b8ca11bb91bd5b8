"""Declare the input features of a model: sparse ids, dense values and id sequences.

The classes keep torch-rechub's names, argument order and defaults, so a torch-rechub
script ports by changing its imports only::

    from rec_core.features import DenseFeature, SequenceFeature, SparseFeature

    dense = [DenseFeature(f"I{i}") for i in range(1, 14)]
    sparse = [SparseFeature(f"C{i}", vocab_size=1000) for i in range(1, 27)]
    hist = SequenceFeature("hist_item", vocab_size=5000, pooling="mean", shared_with="item")

They are light value objects: equal when their settings are equal, validated on
construction (a bad value raises :class:`~rec_core.errors.ConfigError` naming the
feature), and free of torch until an embedding is built.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rec_core.errors import ConfigError
from rec_core.initializers import RandomNormal

if TYPE_CHECKING:
    import torch

__all__ = [
    "DenseFeature",
    "SequenceFeature",
    "SparseFeature",
    "feature_from_dict",
    "feature_to_dict",
    "get_auto_embedding_dim",
]

POOLINGS = ("mean", "sum", "concat")

# torch-rechub's default: a tiny normal spread keeps early FM/cross terms near zero.
_DEFAULT_INITIALIZER = RandomNormal(0.0, 0.0001)


def get_auto_embedding_dim(num_classes: int) -> int:
    """Return the embedding size suggested for a vocabulary: ``floor(6 * n ** 0.25)``.

    The rule comes from the Deep & Cross Network paper (ADKDD'17) and is the one
    torch-rechub applies when ``embed_dim`` is left out.

    Args:
        num_classes: Number of distinct ids (the vocabulary size).

    Returns:
        The embedding dimension, e.g. 18 for a vocabulary of 100.
    """
    return math.floor(6 * num_classes**0.25)


def _check_name(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{kind} name must be a non-empty string, got {name!r}")
    return name


def _check_int(kind: str, name: str, arg: str, value: Any, minimum: int | None = None) -> int:
    """Return ``value`` as an ``int`` (numpy integers accepted), checking its lower bound."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ConfigError(f"{kind} {name!r}: {arg} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{kind} {name!r}: {arg} must be >= {minimum}, got {number}")
    return number


def _check_embedding_args(feature: SparseFeature | SequenceFeature) -> None:
    """Validate and normalise the arguments shared by sparse and sequence features."""
    kind = type(feature).__name__
    name = _check_name(kind, feature.name)
    feature.vocab_size = _check_int(kind, name, "vocab_size", feature.vocab_size, 1)
    if feature.embed_dim is None:
        feature.embed_dim = get_auto_embedding_dim(feature.vocab_size)
    else:
        feature.embed_dim = _check_int(kind, name, "embed_dim", feature.embed_dim, 1)
    if feature.shared_with is not None:
        if not isinstance(feature.shared_with, str) or not feature.shared_with.strip():
            raise ConfigError(f"{kind} {name!r}: shared_with must be a feature name, got {feature.shared_with!r}")
        if feature.shared_with == name:
            raise ConfigError(f"{kind} {name!r}: a feature cannot share with itself")
    if feature.padding_idx is not None:
        idx = _check_int(kind, name, "padding_idx", feature.padding_idx)
        if not -feature.vocab_size <= idx < feature.vocab_size:
            raise ConfigError(
                f"{kind} {name!r}: padding_idx {idx} is outside the vocabulary (vocab_size={feature.vocab_size})"
            )
        feature.padding_idx = idx
    if not callable(feature.initializer):
        raise ConfigError(
            f"{kind} {name!r}: initializer must be callable as "
            f"initializer(vocab_size, embed_dim), got {feature.initializer!r}"
        )


class _EmbeddingMixin:
    """Build and cache the embedding table of a sparse or sequence feature."""

    name: str
    vocab_size: int
    embed_dim: int | None  # always an int once __post_init__ has run
    shared_with: str | None
    initializer: Callable[[int, int], torch.nn.Embedding]

    def build_embedding(self) -> torch.nn.Embedding:
        """Return a new embedding table made by this feature's initializer.

        Prefer this in new model code: every call gives fresh weights, so two models
        built from the same feature list never share parameters by accident.
        """
        dim = get_auto_embedding_dim(self.vocab_size) if self.embed_dim is None else self.embed_dim
        return self.initializer(self.vocab_size, dim)

    def get_embedding_layer(self) -> torch.nn.Embedding:
        """Return this feature's embedding table, building it on the first call.

        Like torch-rechub, the table is cached on the feature: every model built from
        this feature object afterwards gets the *same* module (and weights). Use
        :meth:`build_embedding` for an independent table.
        """
        embed = self.__dict__.get("_embedding")
        if embed is None:
            embed = self.build_embedding()
            self.__dict__["_embedding"] = embed
        return embed

    def __hash__(self) -> int:
        # Consistent with the field-wise __eq__: equal features have equal names.
        return hash((type(self).__name__, self.name))

    def _shape_repr(self) -> str:
        text = f"<{type(self).__name__} {self.name} with Embedding shape ({self.vocab_size}, {self.embed_dim})"
        if self.shared_with is not None:
            text += f" shared with {self.shared_with}"
        return text


@dataclass(repr=False)
class SparseFeature(_EmbeddingMixin):
    """A categorical feature holding one id per sample, looked up in an embedding table.

    Args:
        name: Column name of the ids in the input batch.
        vocab_size: Number of distinct ids; ids must lie in ``[0, vocab_size)``.
        embed_dim: Embedding size; ``None`` picks :func:`get_auto_embedding_dim`.
        shared_with: Name of another feature whose embedding table this one reuses.
        padding_idx: Id that stands for "missing"; models mask it out.
        initializer: Callable ``(vocab_size, embed_dim) -> nn.Embedding``, see
            :mod:`rec_core.initializers`.

    Raises:
        ConfigError: If a value is invalid (the message names the feature).
    """

    name: str
    vocab_size: int
    embed_dim: int | None = None
    shared_with: str | None = None
    padding_idx: int | None = None
    initializer: Callable[[int, int], torch.nn.Embedding] = field(default=_DEFAULT_INITIALIZER)

    def __post_init__(self) -> None:
        _check_embedding_args(self)

    __hash__ = _EmbeddingMixin.__hash__

    def __repr__(self) -> str:
        return self._shape_repr() + ">"


@dataclass(repr=False)
class SequenceFeature(_EmbeddingMixin):
    """A padded sequence or multi-hot set of ids, embedded and then pooled.

    Input values are a 2-D ``(batch, seq_len)`` id tensor; pad sequences to one length
    before training.

    Args:
        name: Column name of the id sequences in the input batch.
        vocab_size: Number of distinct ids; ids must lie in ``[0, vocab_size)``.
        embed_dim: Embedding size; ``None`` picks :func:`get_auto_embedding_dim`.
        pooling: How to reduce the sequence: ``"mean"``, ``"sum"`` or ``"concat"``
            (keep every position).
        shared_with: Name of another feature whose embedding table this one reuses.
        padding_idx: Id used for padding; models mask it out when pooling.
        initializer: Callable ``(vocab_size, embed_dim) -> nn.Embedding``.

    Raises:
        ConfigError: If a value is invalid (the message names the feature).
    """

    name: str
    vocab_size: int
    embed_dim: int | None = None
    pooling: str = "mean"
    shared_with: str | None = None
    padding_idx: int | None = None
    initializer: Callable[[int, int], torch.nn.Embedding] = field(default=_DEFAULT_INITIALIZER)

    def __post_init__(self) -> None:
        _check_embedding_args(self)
        if self.pooling not in POOLINGS:
            raise ConfigError(
                f"SequenceFeature {self.name!r}: pooling must be one of "
                f"{', '.join(map(repr, POOLINGS))}, got {self.pooling!r}"
            )

    __hash__ = _EmbeddingMixin.__hash__

    def __repr__(self) -> str:
        return self._shape_repr() + f", pooling {self.pooling}>"


@dataclass(repr=False)
class DenseFeature:
    """A numeric feature: one float per sample, or a vector of ``embed_dim`` floats.

    Args:
        name: Column name of the values in the input batch.
        embed_dim: Width of the value; 1 for a scalar, more for a pre-computed vector.

    Raises:
        ConfigError: If the name is empty or ``embed_dim < 1``.
    """

    name: str
    embed_dim: int = 1

    def __post_init__(self) -> None:
        _check_name("DenseFeature", self.name)
        self.embed_dim = _check_int("DenseFeature", self.name, "embed_dim", self.embed_dim, 1)

    def __hash__(self) -> int:
        return hash(("DenseFeature", self.name))

    def __repr__(self) -> str:
        if self.embed_dim == 1:
            return f"<DenseFeature {self.name}>"
        return f"<DenseFeature {self.name} of dim {self.embed_dim}>"


_KINDS: dict[str, type] = {"sparse": SparseFeature, "sequence": SequenceFeature, "dense": DenseFeature}
_SAVED_FIELDS = ("name", "vocab_size", "embed_dim", "pooling", "shared_with", "padding_idx")


def feature_to_dict(feature: SparseFeature | SequenceFeature | DenseFeature) -> dict[str, Any]:
    """Return a JSON-ready description of ``feature`` (the initializer is not kept).

    Used to save the feature definitions of a run so a model can be rebuilt later.
    """
    kind = next(k for k, cls in _KINDS.items() if type(feature) is cls)
    values = {name: getattr(feature, name) for name in _SAVED_FIELDS if hasattr(feature, name)}
    return {"kind": kind, **values}


def feature_from_dict(data: dict[str, Any]) -> SparseFeature | SequenceFeature | DenseFeature:
    """Rebuild a feature saved by :func:`feature_to_dict`.

    Raises:
        ConfigError: for an unknown kind or invalid values.
    """
    values = dict(data)
    kind = values.pop("kind", None)
    if kind not in _KINDS:
        raise ConfigError(f"unknown feature kind {kind!r} in {data!r} (expected sparse, sequence or dense)")
    return _KINDS[kind](**values)
