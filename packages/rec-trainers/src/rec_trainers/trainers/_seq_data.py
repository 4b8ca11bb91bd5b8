"""What a ``seq`` run trains and is evaluated on, built from a data set's interactions.

* training rows (:func:`training_columns`): each user's training items cut into windows of
  ``max_len`` transitions (:func:`rec_core.datasets.next_item_rows`), as ``history`` and
  ``target`` columns of a :class:`~rec_core.data.ColumnarLoader`;
* evaluation queries (:func:`split_queries`): one per user with a target in the split; the
  input is the history known before it (train for validation, train + validation for test),
  never the target; every known item is excluded from the ranking, and padding item 0 from
  every ranking;
* the sampled protocol (:func:`sample_candidates`): besides the target, ``n`` negatives per
  query drawn (seeded) uniformly or by popularity among the items the user has not seen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from rec_core.errors import ConfigError, DataError
from rec_core.evaluation import RetrievalQueries
from rec_core.metrics import ItemLists

if TYPE_CHECKING:
    from rec_core.datasets import TaskData

__all__ = ["EVAL_PROTOCOLS", "sample_candidates", "split_queries", "training_columns"]

EVAL_PROTOCOLS = ("full", "sampled-uniform", "sampled-popularity")


def _interactions(data: TaskData):
    if data.interactions is None or data.items is None:
        raise DataError(f"data set {data.name!r} has no interactions; task seq needs user-item sequences")
    return data.interactions


def training_columns(data: TaskData, max_len: int) -> dict[str, np.ndarray]:
    """Return the ``history`` and ``target`` training rows (``(rows, max_len)`` int64 each) and their ``user``.

    Raises:
        DataError: No user has two training items (nothing to learn a transition from).
    """
    from rec_core.datasets import next_item_rows, user_sequences

    users, inputs, targets = next_item_rows(user_sequences(_interactions(data), ("train",)), max_len)
    if len(users) == 0:
        raise DataError(f"data set {data.name!r}: no user has two training interactions to learn a next item from")
    return {"history": inputs, "target": targets, "user": users}


def split_queries(
    data: TaskData, split: str, max_len: int, *, protocol: str = "full", negatives: int = 100, seed: int = 0,
) -> RetrievalQueries | None:
    """Return the queries of ``split`` (``"val"`` or ``"test"``), or ``None`` when it has no target.

    Inputs: ``user`` (encoded id) and ``history`` (the last ``max_len`` known items, left-padded);
    under a sampled protocol also ``candidates`` (target first, then the negatives).
    """
    from rec_core.datasets import known_before

    if protocol not in EVAL_PROTOCOLS:
        raise ConfigError(f"unknown eval_protocol {protocol!r} (choose from {', '.join(EVAL_PROTOCOLS)})")
    interactions = _interactions(data)
    rows = data.splits.get(split)
    if rows is None or len(rows) == 0:
        return None
    users = np.asarray(rows.columns["user"], dtype=np.int64)
    targets = np.asarray(rows.targets["item"], dtype=np.int64)
    known = known_before(interactions, split)
    inputs = {"user": torch.from_numpy(users), "history": torch.from_numpy(known.padded(users, max_len))}
    exclude = ItemLists.from_csr_rows(known.offsets, known.items, users)
    n_items = data.items.n_items  # type: ignore[union-attr]
    if protocol != "full":
        popularity = np.bincount(interactions.items[interactions.part == 0], minlength=n_items).astype(np.float64)
        inputs["candidates"] = torch.from_numpy(
            sample_candidates(targets, exclude, n_items, negatives, popularity if protocol == "sampled-popularity"
                              else None, seed)
        )
    return RetrievalQueries(inputs, torch.from_numpy(targets), n_items, exclude=exclude, excluded_items=[0])


def sample_candidates(targets: np.ndarray, known: ItemLists, n_items: int, n: int,
                      popularity: np.ndarray | None, seed: int) -> np.ndarray:
    """Return ``(queries, 1 + n)`` candidates: the target, then ``n`` distinct unseen items (seeded).

    Negatives are drawn uniformly, or in proportion to ``popularity + 1`` (training counts,
    add-one smoothed so that every item can be drawn), among items other than padding, the
    target and the query's known items.

    Raises:
        ConfigError: ``n`` is not positive or the catalogue is too small for it.
    """
    if n < 1 or n > n_items - 2:
        raise ConfigError(f"eval_negatives must be between 1 and {n_items - 2} for {n_items - 1} items, got {n}")
    rng = np.random.default_rng(seed)
    weights = np.ones(n_items) if popularity is None else popularity + 1.0
    weights[0] = 0.0
    weights /= weights.sum()
    out = np.empty((len(targets), n + 1), dtype=np.int64)
    out[:, 0] = targets
    offsets, items = known.offsets.numpy(), known.items.numpy()
    for row, target in enumerate(targets):  # one vectorised draw per query: rejections are rare
        seen = np.unique(np.concatenate([items[offsets[row]:offsets[row + 1]], [target, 0]]))
        if n_items - len(seen) < n:
            raise ConfigError(
                f"query {row} has seen all but {n_items - len(seen)} items; eval_negatives={n} is too many"
            )
        chosen: list[int] = []
        while len(chosen) < n:
            draw = rng.choice(n_items, size=2 * n, p=weights)
            draw = draw[~np.isin(draw, seen)]
            draw = np.unique(draw)
            draw = draw[~np.isin(draw, chosen)]
            chosen.extend(rng.permutation(draw)[: n - len(chosen)].tolist())
        out[row, 1:] = chosen
    return out
