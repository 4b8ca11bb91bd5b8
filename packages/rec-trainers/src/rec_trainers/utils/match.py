"""Build the training data of matching (two-tower retrieval) models, as torch-rechub does.

``generate_seq_feature_match``, ``gen_model_input`` and ``negative_sample`` keep the
names, arguments and outputs of ``torch_rechub.utils.match``, so a torch-rechub script
only changes its import. They work on whole columns (a sort, ``pd.factorize``,
``np.bincount``/``np.repeat`` for each user's positions, fancy indexing) where
torch-rechub walks the users and their interactions in Python; no Python loop runs per
user or per interaction here. History cells are still Python lists, as torch-rechub's
are (made in C by slicing one list per column), so their memory grows with the square
of a user's history length, as it does there.

Random draws: with ``seed=None`` the negatives come from numpy's global RNG through the
same ``np.random.choice`` call torch-rechub makes, and the rows are shuffled by Python's
``random.shuffle``, as in torch-rechub; so after ``np.random.seed(s); random.seed(s)``
both libraries build the same frames row for row. That shuffle is a Python loop over the
rows (about 1 s per million); an int ``seed`` draws everything from
``np.random.default_rng(seed)`` instead: reproducible, vectorised, leaves the global RNGs
alone, but different draws from torch-rechub's.

Measured once on 1,000,000 synthetic interactions (10,000 users, 5,000 items,
``sample_method=1, mode=0, neg_ratio=3``; wall seconds on 2 CPU cores busy with other
work): ``generate_seq_feature_match`` 11 s (6 s with ``seed=0``) against 38 s for
torch-rechub; ``gen_model_input`` of its 3,920,000 rows (``seq_max_len=50``) 17 s
against 60 s.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rec_core.data import df_to_dict, pad_sequences
from rec_core.data.sequences import gc_paused
from rec_core.errors import ConfigError, DataError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["gen_model_input", "generate_seq_feature_match", "negative_sample"]

logger = logging.getLogger(__name__)

SAMPLE_METHODS = {
    0: "uniform over items",
    1: "popularity, count ** 0.75 (word2vec)",
    2: "popularity, log(count + 1) + 1e-6",
    3: "log-uniform over the popularity rank (Tencent RALM)",
}
MODES = {0: "point-wise", 1: "pair-wise", 2: "list-wise"}


def _rng(seed: int | None) -> np.random.Generator | None:
    return None if seed is None else np.random.default_rng(seed)


def _check_method(method_id: int, name: str) -> None:
    if method_id not in SAMPLE_METHODS:
        raise ConfigError(f"{name} must be one of {sorted(SAMPLE_METHODS)}, got {method_id!r}")


def _item_probabilities(counts: np.ndarray, method_id: int) -> np.ndarray | None:
    """Return the draw probability of each item (``None``: uniform), items most popular first."""
    if method_id == 0:
        return None
    if method_id == 1:
        weights = counts.astype(np.float64) ** 0.75
    elif method_id == 2:
        weights = np.log(counts.astype(np.float64) + 1) + 1e-6
    else:
        rank = np.arange(len(counts), dtype=np.float64)
        weights = np.log(rank + 2) - np.log(rank + 1)
    return weights / weights.sum()


def _draw(
    items: np.ndarray, p: np.ndarray | None, size: int, replace: bool, rng: np.random.Generator | None
) -> np.ndarray:
    # The global-RNG branch is the exact call torch-rechub makes, so seeded scripts agree.
    if rng is None:
        return np.random.choice(items, size=size, replace=replace, p=p)
    return rng.choice(items, size=size, replace=replace, p=p)


def _permutation(n: int, rng: np.random.Generator | None) -> np.ndarray:
    if rng is not None:
        return rng.permutation(n)
    # random.shuffle's result depends only on the length, so shuffling indices gives
    # torch-rechub's row order; it is a Python loop (about 1 s per million rows).
    order = list(range(n))
    random.shuffle(order)
    return np.asarray(order, dtype=np.intp)


def negative_sample(
    items_cnt_order: Mapping[Any, int], ratio: int, method_id: int = 0, *, seed: int | None = None
) -> np.ndarray:
    """Draw ``ratio`` negative items from the catalogue.

    Args:
        items_cnt_order: Item -> interaction count, most popular first (the order is
            the rank that ``method_id=3`` uses).
        ratio: How many items to draw.
        method_id: How likely each item is: 0 uniform, 1 proportional to
            ``count ** 0.75``, 2 to ``log(count + 1) + 1e-6``, 3 to
            ``log((k + 2) / (k + 1))`` for popularity rank ``k`` (0 = most popular).
            Methods 0-2 draw with replacement, method 3 without (distinct items).
        seed: Seed of a private RNG; ``None`` uses numpy's global RNG, as
            torch-rechub does.

    Returns:
        The drawn items, a 1-D array. Nothing stops a draw from being an item the
        user interacted with: torch-rechub does not exclude positives either.

    Raises:
        ConfigError: If ``method_id`` is unknown, ``ratio`` is negative, or
            ``method_id=3`` asks for more items than there are.

    Note:
        torch-rechub's method 3 uses the item's *count* as ``k``, which favours rare
        items; the RALM formula it names ranks items by popularity, so ``k`` here is
        the rank.
    """
    _check_method(method_id, "method_id")
    if ratio < 0:
        raise ConfigError(f"ratio must be >= 0, got {ratio!r}")
    items = np.asarray(list(items_cnt_order))
    if method_id == 3 and ratio > len(items):
        raise ConfigError(f"ratio {ratio} exceeds the {len(items)} items that method_id=3 draws without replacement")
    counts = np.fromiter(items_cnt_order.values(), dtype=np.int64, count=len(items))
    return _draw(items, _item_probabilities(counts, method_id), ratio, method_id != 3, _rng(seed))


def _check_columns(frame: pd.DataFrame, columns: Iterable[Any], frame_name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"column {missing[0]!r} missing in {frame_name} (columns: {', '.join(map(str, frame.columns))})"
        )


def _histories(values: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Return an object array whose cells are the Python lists ``values[start:stop]``."""
    as_list = values.tolist()
    cells = map(as_list.__getitem__, map(slice, starts.tolist(), stops.tolist()))
    return np.fromiter(cells, dtype=object, count=len(starts))


def _frame(columns: dict[str, np.ndarray], rows: np.ndarray) -> pd.DataFrame:
    # The taken arrays are new, so pandas may keep them as they are (no block copy).
    return pd.DataFrame({name: values[rows] for name, values in columns.items()}, copy=False)


def _rows_per_user(users: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order rows by user (stably) and return that order, each row's position and its user's size."""
    codes, _ = pd.factorize(users, sort=True)  # groupby's key order
    by_user = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    first = np.cumsum(sizes) - sizes
    position = np.arange(len(users)) - np.repeat(first, sizes)
    return by_user, position, np.repeat(sizes, sizes)


def generate_seq_feature_match(
    data: pd.DataFrame,
    user_col: str,
    item_col: str,
    time_col: str,
    item_attribute_cols: Sequence[str] | None = None,
    sample_method: int = 0,
    mode: int = 0,
    neg_ratio: int = 0,
    min_item: int = 0,
    *,
    seed: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn interactions into matching samples: each item with the items before it.

    Each user's interactions are ordered by ``time_col``. The item at position
    ``i >= 1`` becomes a sample whose history is the ``i`` items before it; a user's
    last item is the test sample, the others train. Columns: ``user_col``,
    ``item_col``, ``hist_<item_col>`` (list), ``histlen_<item_col>``,
    ``hist_<attr>`` per attribute, then by ``mode``:

    * 0 (point-wise): ``label``; each positive (1) is followed by ``neg_ratio``
      copies whose item is a negative (0).
    * 1 (pair-wise): ``neg_items``, one negative item per row (``neg_ratio`` is 1).
    * 2 (list-wise): ``neg_items``, an array of ``neg_ratio`` negatives per row.

    The test frame has the same columns with that last column set to 1. Both frames
    are shuffled. Negatives are drawn from all items by ``sample_method`` (see
    :func:`negative_sample`) and may equal the positive or a history item, as in
    torch-rechub.

    Args:
        data: One row per interaction.
        user_col: User id column.
        item_col: Item id column.
        time_col: Timestamp column; ties keep torch-rechub's order (pandas' default,
            unstable quicksort).
        item_attribute_cols: Item columns that also get a ``hist_<col>`` list.
        sample_method: Negative sampling method, 0-3 (see :func:`negative_sample`).
        mode: 0 point-wise, 1 pair-wise, 2 list-wise.
        neg_ratio: Negatives per positive; must be > 0 for ``mode=2``.
        min_item: Users with fewer interactions are dropped.
        seed: Seed of the draws and shuffles; ``None`` uses numpy's and Python's
            global RNGs exactly as torch-rechub does (see the module docs).

    Returns:
        ``(df_train, df_test)``.

    Raises:
        ConfigError: If ``mode``, ``sample_method`` or ``neg_ratio`` is invalid or an
            attribute column is repeated.
        DataError: If a column is missing or the user, item or time column has
            missing values.

    Note:
        Differences from torch-rechub: ``data`` is not modified (torch-rechub sorts
        it in place); progress goes to the logger, not ``print``; ``sample_method=3``
        ranks items by popularity (see :func:`negative_sample`) and draws with
        replacement (torch-rechub draws ``len(data) * neg_ratio`` distinct items and
        so fails on any real data); when no user has three items the frames are
        still built (torch-rechub fails on an unset column name); missing ids are
        an error instead of rows silently dropped by ``groupby``.
    """
    attrs = list(item_attribute_cols or [])
    if mode not in MODES:
        raise ConfigError(f"mode must be 0 (point-wise), 1 (pair-wise) or 2 (list-wise), got {mode!r}")
    _check_method(sample_method, "sample_method")
    if neg_ratio < 0 or (mode == 2 and neg_ratio == 0):
        raise ConfigError(f"neg_ratio must be {'> 0 for mode=2' if mode == 2 else '>= 0'}, got {neg_ratio!r}")
    if len(set(attrs)) < len(attrs) or item_col in attrs:
        raise ConfigError(f"item_attribute_cols must be distinct columns other than {item_col!r}, got {attrs!r}")
    _check_columns(data, [user_col, item_col, time_col, *attrs], "data")
    for column in (user_col, item_col, time_col):
        n_missing = int(data[column].isna().sum())
        if n_missing:
            raise DataError(f"column {column!r} has {n_missing} missing values")
    if mode == 1:
        neg_ratio = 1
    rng = _rng(seed)

    ordered = data.sort_values(time_col, kind="quicksort")
    # Catalogue, most popular first; ties in order of first appearance, like a Counter.
    codes, uniques = pd.factorize(ordered[item_col].to_numpy())
    counts = np.bincount(codes, minlength=len(uniques))
    by_count = np.argsort(-counts, kind="stable")
    p = _item_probabilities(counts[by_count], sample_method)
    negatives = _draw(np.asarray(uniques)[by_count], p, len(ordered) * neg_ratio, True, rng)

    by_user, position, size = _rows_per_user(ordered[user_col].to_numpy())
    warm = size >= min_item
    test = warm & (position >= 1) & (position == size - 1)
    train = warm & (position >= 1) & ~test
    n_cold = int(np.count_nonzero(~warm[position == 0]))
    columns = {c: ordered[c].to_numpy()[by_user] for c in dict.fromkeys([user_col, item_col, *attrs])}

    def samples(rows: np.ndarray) -> dict[str, np.ndarray]:
        starts, stops = rows - position[rows], rows
        frame = {user_col: columns[user_col][rows], item_col: columns[item_col][rows]}
        frame[f"hist_{item_col}"] = _histories(columns[item_col], starts, stops)
        frame[f"histlen_{item_col}"] = position[rows]
        for attr in attrs:
            frame[f"hist_{attr}"] = _histories(columns[attr], starts, stops)
        return frame

    train_rows, test_rows = np.flatnonzero(train), np.flatnonzero(test)
    n_pos = len(train_rows)
    with gc_paused():
        base, held_out = samples(train_rows), samples(test_rows)
    drawn = negatives[: n_pos * neg_ratio].reshape(n_pos, neg_ratio)
    last_col = "label" if mode == 0 else "neg_items"
    # One shuffled take per column: train rows are drawn straight from the samples.
    if mode == 0:
        # Each positive then its negatives (the same sample with the item swapped),
        # i.e. row k is sample k // (1 + neg_ratio), a positive when k % (1 + neg_ratio) == 0.
        per_sample = 1 + neg_ratio
        order = _permutation(n_pos * per_sample, rng)
        df_train = _frame(base, order // per_sample)
        df_train[item_col] = np.concatenate([base[item_col][:, None], drawn], axis=1).ravel()[order]
        df_train[last_col] = (order % per_sample == 0).astype(np.int64)
    else:
        order = _permutation(n_pos, rng)
        df_train = _frame(base, order)
        df_train[last_col] = drawn[order, 0] if mode == 1 else np.fromiter(drawn[order], dtype=object, count=n_pos)
    df_test = _frame(held_out, _permutation(len(test_rows), rng))
    df_test[last_col] = np.ones(len(test_rows), dtype=np.int64)
    logger.info("n_train: %d, n_test: %d; %d cold-start users dropped", len(df_train), len(df_test), n_cold)
    return df_train, df_test


def gen_model_input(
    df: pd.DataFrame,
    user_profile: pd.DataFrame,
    user_col: str,
    item_profile: pd.DataFrame,
    item_col: str,
    seq_max_len: int,
    padding: str = "pre",
    truncating: str = "pre",
) -> dict[str, np.ndarray]:
    """Join the user and item features to the samples and pad their sequences.

    Every ``hist_*`` and ``tag_*`` column (from ``df`` or a profile) is padded or cut
    to ``seq_max_len`` with 0 (see :func:`rec_core.data.pad_sequences`) and becomes
    a 2-D int64 array; the other columns become 1-D arrays (``neg_items`` lists
    become 2-D). Rows keep the order of ``df``.

    Args:
        df: Samples, e.g. a frame from :func:`generate_seq_feature_match`.
        user_profile: One row of features per user, keyed by ``user_col``.
        user_col: User id column.
        item_profile: One row of features per item, keyed by ``item_col``.
        item_col: Item id column.
        seq_max_len: Length of every sequence feature.
        padding: ``"pre"`` or ``"post"``: where short sequences get their zeros.
        truncating: ``"pre"`` or ``"post"``: which end of a long sequence is cut.

    Returns:
        Column name -> array, in the merged frame's column order.

    Raises:
        DataError: If a key column is missing or a profile has a key twice
            (torch-rechub's join would then silently repeat samples).
        ConfigError: If ``padding`` or ``truncating`` is invalid.

    Note:
        Differences from torch-rechub: the two errors above; sequences are padded
        straight to int64 (torch-rechub pads to int32, so it fails on ids past
        ``2**31 - 1`` where this keeps them), and rows sharing one history list are
        padded once. A user or item missing from its profile gets NaN features, as
        in torch-rechub.
    """
    _check_columns(df, [user_col, item_col], "df")
    for profile, key, name in ((user_profile, user_col, "user_profile"), (item_profile, item_col, "item_profile")):
        _check_columns(profile, [key], name)
        repeated = int(profile[key].duplicated().sum())
        if repeated:
            raise DataError(f"{name} has {repeated} repeated {key!r} values; keep one row each (drop_duplicates)")
    merged = df.merge(user_profile, on=user_col, how="left").merge(item_profile, on=item_col, how="left")
    sequences = [c for c in merged.columns if isinstance(c, str) and c.startswith(("hist_", "tag_"))]
    plain = df_to_dict(merged.drop(columns=sequences))
    result: dict[str, np.ndarray] = {}
    for column in merged.columns:
        if column in plain:
            result[column] = plain[column]
        else:
            # torch-rechub pads to int32 and rebuilds the array from Python ints: int64 in
            # the end. Padding straight to int64 gives the same values without the copy.
            result[column] = pad_sequences(merged[column], seq_max_len, np.int64, padding, truncating, value=0)
    return result
