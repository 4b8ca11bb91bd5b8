"""Split rows or interactions into train, validation and test, reproducibly.

Rows of a table (CTR, multi-task):

* :func:`split_indices` shuffles ``range(total)`` with a seed and cuts it by
  ``(train, val, test)`` fractions; validation and test get ``round(total * fraction)``
  rows, train the rest (:func:`split_sizes`).

Interactions (sequential, matching, generative), each returning a *part* array (0 train,
1 validation, 2 test, the index into :data:`~rec_core.datasets.task_data.SPLIT_NAMES`):

* :func:`leave_one_out`: per user, the last interaction is test, the second-to-last
  validation, the rest train. Users with fewer than three interactions keep them all in
  train (they get no validation or test target), as SASRec does;
* :func:`temporal_split`: one global time cut: the earliest interactions (by time, then
  file order) are train, the next validation, the latest test, by fractions;
* :func:`random_split`: each interaction falls in a part at random (seeded), by fractions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rec_core.errors import ConfigError, DataError

__all__ = [
    "INTERACTION_SPLITS",
    "check_split_rows",
    "leave_one_out",
    "parts_to_rows",
    "random_split",
    "split_indices",
    "split_interactions",
    "split_sizes",
    "temporal_split",
]

INTERACTION_SPLITS = ("leave-one-out", "temporal", "random")
_PART_NAMES = ("train", "validation", "test")


def split_sizes(total: int, ratios: Sequence[float]) -> tuple[int, int, int]:
    """Return ``(train, val, test)`` row counts for ``(train, val, test)`` fractions.

    Validation and test get ``round(total * ratio)`` rows; train gets the rest.

    Raises:
        ConfigError: If the ratios are not three numbers in ``[0, 1]`` summing to 1 with train > 0.
    """
    try:
        parts = list(ratios)
    except TypeError:
        parts = []
    if (
        len(parts) != 3
        or not all(isinstance(r, (int, float)) and not isinstance(r, bool) and 0 <= r <= 1 for r in parts)
        or abs(sum(parts) - 1.0) > 1e-6
        or parts[0] <= 0
    ):
        raise ConfigError(f"split must be (train, val, test) fractions summing to 1 with train > 0, got {ratios!r}")
    val = round(total * parts[1])
    test = round(total * parts[2])
    return total - val - test, val, test


def split_indices(total: int, ratios: Sequence[float], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle ``range(total)`` with ``seed`` and cut it into train, validation and test indices.

    Rows come in shuffled order within each part (as with ``torch.utils.data.random_split``),
    so any slice of a split is a random sample of it.

    Raises:
        ConfigError: On bad ratios (see :func:`split_sizes`).
    """
    n_train, n_val, _ = split_sizes(total, ratios)
    order = np.random.default_rng(seed).permutation(total)
    return tuple(np.split(order, [n_train, n_train + n_val]))  # type: ignore[return-value]


def check_split_rows(total: int, ratios: Sequence[float], source: str) -> None:
    """Refuse a table too small for the split: every part with a fraction above 0 needs a row.

    Raises:
        ConfigError: On bad ratios.
        DataError: Naming the file, its row count, the empty part and the rows it would need.
    """
    sizes = split_sizes(total, ratios)
    empty = [k for k, size in enumerate(sizes) if size == 0 and ratios[k] > 0]
    if not empty:
        return
    needed = total + 1
    while any(size == 0 and ratios[k] > 0 for k, size in enumerate(split_sizes(needed, ratios))):
        needed += 1
    shown = ", ".join(f"{r:g}" for r in ratios)
    rows = "1 data row" if total == 1 else f"{total} data rows"
    raise DataError(
        f"{source} has {rows}, too few for the split ({shown}): the {_PART_NAMES[empty[0]]} part would be empty; "
        f"use a file of at least {needed} rows or a split without that part, e.g. split=(1, 0, 0)"
    )


def parts_to_rows(part: np.ndarray, seed: int | None = None) -> list[np.ndarray]:
    """Return the row indices of parts 0, 1 and 2 of a per-row ``part`` array.

    Args:
        part: Split of each row (0 train, 1 validation, 2 test).
        seed: Shuffle the rows within each part with this seed (one generator, parts in
            order); ``None`` keeps them in row order.
    """
    rows = [np.flatnonzero(part == k) for k in range(3)]
    if seed is None:
        return rows
    shuffle = np.random.default_rng(seed)
    return [shuffle.permutation(r) for r in rows]


def leave_one_out(users: np.ndarray) -> np.ndarray:
    """Return the part of each interaction: the last of each user is test, the one before validation.

    Args:
        users: The user of each interaction, each user's interactions contiguous and in time
            order (as :class:`~rec_core.datasets.task_data.Interactions` keeps them).

    Returns:
        ``int8`` parts; a user with fewer than three interactions keeps them all in train.
    """
    n = len(users)
    part = np.zeros(n, dtype=np.int8)
    if n == 0:
        return part
    last = np.ones(n, dtype=bool)
    last[:-1] = users[1:] != users[:-1]
    ends = np.flatnonzero(last)
    sizes = np.diff(np.concatenate([[-1], ends]))
    from_end = np.repeat(ends, sizes) - np.arange(n)
    enough = np.repeat(sizes, sizes) >= 3
    part[enough & (from_end == 1)] = 1
    part[enough & (from_end == 0)] = 2
    return part


def temporal_split(times: np.ndarray, ratios: Sequence[float]) -> np.ndarray:
    """Return the part of each interaction for one global time cut by ``(train, val, test)`` fractions.

    Interactions are ordered by time, ties by position (file order); the first
    ``train`` share is train, the next validation, the rest test, with the sizes of
    :func:`split_sizes`. Interactions at the same time may fall on both sides of a cut.

    Raises:
        ConfigError: On bad ratios.
    """
    n_train, n_val, _ = split_sizes(len(times), ratios)
    order = np.argsort(times, kind="stable")
    part = np.zeros(len(times), dtype=np.int8)
    part[order[n_train : n_train + n_val]] = 1
    part[order[n_train + n_val :]] = 2
    return part


def random_split(total: int, ratios: Sequence[float], seed: int) -> np.ndarray:
    """Return a random part for each of ``total`` interactions (seeded, sizes of :func:`split_sizes`).

    Raises:
        ConfigError: On bad ratios.
    """
    _, val, test = split_indices(total, ratios, seed)
    part = np.zeros(total, dtype=np.int8)
    part[val], part[test] = 1, 2
    return part


def split_interactions(
    method: str,
    users: np.ndarray,
    times: np.ndarray | None,
    *,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 2022,
    source: str = "the data",
) -> np.ndarray:
    """Return the part of each interaction by ``method`` (one of :data:`INTERACTION_SPLITS`).

    Args:
        method: ``"leave-one-out"`` (``ratios`` and ``seed`` unused), ``"temporal"`` or ``"random"``.
        users: User of each interaction, grouped by user in time order.
        times: Time of each interaction, or ``None`` (a temporal split then refuses).
        ratios: ``(train, val, test)`` fractions of the temporal and random splits.
        seed: Seed of the random split.
        source: The file, for messages.

    Raises:
        ConfigError: On an unknown method, bad ratios, or a temporal split without times.
    """
    if method == "leave-one-out":
        return leave_one_out(users)
    if method == "temporal":
        if times is None:
            raise ConfigError(f"a temporal split needs timestamps and {source} has none; use leave-one-out or random")
        return temporal_split(times, ratios)
    if method == "random":
        return random_split(len(users), ratios, seed)
    raise ConfigError(f"unknown split {method!r} (splits: {', '.join(INTERACTION_SPLITS)})")
