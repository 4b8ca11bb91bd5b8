"""What a ``match`` run trains and is evaluated on, built from a data set's interactions and side tables.

Features follow the naming convention of ``rec_trainers.models.matching``:

* user tower: ``user_id``, one feature per user attribute (``user_<name>``) and the history
  ``hist_item_id`` (the items before the target, shared with ``item_id``'s table);
* item tower: ``item_id`` and one feature per item attribute (``item_<name>``).

An attribute whose values are space-separated lists (MovieLens genres) becomes a
mean-pooled :class:`~rec_core.features.SequenceFeature` of its tokens; any other becomes a
categorical :class:`~rec_core.features.SparseFeature`. Values are encoded in sorted order,
0 standing for a missing value.

* training rows (:func:`training_columns`): one per training interaction: the user's
  columns, the ``max_len`` training items before it, the item's columns; label 1. With
  ``negatives > 0`` every positive gets that many rows of uniformly drawn items the user has
  not trained on, label 0 (point-wise training); ``list_negatives > 0`` adds a
  ``neg_items`` column of that many such items per row (list-wise training);
* evaluation queries (:func:`split_queries`): one per user with a target in the split, the
  user's columns and the history known before it; known items are excluded from the ranking;
* the catalogue (:func:`catalogue_columns`): the item tower's columns of every item id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rec_core.errors import DataError
from rec_core.evaluation import RetrievalQueries
from rec_core.metrics import ItemLists

if TYPE_CHECKING:
    from rec_core.datasets import ItemCatalogue, TaskData

__all__ = ["MatchColumns", "catalogue_columns", "match_columns", "split_queries", "training_columns"]

HISTORY = "hist_item_id"
NEGATIVES = "neg_items"


@dataclass
class MatchColumns:
    """The encoded side tables of a ``match`` data set and the features they make.

    Attributes:
        users: ``user_*`` column -> values row-aligned with encoded user ids (incl. ``user_id``).
        items: ``item_*`` column -> values row-aligned with encoded item ids (incl. ``item_id``).
        features: The feature definitions of every column, the history included.
    """

    users: dict[str, np.ndarray]
    items: dict[str, np.ndarray]
    features: list[Any]


def match_columns(data: TaskData, max_len: int, embed_dim: int = 32) -> MatchColumns:
    """Encode the user and item attributes of ``data`` and define the features of both towers.

    Raises:
        DataError: The data set has no interactions.
    """
    from rec_core.features import SequenceFeature, SparseFeature

    interactions = data.interactions
    if interactions is None or data.items is None:
        raise DataError(f"data set {data.name!r} has no interactions; task match needs user-item pairs")
    n_users, n_items = interactions.n_users, data.items.n_items
    users = {"user_id": np.arange(n_users, dtype=np.int64)}
    items = {"item_id": np.arange(n_items, dtype=np.int64)}
    towers: dict[str, list[Any]] = {
        "user": [SparseFeature("user_id", n_users, embed_dim, padding_idx=0)],
        "item": [SparseFeature("item_id", n_items, embed_dim, padding_idx=0)],
    }
    for prefix, table, columns in (("user", data.users, users), ("item", data.items, items)):
        for name, values in _attributes(table):
            encoded, vocab, multi = _encode_attribute(values)
            column = f"{prefix}_{name}"
            columns[column] = encoded
            if multi:
                towers[prefix].append(SequenceFeature(column, vocab, embed_dim, pooling="mean", padding_idx=0))
            else:
                towers[prefix].append(SparseFeature(column, vocab, embed_dim, padding_idx=0))
    history = SequenceFeature(HISTORY, n_items, embed_dim, pooling="mean", shared_with="item_id", padding_idx=0)
    del max_len  # the history width is the loader's; the features do not depend on it
    ordered = [*towers["user"], history, *towers["item"]]
    return MatchColumns(users, items, ordered)


def _attributes(table: ItemCatalogue | None) -> list[tuple[str, np.ndarray]]:
    if table is None:
        return []
    return [(str(name), values) for name, values in table.attributes.items()]


def _encode_attribute(values: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """Return ``(ids, vocabulary size, multi-valued)``: ``(rows,)`` ids, or ``(rows, width)`` for lists."""
    texts = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip() for v in values]
    tokens = [text.split() for text in texts]
    multi = sum(len(t) > 1 for t in tokens) >= max(1, len(tokens) // 20)
    if multi:
        vocabulary = {tok: i for i, tok in enumerate(sorted({tok for row in tokens for tok in row}), start=1)}
        width = max(len(row) for row in tokens)
        out = np.zeros((len(tokens), width), dtype=np.int64)
        for r, row in enumerate(tokens):
            out[r, : len(row)] = [vocabulary[tok] for tok in row]
        return out, len(vocabulary) + 1, True
    vocabulary = {text: i for i, text in enumerate(sorted({t for t in texts if t}), start=1)}
    return np.array([vocabulary.get(t, 0) for t in texts], dtype=np.int64), len(vocabulary) + 1, False


def _histories(offsets: np.ndarray, items: np.ndarray, rows: np.ndarray, users: np.ndarray,
               max_len: int) -> np.ndarray:
    """Return the ``max_len`` items before position ``rows[j]`` of each user's CSR sequence, left-padded."""
    starts = offsets[users]
    index = rows[:, None] - max_len + np.arange(max_len)[None, :]
    valid = index >= starts[:, None]
    out = np.zeros((len(rows), max_len), dtype=np.int64)
    out[valid] = items[index[valid]]
    return out


def training_columns(data: TaskData, columns: MatchColumns, max_len: int, *, negatives: int = 0,
                     list_negatives: int = 0, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return the training rows (module docs) and their 0/1 labels.

    Raises:
        DataError: There is no training interaction.
    """
    from rec_core.datasets import user_sequences

    sequences = user_sequences(data.interactions, ("train",))  # type: ignore[arg-type]
    n = len(sequences.items)
    if n == 0:
        raise DataError(f"data set {data.name!r} has no training interactions")
    users = np.repeat(np.arange(len(sequences)), sequences.lengths())
    items = sequences.items.astype(np.int64)
    history = _histories(sequences.offsets, sequences.items, np.arange(n), users, max_len)
    rng = np.random.default_rng(seed)
    n_items = len(columns.items["item_id"])
    x = _rows(columns, users, items, history)
    labels = np.ones(n, dtype=np.float32)
    if list_negatives:
        x[NEGATIVES] = rng.integers(1, n_items, size=(n, list_negatives))
    if negatives:
        drawn = rng.integers(1, n_items, size=n * negatives)
        owner = np.repeat(np.arange(n), negatives)
        negative_rows = _rows(columns, users[owner], drawn, history[owner])
        x = {name: np.concatenate([x[name], negative_rows[name]]) for name in x}
        labels = np.concatenate([labels, np.zeros(n * negatives, dtype=np.float32)])
    return x, labels


def _rows(columns: MatchColumns, users: np.ndarray, items: np.ndarray, history: np.ndarray) -> dict[str, np.ndarray]:
    out = {name: values[users] for name, values in columns.users.items()}
    out[HISTORY] = history
    out.update({name: values[items] for name, values in columns.items.items()})
    return out


def catalogue_columns(columns: MatchColumns) -> dict[str, np.ndarray]:
    """Return the item tower's columns of every item id (row ``i`` is item ``i``; row 0 padding)."""
    return dict(columns.items)


def split_queries(data: TaskData, columns: MatchColumns, split: str, max_len: int) -> RetrievalQueries | None:
    """Return the queries of ``split`` (``"val"``/``"test"``), or ``None`` when it has no target."""
    from rec_core.datasets import known_before

    rows = data.splits.get(split)
    if rows is None or len(rows) == 0:
        return None
    users = np.asarray(rows.columns["user"], dtype=np.int64)
    known = known_before(data.interactions, split)  # type: ignore[arg-type]
    inputs = {name: torch.from_numpy(values[users]) for name, values in columns.users.items()}
    inputs[HISTORY] = torch.from_numpy(known.padded(users, max_len))
    targets = torch.from_numpy(np.asarray(rows.targets["item"], dtype=np.int64))
    return RetrievalQueries(inputs, targets, len(columns.items["item_id"]),
                            exclude=ItemLists.from_csr_rows(known.offsets, known.items, users),
                            excluded_items=[0])
