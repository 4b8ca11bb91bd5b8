"""Look up the embeddings of a model's input features.

Input conventions, for every model in :mod:`rec_trainers.models`:

* a batch is a dict ``{feature name: tensor}``;
* a :class:`~rec_core.features.SparseFeature` column is a ``(B,)`` integer tensor;
* a :class:`~rec_core.features.SequenceFeature` column is a ``(B, L)`` integer tensor,
  padded on the right or left with the **padding id 0** (or the feature's ``padding_idx``
  when it sets one). Pooling and attention ignore padded positions; a row of padding
  only pools to a zero vector;
* a :class:`~rec_core.features.DenseFeature` column is a ``(B,)`` float tensor, or
  ``(B, embed_dim)`` for a vector-valued feature.

Each sparse or sequence feature gets its own ``nn.Embedding`` (one table per field was
faster on CPU than one concatenated table). Lookups always go through the module, so a
trainer may switch ``table.sparse = True`` for a sparse-gradient optimizer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

import torch
from torch import nn

from rec_core.errors import ConfigError, DataError
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
from rec_trainers.layers._batch import column, dense_value
from rec_trainers.layers._features import Feature, unique_features
from rec_trainers.layers.pooling import pool_sequence, sequence_mask

__all__ = ["EmbeddingLayer"]


class EmbeddingLayer(nn.Module):
    """Hold one embedding table per sparse/sequence feature and look features up.

    Tables are built fresh by each feature's ``build_embedding()`` (torch-rechub
    cached them on the feature objects, so two models could share weights by
    accident). A feature with ``shared_with="other"`` reuses the table of the feature
    named ``other`` (which must be among ``features``); a feature's ``padding_idx``
    row is zeroed and receives no gradient.

    :meth:`fields` and :meth:`flat` accept a ``cache`` dict: a model that needs a
    feature twice in one forward pass (DeepFM's FM and deep parts) passes the same
    dict to both calls and looks the feature up once.

    Args:
        features: The features this layer serves; repeats of one definition are fine.
        embed_dim: Build every table with this width and zero weights instead of the
            features' own initializers (used for first-order weights, ``embed_dim=1``).

    Raises:
        ConfigError: If a ``shared_with`` target is missing or its table does not fit.
    """

    def __init__(self, features: Iterable[Feature], embed_dim: int | None = None) -> None:
        super().__init__()
        self.features = unique_features(features)
        self.embed_dict = nn.ModuleDict()
        self._owner: dict[str, str] = {}
        by_name = {fea.name: fea for fea in self.features}
        for fea in self.features:
            if isinstance(fea, DenseFeature):
                continue
            if fea.shared_with is None:
                self.embed_dict[fea.name] = _build_table(fea, embed_dim)
                self._owner[fea.name] = fea.name
            else:
                self._owner[fea.name] = _resolve_owner(fea, by_name, check_dim=embed_dim is None)

    def table(self, feature: SparseFeature | SequenceFeature) -> nn.Embedding:
        """Return the embedding table that ``feature`` looks its ids up in."""
        try:
            return cast(nn.Embedding, self.embed_dict[self._owner[feature.name]])
        except KeyError:
            raise ConfigError(f"feature {feature.name!r} is not among this EmbeddingLayer's features") from None

    def pooled(
        self,
        x: Mapping[str, torch.Tensor],
        feature: SparseFeature | SequenceFeature,
        cache: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Return one ``(B, embed_dim)`` vector per sample: the id's embedding or the pooled sequence."""
        if cache is not None and feature.name in cache:
            return cache[feature.name]
        if isinstance(feature, SequenceFeature):
            if feature.pooling == "concat":
                raise ConfigError(f"SequenceFeature {feature.name!r} has pooling='concat' and cannot be pooled")
            emb, mask = self.sequence(x, feature)
            out = pool_sequence(emb, mask, feature.pooling)
        else:
            out = self.table(feature)(column(x, feature.name).reshape(-1).long())
        if cache is not None:
            cache[feature.name] = out
        return out

    def sequence(self, x: Mapping[str, torch.Tensor], feature: SequenceFeature) -> tuple[torch.Tensor, torch.Tensor]:
        """Return a sequence's raw embeddings ``(B, L, D)`` and its boolean mask ``(B, L)`` (True = real id)."""
        ids = column(x, feature.name).long()
        if ids.dim() != 2:
            raise DataError(f"SequenceFeature {feature.name!r} needs a (batch, seq_len) tensor, got {tuple(ids.shape)}")
        return self.table(feature)(ids), sequence_mask(ids, feature.padding_idx)

    def fields(
        self,
        x: Mapping[str, torch.Tensor],
        features: Iterable[Feature],
        cache: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Stack the sparse and pooled sequence embeddings into ``(B, num_fields, embed_dim)``.

        Dense features are skipped; all embedded features must share one ``embed_dim``.
        """
        embs = [self.pooled(x, fea, cache) for fea in features if not isinstance(fea, DenseFeature)]
        if not embs:
            raise ConfigError("fields() needs at least one SparseFeature or SequenceFeature")
        return torch.stack(embs, dim=1)

    def flat(
        self,
        x: Mapping[str, torch.Tensor],
        features: Iterable[Feature],
        cache: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Concatenate embeddings and dense values, in feature order, into ``(B, sum of dims)``."""
        parts = [
            dense_value(x, fea) if isinstance(fea, DenseFeature) else self.pooled(x, fea, cache) for fea in features
        ]
        if not parts:
            raise ConfigError("flat() needs at least one feature")
        return torch.cat(parts, dim=1)

    def forward(
        self, x: Mapping[str, torch.Tensor], features: Iterable[Feature] | None = None, squeeze_dim: bool = False
    ) -> torch.Tensor:
        """Return :meth:`flat` when ``squeeze_dim`` else :meth:`fields` (torch-rechub's call style)."""
        chosen = self.features if features is None else list(features)
        return self.flat(x, chosen) if squeeze_dim else self.fields(x, chosen)


def _build_table(feature: SparseFeature | SequenceFeature, embed_dim: int | None) -> nn.Embedding:
    if embed_dim is None:
        table = feature.build_embedding()
        if not isinstance(table, nn.Embedding):
            raise ConfigError(
                f"{type(feature).__name__} {feature.name!r}: its initializer returned {type(table).__name__}, "
                "expected torch.nn.Embedding"
            )
    else:
        table = nn.Embedding(feature.vocab_size, embed_dim)
        nn.init.zeros_(table.weight)
    if feature.padding_idx is not None:
        table.padding_idx = feature.padding_idx % feature.vocab_size
        with torch.no_grad():
            table.weight[table.padding_idx].zero_()
    return table


def _resolve_owner(feature: SparseFeature | SequenceFeature, by_name: dict[str, Feature], check_dim: bool) -> str:
    """Follow ``shared_with`` links to the feature that owns the table, checking that it fits."""
    kind = f"{type(feature).__name__} {feature.name!r}"
    target: Feature = feature
    for _ in range(len(by_name)):
        name = target.shared_with  # type: ignore[union-attr]
        if name not in by_name:
            raise ConfigError(
                f"{kind} shares the table of {name!r}, which is not among the features ({', '.join(sorted(by_name))})"
            )
        target = by_name[name]
        if isinstance(target, DenseFeature):
            raise ConfigError(f"{kind} shares with {name!r}, a DenseFeature, which has no embedding table")
        if target.shared_with is None:
            break
    else:
        raise ConfigError(f"{kind}: shared_with links form a cycle")
    if check_dim and target.embed_dim != feature.embed_dim:
        raise ConfigError(
            f"{kind} shares the table of {target.name!r} but has embed_dim={feature.embed_dim}, not {target.embed_dim}"
        )
    if feature.vocab_size > target.vocab_size:
        raise ConfigError(
            f"{kind} shares the table of {target.name!r} (vocab_size={target.vocab_size}) but declares "
            f"vocab_size={feature.vocab_size}"
        )
    return target.name
