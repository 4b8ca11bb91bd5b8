"""Pad variable-length sequences into one 2-D array, as Keras and torch-rechub do.

:func:`pad_sequences` returns what ``torch_rechub.utils.data.pad_sequences`` (and
``keras.preprocessing.sequence.pad_sequences`` for rows of scalars) returns, but it works
on blocks of rows instead of one row at a time: it measures every row, converts the
items of a block in one ``np.fromiter`` (or ``np.concatenate`` for array rows), drops
the cut-off items by index arithmetic (or, when most of a row is cut, slices the rows
first, in C through ``map``) and writes the block through a boolean mask. Rows that are
one object (the negatives of a point-wise sample share its history list) are padded once.

Python ints still have to be read one by one, so the gain is bounded. Measured once on
1,000,000 rows of 0-299 ints, ``maxlen=50`` (CPU seconds, best of 3, 2 busy cores):
2.0 s here against 2.6 s for torch-rechub; rows of 0-59 ints 1.1-1.7 s against 2.3-2.9 s;
rows of 0-19 ints 0.75 s against 2.3 s.
"""

from __future__ import annotations

import gc
import operator
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import chain
from typing import Any

import numpy as np

from rec_core.errors import ConfigError, DataError

__all__ = ["gc_paused", "pad_sequences"]

_SIDES = ("pre", "post")
_BLOCK = 1 << 12  # rows converted at a time


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of lists are made (no cycles among them).

    Each full collection walks every live list, the input rows included; paused, the
    row slicing below runs several times faster. The new objects hold no cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _sized(row: Any) -> bool:
    try:
        len(row)
    except TypeError:
        return False
    return True


def _lengths(seqs: list[Any]) -> np.ndarray:
    try:
        return np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    except TypeError:
        for index, row in enumerate(seqs):  # only to name the culprit
            if not _sized(row):
                kind = type(row).__name__
                raise DataError(f"sequences[{index}] is a {kind}, not a sequence of values") from None
        raise


def _flatten(parts: list[Any], total: int, dtype: np.dtype) -> np.ndarray:
    """Concatenate the kept parts of all rows into one 1-D array of ``dtype``."""
    if total == 0:
        return np.empty(0, dtype=dtype)
    if set(map(type, parts)) == {np.ndarray}:
        return np.concatenate(parts).astype(dtype, copy=False)
    items = chain.from_iterable(parts)
    if dtype.kind in "biufc":
        return np.fromiter(items, dtype=dtype, count=total)
    return np.array(list(items), dtype=dtype)


def pad_sequences(
    sequences: Iterable[Any],
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pad (or cut) every sequence to ``maxlen`` items and stack them.

    Args:
        sequences: Rows of scalars: lists, tuples or 1-D arrays, in a list, a pandas
            Series or any iterable. Rows may be empty.
        maxlen: Width of the result; ``None`` takes the longest row.
        dtype: Data type of the result; rows are cast to it as ``np.asarray(row,
            dtype)`` would (floats are cut to ints for an int dtype).
        padding: ``"pre"`` puts the fill value before a short row, ``"post"`` after.
        truncating: ``"pre"`` drops the start of a long row (keeps its last
            ``maxlen`` items), ``"post"`` drops its end.
        value: Fill value of the padding.

    Returns:
        An array of shape ``(len(sequences), maxlen)``.

    Raises:
        ConfigError: If ``padding`` or ``truncating`` is not ``"pre"``/``"post"``, or
            ``maxlen`` is negative.
        DataError: If a row has no length (is not a sequence).

    Note:
        Differences from torch-rechub: bad ``padding``/``truncating`` raise
        :class:`ConfigError` (a ``ValueError``, as in Keras) instead of an
        ``AssertionError``; no rows give a ``(0, 0)`` array instead of an error from
        ``max()``; ``maxlen=0`` gives ``(n, 0)`` instead of failing (``row[-0:]`` keeps
        the whole row there). Items must be scalars, as in torch-rechub (Keras also
        pads rows of vectors).

    Example:
        >>> pad_sequences([[1, 2, 3], [4]], maxlen=2)
        array([[2, 3],
               [0, 4]], dtype=int32)
    """
    if padding not in _SIDES:
        raise ConfigError(f"padding must be 'pre' or 'post', got {padding!r}")
    if truncating not in _SIDES:
        raise ConfigError(f"truncating must be 'pre' or 'post', got {truncating!r}")
    if maxlen is not None and maxlen < 0:
        raise ConfigError(f"maxlen must be >= 0 or None, got {maxlen!r}")
    seqs = sequences if isinstance(sequences, list) else list(sequences)
    lengths = _lengths(seqs)
    if maxlen is None:
        maxlen = int(lengths.max()) if len(seqs) else 0
    target = np.dtype(dtype)
    if len(seqs) > 1:
        ids = np.fromiter(map(id, seqs), dtype=np.uint64, count=len(seqs))
        unique, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        if len(unique) < len(seqs):
            # Rows that are one object (a sample and its negatives share a history) are padded once.
            distinct = list(map(seqs.__getitem__, first.tolist()))
            with gc_paused():
                return _pad(distinct, lengths[first], maxlen, target, padding, truncating, value)[inverse]
    with gc_paused():
        return _pad(seqs, lengths, maxlen, target, padding, truncating, value)


def _pad(
    seqs: list[Any], lengths: np.ndarray, maxlen: int, target: np.dtype, padding: str, truncating: str, value: Any
) -> np.ndarray:
    out = np.full((len(seqs), maxlen), value, dtype=target)
    # Blocks of rows keep the temporary lists and index arrays small enough to stay in cache.
    for lo in range(0, len(seqs), _BLOCK):
        hi = lo + _BLOCK
        _fill(out[lo:hi], seqs[lo:hi], lengths[lo:hi], padding, truncating)
    return out


def _fill(out: np.ndarray, seqs: list[Any], lengths: np.ndarray, padding: str, truncating: str) -> None:
    """Write the kept part of each row of ``seqs`` into its row of ``out``."""
    maxlen = out.shape[1]
    keep = np.minimum(lengths, maxlen)
    start = lengths - keep if truncating == "pre" else np.zeros_like(keep)
    total, kept = int(lengths.sum()), int(keep.sum())
    if total > 2 * kept:
        # Mostly cut away: slice each row to what it keeps, then convert only that.
        seqs = list(map(operator.getitem, seqs, map(slice, start.tolist(), (start + keep).tolist())))
        flat = _flatten(seqs, kept, out.dtype)
    else:
        # Converting a few extra items is cheaper than a new list per row.
        flat = _flatten(seqs, total, out.dtype)
        if total > kept:
            within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            first = np.repeat(start, lengths)
            flat = flat[(within >= first) & (within < first + np.repeat(keep, lengths))]
    # Boolean-mask assignment fills row by row, left to right: the order of `flat`.
    columns = np.arange(maxlen)
    out[columns >= (maxlen - keep)[:, None] if padding == "pre" else columns < keep[:, None]] = flat
