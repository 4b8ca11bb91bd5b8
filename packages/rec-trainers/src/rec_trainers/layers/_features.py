"""Check and group feature definitions for the layers and models (internal helpers)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Union

from rec_core.errors import ConfigError
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature

__all__ = [
    "Feature",
    "check_features",
    "check_pooled",
    "common_embed_dim",
    "dense_dim",
    "embedded",
    "flat_dim",
    "unique_features",
]

Feature = Union[SparseFeature, SequenceFeature, DenseFeature]

_FEATURE_TYPES = (SparseFeature, SequenceFeature, DenseFeature)


def check_features(features: Iterable[Feature], owner: str) -> list[Feature]:
    """Return ``features`` as a list, checking that every item is a feature definition.

    Args:
        features: Feature definitions from :mod:`rec_core.features`.
        owner: Name of the model or layer that receives them, used in messages.

    Raises:
        ConfigError: If ``features`` is not iterable or holds something else.
    """
    if isinstance(features, (str, bytes)) or not isinstance(features, Iterable):
        raise ConfigError(f"{owner}: expected a list of features, got {features!r}")
    result = list(features)
    for fea in result:
        if not isinstance(fea, _FEATURE_TYPES):
            raise ConfigError(f"{owner}: {fea!r} is not a feature (use SparseFeature, SequenceFeature or DenseFeature)")
    return result


def unique_features(features: Iterable[Feature], owner: str = "EmbeddingLayer") -> list[Feature]:
    """Return the features with repeats removed, keeping the first occurrence's order.

    A model may list one feature in two groups (WideDeep's wide and deep parts); that is
    one input column. Two *different* definitions under one name are a mistake.

    Raises:
        ConfigError: If two unequal features share a name.
    """
    seen: dict[str, Feature] = {}
    for fea in check_features(features, owner):
        other = seen.get(fea.name)
        if other is None:
            seen[fea.name] = fea
        elif other != fea:
            raise ConfigError(f"{owner}: two different definitions of feature {fea.name!r}: {other!r} and {fea!r}")
    return list(seen.values())


def embedded(features: Iterable[Feature]) -> list[SparseFeature | SequenceFeature]:
    """Return the features that are looked up in an embedding table (sparse and sequence)."""
    return [fea for fea in features if not isinstance(fea, DenseFeature)]


def dense_dim(features: Iterable[Feature]) -> int:
    """Return the total width of the dense values among ``features``."""
    return sum(fea.embed_dim for fea in features if isinstance(fea, DenseFeature))


def flat_dim(features: Iterable[Feature]) -> int:
    """Return the width of the flat concatenation of ``features`` (embeddings and dense values)."""
    return sum(int(fea.embed_dim or 0) for fea in features)


def check_pooled(features: Iterable[Feature], owner: str) -> None:
    """Check that no sequence feature asks for ``pooling="concat"`` where one vector is needed.

    Raises:
        ConfigError: Naming the feature and the model.
    """
    for fea in features:
        if isinstance(fea, SequenceFeature) and fea.pooling == "concat":
            raise ConfigError(
                f"{owner}: SequenceFeature {fea.name!r} has pooling='concat', which only attention "
                "models (DIN's history_features) accept; use pooling='mean' or 'sum'"
            )


def common_embed_dim(features: Iterable[Feature], owner: str) -> int:
    """Return the one ``embed_dim`` shared by the sparse and sequence features.

    Field-wise layers (FM, CIN, attention, bilinear) stack fields into one
    ``(B, num_fields, embed_dim)`` tensor, so the sizes must agree.

    Raises:
        ConfigError: If there is no such feature, or the sizes differ.
    """
    fields = embedded(features)
    if not fields:
        raise ConfigError(f"{owner} needs at least one SparseFeature or SequenceFeature")
    dims = {int(fea.embed_dim or 0) for fea in fields}
    if len(dims) > 1:
        detail = ", ".join(f"{fea.name}={fea.embed_dim}" for fea in fields)
        raise ConfigError(f"{owner} needs one embed_dim for all sparse and sequence features, got {detail}")
    return dims.pop()
