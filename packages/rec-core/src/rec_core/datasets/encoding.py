"""Encode a table's columns as model inputs, with an encoding that can be saved and reused.

A :class:`TabularEncoder` is fitted on the training rows only and then applied to any
table with the same columns (validation and test rows, or a new file scored by
``rec predict``):

* sparse columns: a vocabulary per column, most frequent value first, with ids ``1..n``
  (:class:`~rec_core.datasets.ids.IdEncoder`); id 0 stands for values not in the
  vocabulary (unseen, or seen fewer than ``min_count`` times). Values are compared as
  text, so ``5`` and ``5.0`` are the same value and a missing value is the value ``"<NA>"``;
* dense columns: standardised with the training rows' mean and standard deviation;
  missing values become 0 (the mean);
* sequence columns: id lists written as ``"3|17|9"`` (``,``, ``;`` or spaces work too) or
  held as lists, encoded with a vocabulary like sparse columns, keeping the last
  ``max_len`` ids (the longest training sequence, at most 100) and right-padded with 0;
  id 0 (padding) also stands for unknown values.

Rows in error messages are counted from 1, the first data row under the header.

The saved format (``rec-tabular-encoder`` version 1) lists each column's vocabulary in id
order without the padding id; it is what ``rec predict`` reads back from a run folder.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rec_core.datasets.ids import MISSING_TOKEN, IdEncoder, canonical_text
from rec_core.errors import DataError

if TYPE_CHECKING:
    from rec_core.features import DenseFeature, SequenceFeature, SparseFeature

__all__ = ["TabularEncoder", "check_columns", "encode_labels", "encode_values", "row_number"]

FORMAT_NAME = "rec-tabular-encoder"
FORMAT_VERSION = 1
MAX_SEQUENCE_LEN = 100
DEFAULT_EMBED_DIM = 16
_SEPARATORS = re.compile(r"[|,;\s]+")


def row_number(df: pd.DataFrame, position: int) -> int:
    """Return the 1-based file row of the row at ``position`` (tables keep the file's row index)."""
    index = df.index[position]
    if isinstance(index, (int, np.integer)):
        return int(index) + 1
    return position + 1


def _show(value: Any) -> str:
    """Format a cell value for an error message: numbers plainly (``2``, ``0.5``), text quoted (``'yes'``)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return format(float(value), "g")
    return repr(str(value))


def check_columns(df: pd.DataFrame, names: Iterable[str], source: str, role: str = "column") -> None:
    """Raise :class:`DataError` naming the first of ``names`` that ``df`` lacks.

    Args:
        df: The table.
        names: Columns that must be present.
        source: File name for the message.
        role: What the column is, e.g. ``"label column"`` or ``"sparse column"``.
    """
    for name in names:
        if name not in df.columns:
            available = ", ".join(map(str, df.columns))
            raise DataError(f"{role} {name!r} missing in {source} (columns: {available})")


def encode_labels(df: pd.DataFrame, label: str, source: str) -> np.ndarray:
    """Return a binary label column as ``float32`` 0/1, after checking every row.

    Booleans and the numbers 0 and 1 are accepted.

    Raises:
        DataError: If the column is missing, or a row holds a missing or non-binary
            value (the first such row is named).
    """
    check_columns(df, [label], source, "label column")
    column = df[label]
    raw = column.to_numpy(dtype=object)
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    missing = pd.isna(column).to_numpy()
    bad = missing | ~np.isin(numbers, (0.0, 1.0))
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        row = row_number(df, position)
        if missing[position]:
            raise DataError(f"label {label!r} in {source} is missing (NaN) at row {row}")
        raise DataError(f"label {label!r} in {source} has value {_show(raw[position])} at row {row}; expected 0 or 1")
    return numbers.astype(np.float32)


def encode_values(df: pd.DataFrame, name: str, source: str) -> np.ndarray:
    """Return a regression target column as ``float32``, after checking every row is a finite number.

    Raises:
        DataError: If the column is missing, or a row holds a missing, non-numeric or infinite
            value (the first such row is named).
    """
    check_columns(df, [name], source, "label column")
    column = df[name]
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        row = row_number(df, position)
        if pd.isna(column.iloc[position]):
            raise DataError(f"label {name!r} in {source} is missing (NaN) at row {row}")
        value = _show(column.to_numpy(dtype=object)[position])
        raise DataError(f"label {name!r} in {source} has value {value} at row {row}; expected a finite number")
    return numbers.astype(np.float32)


def _factorized(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Return ``(codes, names)``: each row's code into ``names``, the canonical text of each distinct value.

    Factorising first formats every distinct value once, however many rows there are.
    """
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    names = [canonical_text(v) for v in uniques] + [MISSING_TOKEN]
    codes = np.where(codes < 0, len(names) - 1, codes)  # missing -> the last name
    return codes, names


def _sequences(column: pd.Series) -> list[list[str]]:
    """Split every cell of a sequence column into its tokens."""
    result: list[list[str]] = []
    for cell in column.to_numpy(dtype=object):
        if isinstance(cell, str):
            result.append([t for t in _SEPARATORS.split(cell.strip()) if t])
        elif isinstance(cell, (list, tuple, np.ndarray)):
            result.append([canonical_text(v) for v in cell])
        elif canonical_text(cell) == MISSING_TOKEN:
            result.append([])
        else:
            result.append([canonical_text(cell)])
    return result


class TabularEncoder:
    """Turn a table's sparse, dense and sequence columns into model-ready arrays.

    Args:
        sparse: Categorical columns (one id each).
        dense: Numeric columns.
        sequence: Columns of id lists.
        label: The label column, or the list of them (kept for reference; never encoded as a feature).
        min_count: Sparse and sequence values seen fewer times in the training rows map
            to id 0.

    Example:
        >>> import pandas as pd
        >>> enc = TabularEncoder(sparse=["city"], dense=["age"]).fit(
        ...     pd.DataFrame({"city": ["a", "b", "a"], "age": [20.0, 30.0, 40.0]}))
        >>> enc.transform(pd.DataFrame({"city": ["a", "zz"], "age": [30.0, None]}))["city"].tolist()
        [1, 0]
    """

    def __init__(
        self,
        *,
        sparse: Sequence[str] = (),
        dense: Sequence[str] = (),
        sequence: Sequence[str] = (),
        label: str | Sequence[str] | None = None,
        min_count: int = 1,
    ) -> None:
        self.sparse = list(sparse)
        self.dense = list(dense)
        self.sequence = list(sequence)
        self.label = label if label is None or isinstance(label, str) else list(label)
        self.min_count = int(min_count)
        self.vocabs: dict[str, list[str]] = {}
        self.stats: dict[str, tuple[float, float]] = {}
        self.max_lens: dict[str, int] = {}
        self._encoders: dict[str, IdEncoder] = {}
        self._fitted = False

    @property
    def columns(self) -> list[str]:
        """Return the encoded columns: sparse, then dense, then sequence."""
        return [*self.sparse, *self.dense, *self.sequence]

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`load`) has run."""
        return self._fitted

    def vocab_size(self, column: str) -> int:
        """Return the number of ids of a sparse or sequence column, id 0 included."""
        return len(self.vocabs[column]) + 1

    def validate(self, df: pd.DataFrame, source: str = "data") -> None:
        """Check that ``df`` has every column and numeric dense values, without encoding it.

        Raises:
            DataError: Naming the missing column, or the first row with a bad dense value.
        """
        check_columns(df, self.columns, source)
        for name in self.dense:
            self._dense_values(df, name, source)

    def fit(self, df: pd.DataFrame, source: str = "data") -> TabularEncoder:
        """Learn vocabularies and dense statistics from the training rows ``df``.

        Raises:
            DataError: If a column is missing or a dense value is not numeric.
        """
        check_columns(df, self.columns, source)
        for name in self.sparse:
            codes, names = _factorized(df[name])
            counts: Counter[str] = Counter()
            for token, n in zip(names, np.bincount(codes, minlength=len(names)).tolist(), strict=True):
                counts[token] += n
            self.vocabs[name] = IdEncoder.by_frequency(counts, self.min_count).values
        for name in self.dense:
            values = self._dense_values(df, name, source)
            finite = values[~np.isnan(values)]
            mean = float(finite.mean()) if len(finite) else 0.0
            std = float(finite.std()) if len(finite) else 1.0
            self.stats[name] = (mean, std if std > 0 else 1.0)
        for name in self.sequence:
            seqs = _sequences(df[name])
            self.vocabs[name] = IdEncoder.by_frequency(Counter(t for seq in seqs for t in seq), self.min_count).values
            self.max_lens[name] = max(1, min(MAX_SEQUENCE_LEN, max((len(s) for s in seqs), default=1)))
        self._encoders = {}
        self._fitted = True
        return self

    def transform(self, df: pd.DataFrame, source: str = "data") -> dict[str, np.ndarray]:
        """Encode ``df``: ``int64`` ids for sparse, ``float32`` for dense, ``(rows, max_len)`` ids for sequences.

        Raises:
            DataError: If the encoder is not fitted, a column is missing (named, with the
                columns present) or a dense value is not numeric.
        """
        if not self.fitted:
            raise DataError("TabularEncoder.transform called before fit (or load)")
        check_columns(df, self.columns, source)
        out: dict[str, np.ndarray] = {}
        for name in self.sparse:
            out[name] = self._encoder(name).encode(df[name])
        for name in self.dense:
            mean, std = self.stats[name]
            values = (self._dense_values(df, name, source) - mean) / std
            out[name] = np.nan_to_num(values, nan=0.0).astype(np.float32)
        for name in self.sequence:
            index, width = self._encoder(name).index(), self.max_lens[name]
            padded = np.zeros((len(df), width), dtype=np.int64)
            for row, seq in enumerate(_sequences(df[name])):
                ids = [index.get(t, 0) for t in seq[-width:]]
                padded[row, : len(ids)] = ids
            out[name] = padded
        return out

    def features(self, embed_dim: int | None = None) -> list[SparseFeature | DenseFeature | SequenceFeature]:
        """Return one feature definition per encoded column (sparse, dense, sequence).

        Args:
            embed_dim: Embedding size of sparse and sequence features; ``None`` gives
                16 to every one (FM-style models need one common size).
        """
        from rec_core.features import DenseFeature, SequenceFeature, SparseFeature

        dim = DEFAULT_EMBED_DIM if embed_dim is None else embed_dim
        features: list[SparseFeature | DenseFeature | SequenceFeature] = [
            SparseFeature(name, self.vocab_size(name), dim) for name in self.sparse
        ]
        features += [DenseFeature(name) for name in self.dense]
        features += [SequenceFeature(name, self.vocab_size(name), dim, "mean", padding_idx=0) for name in self.sequence]
        return features

    def to_dict(self) -> dict[str, Any]:
        """Return the fitted encoding as plain JSON-able data."""
        columns: list[dict[str, Any]] = [{"name": n, "kind": "sparse", "vocab": self.vocabs[n]} for n in self.sparse]
        columns += [{"name": n, "kind": "dense", "mean": self.stats[n][0], "std": self.stats[n][1]} for n in self.dense]
        columns += [
            {"name": n, "kind": "sequence", "vocab": self.vocabs[n], "max_len": self.max_lens[n]} for n in self.sequence
        ]
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "label": self.label,
            "min_count": self.min_count,
            "columns": columns,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "encoder") -> TabularEncoder:
        """Rebuild an encoder from :meth:`to_dict` output.

        Raises:
            DataError: If ``data`` is not a rec tabular encoding of a known version.
        """
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise DataError(f"{source} is not a rec tabular encoder file")
        if data.get("format_version") != FORMAT_VERSION:
            raise DataError(
                f"{source} has encoder format version {data.get('format_version')!r}; "
                f"this rec-core reads version {FORMAT_VERSION}"
            )
        try:
            columns = data["columns"]
            kinds = {
                kind: [c["name"] for c in columns if c["kind"] == kind] for kind in ("sparse", "dense", "sequence")
            }
            encoder = cls(**kinds, label=data.get("label"), min_count=int(data.get("min_count", 1)))
            for column in columns:
                if column["kind"] in ("sparse", "sequence"):
                    encoder.vocabs[column["name"]] = [str(t) for t in column["vocab"]]
                if column["kind"] == "dense":
                    encoder.stats[column["name"]] = (float(column["mean"]), float(column["std"]))
                if column["kind"] == "sequence":
                    encoder.max_lens[column["name"]] = int(column["max_len"])
            encoder._fitted = True
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{source} is a damaged encoder file ({type(exc).__name__}: {exc})") from None
        return encoder

    def save(self, path: str | Path) -> Path:
        """Write the encoding as JSON to ``path`` (atomically) and return the path."""
        from rec_core.files import write_json_atomically

        target = Path(path)
        write_json_atomically(target, self.to_dict())
        return target

    @classmethod
    def load(cls, path: str | Path) -> TabularEncoder:
        """Read an encoding written by :meth:`save`.

        Raises:
            DataError: If the file is missing, not JSON or not an encoder file.
        """
        source = Path(path)
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"encoder file not found: {source}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read encoder file {source}: {exc}") from None
        return cls.from_dict(data, str(source))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TabularEncoder):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"TabularEncoder(sparse={self.sparse}, dense={self.dense}, sequence={self.sequence}, "
            f"label={self.label!r}, min_count={self.min_count})"
        )

    def _encoder(self, name: str) -> IdEncoder:
        encoder = self._encoders.get(name)
        if encoder is None:
            encoder = self._encoders[name] = IdEncoder(self.vocabs[name])
        return encoder

    @staticmethod
    def _dense_values(df: pd.DataFrame, name: str, source: str) -> np.ndarray:
        """Return a dense column as float64 (NaN where missing), refusing text and infinities."""
        column = df[name]
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
        bad = (np.isnan(values) & ~pd.isna(column).to_numpy()) | np.isinf(values)
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            value = column.to_numpy(dtype=object)[position]
            raise DataError(
                f"dense column {name!r} in {source} has non-numeric value {_show(value)} "
                f"at row {row_number(df, position)}"
            )
        return values
