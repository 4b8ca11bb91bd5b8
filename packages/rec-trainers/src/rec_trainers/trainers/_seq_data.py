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
                      popularity: np.ndarray | None, seed: int, *, block: int = 8192) -> np.ndarray:
    """Return ``(queries, 1 + n)`` candidates: the target, then ``n`` distinct unseen items (seeded).

    Negatives are drawn uniformly, or in proportion to ``popularity + 1`` (training counts,
    add-one smoothed so that every item can be drawn), among items other than padding, the
    target and the query's known items: for each query, the first ``n`` distinct unseen items
    of a stream of independent draws (sampling without replacement). The draws of ``block``
    queries are made and filtered at once, one binary search per draw on the cumulative
    weights; the rare query left short (its known items hold much of the weight) draws on alone.

    Raises:
        ConfigError: ``n`` is not positive, or the catalogue (or a query's unseen part) is too
            small for it.
    """
    if n < 1 or n > n_items - 2:
        raise ConfigError(f"eval_negatives must be between 1 and {n_items - 2} for {n_items - 1} items, got {n}")
    rng = np.random.default_rng(seed)
    weights = np.ones(n_items) if popularity is None else popularity + 1.0
    weights[0] = 0.0
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    out = np.empty((len(targets), n + 1), dtype=np.int64)
    out[:, 0] = targets
    offsets, items = known.offsets.numpy(), known.items.numpy()
    for start in range(0, len(targets), block):
        stop = min(start + block, len(targets))
        seen = _seen_keys(offsets, items, targets, start, stop, n_items)
        room = n_items - np.bincount(seen // n_items, minlength=stop - start)
        if (short := np.flatnonzero(room < n)).size:
            row = start + int(short[0])
            raise ConfigError(f"query {row} has seen all but {room[short[0]]} items; eval_negatives={n} is too many")
        draws = np.searchsorted(cdf, rng.random((stop - start, 2 * n + 16)), side="right")
        keys = np.arange(stop - start)[:, None] * n_items + draws
        found = np.minimum(np.searchsorted(seen, keys), len(seen) - 1)
        usable = (seen[found] != keys) & ~_repeats(draws)
        taken = usable & (np.cumsum(usable, axis=1) <= n)
        full = taken.sum(axis=1) == n
        out[start:stop][full, 1:] = draws[full][taken[full]].reshape(-1, n)
        for local in np.flatnonzero(~full):
            row = start + int(local)
            row_seen = seen[np.searchsorted(seen, local * n_items):np.searchsorted(seen, (local + 1) * n_items)]
            out[row, 1:] = _draw_one(row_seen - local * n_items, n, cdf, rng)
    return out


def _seen_keys(offsets: np.ndarray, items: np.ndarray, targets: np.ndarray, start: int, stop: int,
               n_items: int) -> np.ndarray:
    """Return the sorted ``local row * n_items + item`` of each query's known items, target and padding."""
    lengths = offsets[start + 1:stop + 1] - offsets[start:stop]
    rows = np.arange(stop - start)
    known = np.repeat(rows, lengths) * n_items + items[offsets[start]:offsets[stop]]
    return np.unique(np.concatenate([known, rows * n_items + targets[start:stop], rows * n_items]))


def _repeats(draws: np.ndarray) -> np.ndarray:
    """Return where a row repeats a value it drew earlier (the first draw of each value is kept)."""
    order = np.argsort(draws, axis=1, kind="stable")
    ordered = np.take_along_axis(draws, order, axis=1)
    repeated = np.zeros(draws.shape, dtype=bool)
    np.put_along_axis(repeated, order[:, 1:], ordered[:, 1:] == ordered[:, :-1], axis=1)
    return repeated


def _draw_one(seen: np.ndarray, n: int, cdf: np.ndarray, rng: np.random.Generator) -> list[int]:
    """Return ``n`` distinct items outside ``seen`` (sorted) for one query, drawing until there are enough."""
    chosen: list[int] = []
    while len(chosen) < n:
        for item in np.searchsorted(cdf, rng.random(2 * n), side="right").tolist():
            found = np.searchsorted(seen, item)
            if item not in chosen and not (found < len(seen) and seen[found] == item) and len(chosen) < n:
                chosen.append(item)
    return chosen
