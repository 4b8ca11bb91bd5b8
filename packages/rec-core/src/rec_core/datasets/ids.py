"""The one id rule of rec: id 0 is padding and unknown, real values are ``1..n``.

Every categorical value that reaches a model (a sparse column, a sequence token, a user,
an item) is encoded by an :class:`IdEncoder`, so an embedding table's row 0 is always
free for padding and for values the encoder has not seen. Values are known by their text
(:func:`canonical_text`): ``5`` and ``5.0`` are the same value, a missing value is
``"<NA>"``.

:func:`encode_ids` encodes whole columns at once in the values' natural order (numbers
numerically, text alphabetically), which is what named data sets use; the
:class:`~rec_core.datasets.encoding.TabularEncoder` orders its vocabularies by frequency.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["MISSING_TOKEN", "PADDING_ID", "IdEncoder", "canonical_text", "encode_ids"]

PADDING_ID = 0
MISSING_TOKEN = "<NA>"


def canonical_text(value: Any) -> str:
    """Return the text a value is known by: integral numbers without ``.0``, missing as ``<NA>``."""
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        return MISSING_TOKEN
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if type(value).__name__ == "NAType":  # pandas.NA, without importing pandas
        return MISSING_TOKEN
    return str(value)


class IdEncoder:
    """Map values to ids ``1..n`` in a fixed order; id 0 is padding and every unknown value.

    Args:
        values: The known values as text; ``values[i]`` gets id ``i + 1``.

    Example:
        >>> enc = IdEncoder(["paris", "rome"])
        >>> enc.encode(["rome", "oslo", "paris"]).tolist(), enc.vocab_size
        ([2, 0, 1], 3)
    """

    def __init__(self, values: Iterable[str]) -> None:
        self.values = list(values)
        self._index: dict[str, int] | None = None

    @classmethod
    def by_frequency(cls, counts: Counter[str], min_count: int = 1) -> IdEncoder:
        """Return the encoder of the values counted at least ``min_count`` times, most frequent first (ties by text)."""
        kept = [(token, n) for token, n in counts.items() if n >= min_count]
        kept.sort(key=lambda item: (-item[1], item[0]))
        return cls(token for token, _ in kept)

    @property
    def vocab_size(self) -> int:
        """Return the number of ids, padding id 0 included (the embedding table's rows)."""
        return len(self.values) + 1

    @property
    def ids(self) -> list[str]:
        """Return the value of each id as text, ``""`` for the padding id 0."""
        return ["", *self.values]

    def index(self) -> dict[str, int]:
        """Return value text -> id."""
        if self._index is None:
            self._index = {token: i + 1 for i, token in enumerate(self.values)}
        return self._index

    def encode(self, values: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Return the ``int64`` id of each value; values not in the encoder get 0.

        Each distinct value is formatted once (via ``pandas.factorize``), however many rows there are.
        """
        import pandas as pd

        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        index = self.index()
        lookup = np.array([index.get(canonical_text(v), 0) for v in uniques] + [index.get(MISSING_TOKEN, 0)])
        return lookup.astype(np.int64)[codes]  # code -1 (missing) picks the last entry

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Return the value text of each id (``""`` for 0).

        Raises:
            IndexError: If an id is not below :attr:`vocab_size`.
        """
        table = self.ids
        return [table[int(i)] for i in ids]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdEncoder):
            return NotImplemented
        return self.values == other.values

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"IdEncoder({len(self.values)} values)"


def encode_ids(*columns: Sequence[Any] | np.ndarray) -> tuple[list[np.ndarray], IdEncoder]:
    """Encode one categorical column given in parts (e.g. train, validation, test files) with one encoder.

    The distinct values, in natural order (numbers numerically, text alphabetically), get
    ids ``1..n``; a missing value gets 0.

    Args:
        *columns: The column's values in each part (arrays or pandas Series of one type).

    Returns:
        One ``int64`` id array per part, and the encoder (``values`` as text, in id order).

    Example:
        >>> (a, b), enc = encode_ids([30, 10, 20], [10, 40])
        >>> a.tolist(), b.tolist(), enc.values
        ([3, 1, 2], [1, 4], ['10', '20', '30', '40'])
    """
    import pandas as pd

    joined = pd.concat([pd.Series(np.asarray(c)) for c in columns], ignore_index=True)
    codes, uniques = pd.factorize(joined, sort=True, use_na_sentinel=True)
    ids = codes.astype(np.int64) + 1  # missing (-1) -> 0
    bounds = np.cumsum([len(c) for c in columns])[:-1]
    return list(np.split(ids, bounds)), IdEncoder(canonical_text(v) for v in uniques)
