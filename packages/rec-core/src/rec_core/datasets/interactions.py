"""Read user-item interactions once, for every trainer that learns from them (seq, match, genrec).

Two kinds of file are read:

* a table with a user and an item column and optionally a time column: CSV, TSV
  (another separator with ``sep``), Parquet, or RecBole's atomic ``.inter`` file
  (``user_id:token  item_id:token  rating:float  timestamp:float``, tab-separated);
* a sequence file (``.txt``, the S3-Rec/ICLRec format): one line per user, ``user item
  item …`` integers separated by spaces, items in time order. It has no timestamps.

A table already in memory (a reader that builds its own time column, say) goes through
:func:`interactions_from_frame`, the same path :func:`load_interactions` takes for tables.

Users and items are encoded by the id rule (:mod:`rec_core.datasets.ids`): ids ``1..n`` in
the natural order of the original ids (numbers numerically), 0 for padding. Users with fewer
than ``min_user_interactions`` interactions are dropped first (their number is
``info["dropped_users"]``). Interactions are ordered by user, then time, then file order,
and split (:mod:`rec_core.datasets.splits`) by leave-one-out (default), a global time cut
or at random.

The result is a :class:`~rec_core.datasets.task_data.TaskData` with

* ``interactions``: the :class:`Interactions` with the split of each (``part``);
* ``items``: the :class:`ItemCatalogue` (original ids; attributes and text from an item file);
* ``splits``: per split, the columns ``user`` and ``item`` and the target ``item`` (kind ``"item"``).

:func:`known_before` and :class:`UserSequences` give each user's history known before a
split (train for validation, train + validation for test) as CSR arrays or padded rows;
:func:`next_item_rows` cuts the training histories into rows for next-item models.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rec_core.datasets.ids import canonical_text, encode_ids
from rec_core.datasets.spec import unknown_option
from rec_core.datasets.splits import INTERACTION_SPLITS, split_interactions
from rec_core.datasets.task_data import SPLIT_NAMES, Interactions, ItemCatalogue, Split, TaskData
from rec_core.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "INTERACTION_OPTIONS",
    "KNOWN_PARTS",
    "UserSequences",
    "attach_users",
    "interactions_from_frame",
    "known_before",
    "load_interactions",
    "next_item_rows",
    "user_sequences",
]

INTERACTION_OPTIONS = (
    "user", "item", "timestamp", "sep", "format", "split", "ratios", "min_user_interactions", "items",
    "item_key", "item_text",
)  # fmt: skip
"""The options of an interaction file (``data.*``); ``seed`` and ``embed_dim`` come from the training settings."""
KNOWN_PARTS = {"train": (), "val": ("train",), "test": ("train", "val")}
"""Split -> the splits whose interactions are known when it is evaluated."""
DEFAULT_EMBED_DIM = 64
_FORMATS = ("table", "sequences")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_INTEGER_LINE = re.compile(r"\s*[+-]?[0-9]+(?:\s+[+-]?[0-9]+)*\s*", re.ASCII)


@dataclass
class _Raw:
    """Interactions as read, in file order: original user and item ids, and times (or ``None``)."""

    users: np.ndarray
    items: np.ndarray
    times: np.ndarray | None


# ------------------------------------------------------------------ reading


def _natural(tokens: list[str]) -> np.ndarray:
    """Return ``tokens`` as ``int64`` when every one is a plain integer (so ids sort numerically), else as text."""
    try:
        numbers = np.array(tokens, dtype=np.int64)
    except (ValueError, OverflowError):
        return np.array(tokens, dtype=object)
    if [str(n) for n in numbers.tolist()] != tokens:  # "007" and "7" must stay two ids
        return np.array(tokens, dtype=object)
    return numbers


def _read_sequences(path: Path) -> _Raw:
    """Read a ``user item item …`` file of integer ids."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    users: list[str] = []
    items: list[str] = []
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                tokens = line.split()
                if not tokens:
                    continue
                if not _INTEGER_LINE.fullmatch(line):  # one match per line; find the culprit only on failure
                    bad = next((token for token in tokens if not _INTEGER.fullmatch(token)), None)
                    if bad is not None:
                        raise DataError(
                            f"{path} line {number}: {bad!r} is not an integer id "
                            "(a sequence file holds 'user item item …' integers)"
                        )
                if len(tokens) == 1:
                    raise DataError(
                        f"{path} line {number}: user {tokens[0]!r} has no items; expected 'user item item …'"
                    )
                users.extend([tokens[0]] * (len(tokens) - 1))
                items.extend(tokens[1:])
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot read {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not users:
        raise DataError(f"{path} has no interactions")
    return _Raw(_natural(users), _natural(items), None)


def _column(df: pd.DataFrame, name: str, role: str, source: str) -> np.ndarray:
    """Return a user or item column, refusing a missing column or value."""
    from rec_core.datasets.encoding import check_columns, row_number

    check_columns(df, [name], source, f"{role} column")
    column = df[name]
    missing = column.isna().to_numpy() | (column.astype(str).str.strip() == "").to_numpy()
    if missing.any():
        row = row_number(df, int(np.flatnonzero(missing)[0]))
        raise DataError(f"{source} row {row}: the {role} ({name!r}) is missing")
    values = column.to_numpy()
    return _natural([str(v) for v in values]) if values.dtype == object else values


def _times(df: pd.DataFrame, name: str, source: str) -> np.ndarray:
    """Return the time column as ``float64`` (datetimes as nanoseconds), refusing a bad value."""
    import pandas as pd

    from rec_core.datasets.encoding import row_number

    column = df[name]
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        if column.isna().any():
            row = row_number(df, int(np.flatnonzero(column.isna().to_numpy())[0]))
            raise DataError(f"timestamp column {name!r} in {source} is missing at row {row}")
        return column.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"timestamp column {name!r} in {source} has value {str(column.iloc[position])!r} at row "
            f"{row_number(df, position)}; expected a number or a date"
        )
    return values


def _frame_raw(df: pd.DataFrame, user: str, item: str, timestamp: str | None, source: str) -> _Raw:
    """Return the interactions of a table (its user, item and optional time columns)."""
    from rec_core.datasets.encoding import check_columns

    users, items = _column(df, user, "user", source), _column(df, item, "item", source)
    if timestamp is not None:
        check_columns(df, [timestamp], source, "timestamp column")
    time_column = timestamp or ("timestamp" if "timestamp" in df.columns else None)
    times = _times(df, time_column, source) if time_column else None
    return _Raw(users, items, times)


def _file_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in _FORMATS:
            raise ConfigError(f"unknown interaction format {fmt!r} (formats: {', '.join(_FORMATS)})")
        return fmt
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    return "sequences" if ".txt" in suffixes else "table"


# ------------------------------------------------------------------ the item catalogue


def _catalogue(ids: list[str], path: Path | pd.DataFrame, key: str | None, text: str | None) -> ItemCatalogue:
    """Return the catalogue of ``ids`` with the attributes (raw values) and text of an item file (or frame)."""
    import pandas as pd

    from rec_core.datasets.encoding import check_columns, row_number
    from rec_core.datasets.tables import read_table

    table = path.reset_index(drop=True) if isinstance(path, pd.DataFrame) else read_table(path)
    path = "the given table" if isinstance(path, pd.DataFrame) else path
    key = key or str(table.columns[0])
    check_columns(table, [key, *([text] if text else [])], str(path), "item file column")
    keys = pd.Series([canonical_text(v) for v in table[key].to_numpy()])
    repeated = keys.duplicated()
    if repeated.any():
        position = int(np.flatnonzero(repeated.to_numpy())[0])
        raise DataError(f"item {keys[position]!r} appears twice in {path} (again at row {row_number(table, position)})")
    table.index = pd.Index(keys)
    known = table.reindex(ids[1:])
    attributes = {
        str(name): np.concatenate([[None], known[name].to_numpy(dtype=object)])
        for name in table.columns
        if name not in (key, text)
    }
    titles = None
    if text:
        titles = ["", *("" if pd.isna(v) else str(v) for v in known[text].to_numpy(dtype=object))]
    return ItemCatalogue(ids, attributes, titles)


# ------------------------------------------------------------------ loading


def load_interactions(
    path: str | Path,
    *,
    user: str = "user_id",
    item: str = "item_id",
    timestamp: str | None = None,
    sep: str | None = None,
    format: str | None = None,
    split: str = "leave-one-out",
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 2022,
    min_user_interactions: int = 1,
    items: str | Path | None = None,
    item_key: str | None = None,
    item_text: str | None = None,
    embed_dim: int | None = None,
    **unknown: Any,
) -> TaskData:
    """Read interactions, encode users and items, order and split them.

    Args:
        path: A table (``.csv``, ``.tsv``, ``.parquet``, ``.inter``; optionally ``.gz``) or a
            ``.txt`` sequence file (module docs).
        user: User column of a table.
        item: Item column of a table.
        timestamp: Time column of a table (numbers or dates); ``None`` uses a column named
            ``timestamp`` when there is one, else the file order is the time order.
        sep: Column separator of a CSV/TSV table, e.g. ``";"``.
        format: ``"table"`` or ``"sequences"`` instead of guessing from the name (``.txt`` -> sequences).
        split: ``"leave-one-out"``, ``"temporal"`` or ``"random"`` (:mod:`~rec_core.datasets.splits`).
        ratios: ``(train, val, test)`` fractions of the temporal and random splits.
        seed: Seed of the random split.
        min_user_interactions: Drop users with fewer interactions (before encoding, so ids
            stay dense); how many is ``info["dropped_users"]``.
        items: An item file (a table) whose rows give the catalogue's attributes and text.
        item_key: Its item id column (default: its first column).
        item_text: Its text column (e.g. titles), kept as ``ItemCatalogue.text``.
        embed_dim: Embedding size of the ``user`` and ``item`` features (default 64).
        **unknown: Refused: any other option is a :class:`ConfigError` listing the valid ones.

    Returns:
        The :class:`TaskData`, named by the file name (module docs).

    Raises:
        DataError: On a missing, unreadable or empty file, a malformed line (named), a
            missing column or value, or when no user is left.
        ConfigError: On an unknown option or split, bad ratios, or a temporal split without times.
    """
    if unknown:
        raise unknown_option("an interaction file", unknown, INTERACTION_OPTIONS)
    _check_options(split, min_user_interactions)
    source = Path(path)
    if source.is_dir():
        raise DataError(f"{source} is a directory, not a data file")
    if not source.exists():
        raise DataError(f"file not found: {source}")
    options: dict[str, Any] = {
        "split": split, "ratios": ratios, "seed": seed, "min_user_interactions": min_user_interactions,
        "items": items, "item_key": item_key, "item_text": item_text, "embed_dim": embed_dim,
    }  # fmt: skip
    if _file_format(source, format) == "sequences":
        return _build(_read_sequences(source), source, **options)
    from rec_core.datasets.tables import read_table

    frame = read_table(source, sep=sep)
    return interactions_from_frame(frame, user=user, item=item, timestamp=timestamp, source=source, **options)


def interactions_from_frame(
    frame: pd.DataFrame,
    *,
    user: str = "user_id",
    item: str = "item_id",
    timestamp: str | None = None,
    source: str | Path = "DataFrame",
    split: str = "leave-one-out",
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 2022,
    min_user_interactions: int = 1,
    items: str | Path | None = None,
    item_key: str | None = None,
    item_text: str | None = None,
    embed_dim: int | None = None,
) -> TaskData:
    """Encode, order and split the interactions of a table already in memory, as :func:`load_interactions` does.

    For readers that build the table themselves (e.g. a time column made of two columns);
    row numbers in messages are the frame's index + 1 (a 0-based index = file rows).

    Args:
        frame: One row per interaction, with the user, item and optional time columns.
        source: The file the frame was read from: names the data (its file name) and messages.
        user, item, timestamp, split, ratios, seed, min_user_interactions, items, item_key,
            item_text, embed_dim: As for :func:`load_interactions`.

    Raises:
        DataError: On a missing column or value, a bad time, or when no user is left.
        ConfigError: On an unknown split, bad ratios, or a temporal split without times.
    """
    _check_options(split, min_user_interactions)
    raw = _frame_raw(frame, user, item, timestamp, str(source))
    return _build(
        raw, Path(source), split=split, ratios=ratios, seed=seed, min_user_interactions=min_user_interactions,
        items=items, item_key=item_key, item_text=item_text, embed_dim=embed_dim,
    )  # fmt: skip


def _check_options(split: str, min_user_interactions: int) -> None:
    if split not in INTERACTION_SPLITS:
        raise ConfigError(f"unknown split {split!r} (splits: {', '.join(INTERACTION_SPLITS)})")
    if isinstance(min_user_interactions, bool) or not isinstance(min_user_interactions, int):
        raise ConfigError(f"min_user_interactions must be an integer, got {min_user_interactions!r}")


def _build(
    raw: _Raw,
    source: Path,
    *,
    split: str,
    ratios: Sequence[float],
    seed: int,
    min_user_interactions: int,
    items: str | Path | None,
    item_key: str | None,
    item_text: str | None,
    embed_dim: int | None,
) -> TaskData:
    """Drop rare users, encode, order by user then time (then file order), split, and attach the catalogue."""
    raw, dropped = _drop_rare_users(raw, min_user_interactions, source)
    (users,), user_ids = encode_ids(raw.users)
    (item_codes,), item_ids = encode_ids(raw.items)
    time_key = raw.times if raw.times is not None else np.zeros(len(users))
    order = np.lexsort((np.arange(len(users)), time_key, users))
    users, item_codes = users[order], item_codes[order]
    times = raw.times[order] if raw.times is not None else None
    part = split_interactions(split, users, times, ratios=ratios, seed=seed, source=str(source))

    interactions = Interactions(users, item_codes, part, user_ids.ids, times)
    catalogue = (
        _catalogue(item_ids.ids, _table_source(items), item_key, item_text) if items is not None
        else ItemCatalogue(item_ids.ids)
    )
    return _task_data(source, interactions, catalogue, split, embed_dim, dropped)


def _drop_rare_users(raw: _Raw, minimum: int, source: Path) -> tuple[_Raw, int]:
    """Return the interactions of users with ``minimum`` or more, and how many users were dropped."""
    if minimum <= 1:
        return raw, 0
    import pandas as pd

    users = pd.Series(raw.users)
    counts = users.value_counts()
    if int(counts.max()) < minimum:
        raise DataError(
            f"no user of {source} has {minimum} or more interactions (the most is {int(counts.max())}); "
            f"lower min_user_interactions (now {minimum})"
        )
    keep = users.map(counts).to_numpy() >= minimum
    times = raw.times[keep] if raw.times is not None else None
    return _Raw(raw.users[keep], raw.items[keep], times), int((counts < minimum).sum())


def _task_data(
    source: Path,
    interactions: Interactions,
    catalogue: ItemCatalogue,
    split: str,
    embed_dim: int | None,
    dropped_users: int,
) -> TaskData:
    from rec_core.features import SparseFeature

    dim = DEFAULT_EMBED_DIM if embed_dim is None else embed_dim
    splits: dict[str, Split] = {}
    for code, name in enumerate(SPLIT_NAMES):
        rows = np.flatnonzero(interactions.part == code)
        if len(rows) or name == "train":
            item = interactions.items[rows]
            splits[name] = Split({"user": interactions.users[rows], "item": item}, {"item": item})
    features = [
        SparseFeature("user", interactions.n_users, dim, padding_idx=0),
        SparseFeature("item", catalogue.n_items, dim, padding_idx=0),
    ]
    info: dict[str, Any] = {
        "users": interactions.n_users - 1,
        "items": catalogue.n_items - 1,
        "interactions": len(interactions),
        "dropped_users": dropped_users,
        "split": split,
        **{f"{name}_rows": len(splits[name]) if name in splits else 0 for name in SPLIT_NAMES},
        "source": str(source),
    }
    return TaskData(source.name, features, splits, {"item": "item"}, catalogue, interactions, info=info)


def _table_source(source: Any) -> Any:
    """Return a side table's source: a DataFrame as it is, anything else as a path."""
    return source if hasattr(source, "columns") else Path(source)


def attach_users(data: TaskData, path: str | Path | pd.DataFrame, key: str | None = None) -> TaskData:
    """Return ``data`` with the attributes of a user file or frame (keyed by user id) as ``data.users``.

    Users of the interactions missing from the file get ``None`` attributes; users of the
    file without interactions are ignored.

    Raises:
        DataError: The file is missing or unreadable, lacks the key column, or repeats a user.
        ConfigError: ``data`` has no interactions.
    """
    import dataclasses

    if data.interactions is None:
        raise ConfigError(f"data set {data.name!r} has no interactions to attach user attributes to")
    users = _catalogue(data.interactions.user_ids, _table_source(path), key, None)
    return dataclasses.replace(data, users=users)


# ------------------------------------------------------------------ histories


@dataclass
class UserSequences:
    """Each user's items in time order, as CSR arrays indexed by encoded user id.

    Attributes:
        offsets: ``int64`` of length ``n_users + 1`` (padding user 0 included, always empty):
            user ``u``'s items are ``items[offsets[u]:offsets[u + 1]]``.
        items: ``int64`` item ids, user after user.
    """

    offsets: np.ndarray
    items: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        """Return the number of items of each user id."""
        return np.diff(self.offsets)

    def of(self, user: int) -> np.ndarray:
        """Return user ``user``'s items in time order."""
        return self.items[self.offsets[user] : self.offsets[user + 1]]

    def padded(self, users: np.ndarray, max_len: int, *, side: str = "left") -> np.ndarray:
        """Return the last ``max_len`` items of each of ``users`` as ``(len(users), max_len)`` ``int64`` rows.

        Args:
            users: Encoded user ids (one row each; repeats allowed).
            max_len: Row width; longer histories keep their most recent items.
            side: ``"left"`` pads in front, so the most recent item is last (SASRec);
                ``"right"`` pads behind (``[oldest … newest, 0, 0]``).
        """
        if side not in ("left", "right"):
            raise ConfigError(f"side must be 'left' or 'right', got {side!r}")
        users = np.asarray(users, dtype=np.int64)
        ends = self.offsets[users + 1]
        lengths = np.minimum(ends - self.offsets[users], max_len)
        columns = np.arange(max_len)[None, :]
        shift = (max_len - lengths)[:, None] if side == "left" else np.zeros((len(users), 1), dtype=np.int64)
        take = (columns >= shift) & (columns < shift + lengths[:, None])
        source = (ends - lengths)[:, None] + columns - shift
        out = np.zeros((len(users), max_len), dtype=np.int64)
        out[take] = self.items[source[take]]
        return out


def user_sequences(interactions: Interactions, parts: Sequence[str] = ("train",)) -> UserSequences:
    """Return each user's items (in time order) among the interactions of the splits ``parts``.

    Raises:
        ConfigError: If a part is not ``train``, ``val`` or ``test``.
    """
    unknown = [p for p in parts if p not in SPLIT_NAMES]
    if unknown:
        raise ConfigError(f"unknown split {unknown[0]!r} (splits: {', '.join(SPLIT_NAMES)})")
    chosen = np.isin(interactions.part, [SPLIT_NAMES.index(p) for p in parts])
    counts = np.bincount(interactions.users[chosen], minlength=interactions.n_users)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return UserSequences(offsets, interactions.items[chosen])


def known_before(interactions: Interactions, split: str) -> UserSequences:
    """Return each user's history known when ``split`` is evaluated: train for val, train + val for test.

    These are the inputs of a next-item model and the items to mask when ranking the catalogue.

    Raises:
        ConfigError: If ``split`` is not ``train``, ``val`` or ``test``.
    """
    if split not in KNOWN_PARTS:
        raise ConfigError(f"unknown split {split!r} (splits: {', '.join(SPLIT_NAMES)})")
    return user_sequences(interactions, KNOWN_PARTS[split])


def next_item_rows(sequences: UserSequences, max_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut each user's sequence into training rows for a next-item model (SASRec-style), without a Python loop.

    A user with items ``s_1 … s_n`` (``n >= 2``) gets ``ceil((n - 1) / max_len)`` rows,
    windows of ``max_len + 1`` consecutive items taken from the end backwards: the last
    covers ``s_{n-max_len} … s_n`` (input ``s_{n-max_len} … s_{n-1}``, target
    ``s_{n-max_len+1} … s_n``), the one before ends where this one's inputs start, and so
    on. So every transition ``s_i -> s_{i+1}`` is one (input, target) position of exactly
    one row. Rows are left-padded with 0 (the most recent item last); targets are 0
    exactly where inputs are. Users with fewer than two items get no row.

    Args:
        sequences: Each user's items in time order (e.g. ``user_sequences(interactions)``).
        max_len: Row width.

    Returns:
        ``(users, inputs, targets)``: the user of each row (``int64``, ascending; a user's
        rows oldest first) and the ``(rows, max_len)`` ``int64`` inputs and targets.

    Raises:
        ConfigError: If ``max_len`` is not a positive integer.

    Example:
        >>> seqs = UserSequences(np.array([0, 0, 5]), np.array([1, 2, 3, 4, 5]))
        >>> users, inputs, targets = next_item_rows(seqs, 3)
        >>> users.tolist(), inputs.tolist(), targets.tolist()
        ([1, 1], [[0, 0, 1], [2, 3, 4]], [[0, 0, 2], [3, 4, 5]])
    """
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise ConfigError(f"max_len must be a positive integer, got {max_len!r}")
    offsets = np.asarray(sequences.offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    per_user = np.where(lengths >= 2, (lengths - 2) // max_len + 1, 0)
    users = np.repeat(np.arange(len(lengths), dtype=np.int64), per_user)
    last_row = np.cumsum(per_user) - 1  # index of each user's last (most recent) row
    from_end = last_row[users] - np.arange(len(users), dtype=np.int64)  # 0 for a user's last row
    last = offsets[users + 1] - 1 - from_end * max_len  # position of the row's last target in ``items``
    count = np.minimum(max_len, last - offsets[users])  # transitions in the row
    back = np.arange(max_len - 1, -1, -1, dtype=np.int64)  # each column's distance from the last one
    filled = back[None, :] < count[:, None]
    target_at = (last[:, None] - back[None, :])[filled]
    items = np.asarray(sequences.items, dtype=np.int64)
    inputs = np.zeros((len(users), max_len), dtype=np.int64)
    targets = np.zeros((len(users), max_len), dtype=np.int64)
    inputs[filled] = items[target_at - 1]
    targets[filled] = items[target_at]
    return users, inputs, targets
