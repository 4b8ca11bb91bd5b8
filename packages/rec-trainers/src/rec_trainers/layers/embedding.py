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

``set_embedding_layout("fused")`` stacks the tables of each width in one
:class:`~rec_trainers.layers.fused.FusedEmbedding` with a row offset per field, so that the
sparse fields of a :meth:`EmbeddingLayer.fields`/:meth:`EmbeddingLayer.flat` call are one
gather (faster on a GPU), and a mean- or sum-pooled sequence (multi-hot) is looked up and
pooled by one ``embedding_bag``; values (up to summation order), gradients and checkpoints
(saved under the per-field names) are the same in both layouts. The trainers choose the layout from the device
(``TrainingConfig.embedding_layout``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import torch
from torch import nn

from rec_core.errors import ConfigError, DataError
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
from rec_trainers.layers._batch import column, dense_value
from rec_trainers.layers._features import Feature, unique_features
from rec_trainers.layers.fused import FusedEmbedding
from rec_trainers.layers.pooling import PADDING_ID, pool_sequence, sequence_mask

__all__ = ["EMBEDDING_LAYOUTS", "EmbeddingLayer"]

EMBEDDING_LAYOUTS = ("per-field", "fused")


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

    The layout (:meth:`set_embedding_layout`) is ``"per-field"`` (one ``nn.Embedding`` per
    table, in ``embed_dict``) or ``"fused"`` (the plain tables of each width stacked in one
    ``FusedEmbedding`` in ``fused_tables``; tables with ``sparse``, ``max_norm`` or
    ``scale_grad_by_freq`` and custom table classes stay per field). The state dict always
    holds the per-field names, so a checkpoint loads into either layout.

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
        self.fused_tables = nn.ModuleDict()
        self._fused_in: dict[str, str] = {}  # table owner -> name of the FusedEmbedding holding its rows
        self.register_state_dict_post_hook(_save_per_field)
        self.register_load_state_dict_pre_hook(_load_per_field)

    # -- layout -----------------------------------------------------------------------------
    @property
    def layout(self) -> str:
        """``"fused"`` when some tables live in a :class:`FusedEmbedding`, else ``"per-field"``."""
        return "fused" if self._fused_in else "per-field"

    def set_embedding_layout(self, layout: str) -> None:
        """Switch to the ``"per-field"`` or ``"fused"`` layout, keeping every weight.

        Build the optimizer after switching: the parameters are new tensors.

        Raises:
            ConfigError: For another layout name.
        """
        if layout not in EMBEDDING_LAYOUTS:
            raise ConfigError(f"embedding layout must be one of {', '.join(EMBEDDING_LAYOUTS)} (got {layout!r})")
        if layout == "fused":
            self._fuse()
        else:
            self._unfuse()

    def _fuse(self) -> None:
        groups: dict[tuple[Any, ...], list[str]] = {}
        for owner, module in self.embed_dict.items():
            table = cast(nn.Embedding, module)
            special = table.sparse or table.max_norm is not None or table.scale_grad_by_freq
            if type(table) is not nn.Embedding or special:
                continue
            weight = table.weight
            key = (table.embedding_dim, weight.dtype, weight.device, weight.requires_grad)
            groups.setdefault(key, []).append(owner)
        for (dim, _, _, requires_grad), owners in groups.items():
            if len(owners) < 2:
                continue
            tables = [cast(nn.Embedding, self.embed_dict[owner]) for owner in owners]
            fused = FusedEmbedding([t.weight for t in tables],
                                   [(o, t.padding_idx) for o, t in zip(owners, tables, strict=True)])
            fused.weight.requires_grad_(requires_grad)
            name = f"dim{dim}_{len(self.fused_tables)}"
            self.fused_tables[name] = fused
            for owner in owners:
                del self.embed_dict[owner]
                self._fused_in[owner] = name

    def _unfuse(self) -> None:
        for name, module in list(self.fused_tables.items()):
            fused = cast(FusedEmbedding, module)
            for owner, part in fused.parts.items():
                weight = fused.part_weight(owner).detach().clone()
                table = nn.Embedding(part.rows, fused.embedding_dim, padding_idx=part.padding_idx, _weight=weight,
                                     device=weight.device, dtype=weight.dtype)
                table.weight.requires_grad_(fused.weight.requires_grad)
                self.embed_dict[owner] = table
                del self._fused_in[owner]
            del self.fused_tables[name]

    # -- lookups ------------------------------------------------------------------------------
    def owner(self, feature: SparseFeature | SequenceFeature) -> str:
        """Return the name of the table ``feature`` looks its ids up in (``shared_with`` followed)."""
        try:
            return self._owner[feature.name]
        except KeyError:
            raise ConfigError(f"feature {feature.name!r} is not among this EmbeddingLayer's features") from None

    def table(self, feature: SparseFeature | SequenceFeature) -> nn.Embedding:
        """Return the embedding table that ``feature`` looks its ids up in (per-field layout).

        Raises:
            ConfigError: If the feature is unknown, or its table is part of a fused table.
        """
        owner = self.owner(feature)
        if owner in self._fused_in:
            raise ConfigError(f"feature {feature.name!r} has no table of its own in the fused embedding layout; "
                              "call set_embedding_layout('per-field') first")
        return cast(nn.Embedding, self.embed_dict[owner])

    def _lookup(self, feature: SparseFeature | SequenceFeature, ids: torch.Tensor) -> torch.Tensor:
        owner = self.owner(feature)
        if owner in self._fused_in:
            return cast(FusedEmbedding, self.fused_tables[self._fused_in[owner]]).lookup(ids, [owner])
        return cast(nn.Embedding, self.embed_dict[owner])(ids)

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
            owner = self.owner(feature)
            if owner in self._fused_in and feature.pooling in ("mean", "sum"):  # lookup and pooling in one kernel
                fused = cast(FusedEmbedding, self.fused_tables[self._fused_in[owner]])
                padding = PADDING_ID if feature.padding_idx is None else feature.padding_idx
                out = fused.pooled(_sequence_ids(x, feature), owner, feature.pooling, padding)
            else:
                emb, mask = self.sequence(x, feature)
                out = pool_sequence(emb, mask, feature.pooling)
        else:
            out = self._lookup(feature, column(x, feature.name).reshape(-1).long())
        if cache is not None:
            cache[feature.name] = out
        return out

    def sequence(self, x: Mapping[str, torch.Tensor], feature: SequenceFeature) -> tuple[torch.Tensor, torch.Tensor]:
        """Return a sequence's raw embeddings ``(B, L, D)`` and its boolean mask ``(B, L)`` (True = real id)."""
        ids = _sequence_ids(x, feature)
        return self._lookup(feature, ids), sequence_mask(ids, feature.padding_idx)

    def fields(
        self,
        x: Mapping[str, torch.Tensor],
        features: Iterable[Feature],
        cache: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Stack the sparse and pooled sequence embeddings into ``(B, num_fields, embed_dim)``.

        Dense features are skipped; all embedded features must share one ``embed_dim``.
        """
        embs = self._embed(x, [fea for fea in features if not isinstance(fea, DenseFeature)], cache)
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
        features = list(features)
        pooled = iter(self._embed(x, [fea for fea in features if not isinstance(fea, DenseFeature)], cache))
        parts = [dense_value(x, fea) if isinstance(fea, DenseFeature) else next(pooled) for fea in features]
        if not parts:
            raise ConfigError("flat() needs at least one feature")
        return torch.cat(parts, dim=1)

    def _embed(
        self,
        x: Mapping[str, torch.Tensor],
        features: list[SparseFeature | SequenceFeature],
        cache: dict[str, torch.Tensor] | None,
    ) -> list[torch.Tensor]:
        """Return :meth:`pooled` of each feature; the sparse fields of one fused table are one gather."""
        if not self._fused_in:  # per-field layout: one lookup per feature
            return [self.pooled(x, fea, cache) for fea in features]
        found: dict[str, torch.Tensor] = {}
        gathered: dict[str, list[SparseFeature]] = {}
        queued: set[str] = set()
        for fea in features:
            if fea.name in found or fea.name in queued:
                continue
            owner = self.owner(fea)
            if isinstance(fea, SparseFeature) and owner in self._fused_in and not (cache and fea.name in cache):
                gathered.setdefault(self._fused_in[owner], []).append(fea)
                queued.add(fea.name)
            else:
                found[fea.name] = self.pooled(x, fea, cache)
        for name, group in gathered.items():
            ids = torch.stack([column(x, fea.name).reshape(-1).long() for fea in group], dim=1)
            rows = cast(FusedEmbedding, self.fused_tables[name]).lookup(ids, [self.owner(fea) for fea in group])
            for k, fea in enumerate(group):
                found[fea.name] = rows[:, k]
                if cache is not None:
                    cache[fea.name] = rows[:, k]
        return [found[fea.name] for fea in features]

    def forward(
        self, x: Mapping[str, torch.Tensor], features: Iterable[Feature] | None = None, squeeze_dim: bool = False
    ) -> torch.Tensor:
        """Return :meth:`flat` when ``squeeze_dim`` else :meth:`fields` (torch-rechub's call style)."""
        chosen = self.features if features is None else list(features)
        return self.flat(x, chosen) if squeeze_dim else self.fields(x, chosen)


def _sequence_ids(x: Mapping[str, torch.Tensor], feature: SequenceFeature) -> torch.Tensor:
    ids = column(x, feature.name).long()
    if ids.dim() != 2:
        raise DataError(f"SequenceFeature {feature.name!r} needs a (batch, seq_len) tensor, got {tuple(ids.shape)}")
    return ids


def _save_per_field(module: nn.Module, state: dict[str, Any], prefix: str, local_metadata: Any) -> None:
    """State-dict hook: store a fused table's rows under the per-field names."""
    layer = cast(EmbeddingLayer, module)
    for name, fused_module in layer.fused_tables.items():
        fused = cast(FusedEmbedding, fused_module)
        weight = state.pop(f"{prefix}fused_tables.{name}.weight")
        for owner, part in fused.parts.items():
            state[f"{prefix}embed_dict.{owner}.weight"] = weight[part.offset : part.offset + part.rows]


def _load_per_field(module: nn.Module, state: dict[str, Any], prefix: str, local_metadata: Any, strict: bool,
                    missing_keys: list[str], unexpected_keys: list[str], error_msgs: list[str]) -> None:
    """Load-state-dict pre-hook: stack per-field rows into the fused tables that hold them.

    A field absent from ``state`` keeps its current rows and is reported missing under its
    per-field name (so ``strict=False`` loads the others); a field of the wrong size is a
    size mismatch under its per-field name.
    """
    layer = cast(EmbeddingLayer, module)
    for name, fused_module in layer.fused_tables.items():
        fused = cast(FusedEmbedding, fused_module)
        target = f"{prefix}fused_tables.{name}.weight"
        if target in state:
            continue  # already stacked
        parts = []
        for owner, part in fused.parts.items():
            key = f"{prefix}embed_dict.{owner}.weight"
            value = state.pop(key, None)
            if value is None:
                missing_keys.append(key)
                value = fused.part_weight(owner).detach()
            elif tuple(value.shape) != (part.rows, fused.embedding_dim):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} from "
                                  f"checkpoint, the shape in current model is "
                                  f"{torch.Size((part.rows, fused.embedding_dim))}.")
                value = fused.part_weight(owner).detach()
            parts.append(value.to(fused.weight.device, fused.weight.dtype))
        state[target] = torch.cat(parts)


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
