"""Read a user's CSV, TSV or Parquet file and turn it into :class:`CTRData`.

Every check runs before any training: a missing file or column, an unknown format, an
unreadable or empty file, and a missing or non-binary label each raise one
:class:`~rec_core.errors.DataError` whose message names the file, the column and the row.

Column kinds, unless named with ``sparse=`` / ``dense=`` / ``sequence=`` (the rest
are inferred; ``ignore=`` drops columns):

* text, boolean and categorical columns are **sparse**;
* integer columns with at most 1,000 distinct values are **sparse** (ids, codes, small
  counts); those with more are **dense**, so name id columns such as ``user_id`` in
  ``sparse=`` when they have more values;
* floating-point columns are **dense**;
* sequence columns are never inferred.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from rec_core.errors import DataError
from rec_trainers.datasets.common import CTRData, split_indices, take, take_or_none
from rec_trainers.datasets.encoding import TabularEncoder, check_columns, encode_labels

__all__ = ["FORMATS", "MAX_SPARSE_INTEGER_VALUES", "infer_kinds", "load_table", "read_table", "table_format"]

FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zip")
MAX_SPARSE_INTEGER_VALUES = 1000


def table_format(path: Path) -> str:
    """Return ``"csv"``, ``"tsv"`` or ``"parquet"`` from the file name (``.csv.gz`` is CSV).

    Raises:
        DataError: If the extension is none of these.
    """
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in _COMPRESSIONS and FORMATS.get(suffixes[-2]) in ("csv", "tsv"):
        return FORMATS[suffixes[-2]]
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        shown = "".join(path.suffixes[-2:]) or "(none)"
        raise DataError(f"unknown format {shown!r} of {path}; use .csv, .tsv (optionally .gz) or .parquet")
    return fmt


def _have_pyarrow() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (comma), TSV (tab) or Parquet file into a DataFrame with a 0-based row index.

    Raises:
        DataError: If the file does not exist, has an unknown extension, cannot be
            parsed, or has no data rows; or pyarrow is missing for a Parquet file.
    """
    source = Path(path)
    if not source.exists():
        raise DataError(f"file not found: {source}")
    if source.is_dir():
        raise DataError(f"{source} is a directory, not a data file")
    fmt = table_format(source)
    if fmt == "parquet":
        df = _read_parquet(source)
    else:
        try:
            df = pd.read_csv(source, sep="," if fmt == "csv" else "\t")
        except pd.errors.EmptyDataError:
            raise DataError(f"{source} is empty") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
            reason = " ".join(str(exc).split())
            raise DataError(f"cannot read {source} as {fmt.upper()}: {reason}") from None
    if len(df) == 0:
        raise DataError(f"{source} has no data rows")
    return df.reset_index(drop=True)


def _read_parquet(source: Path) -> pd.DataFrame:
    if not _have_pyarrow():
        raise DataError(f'reading {source} needs pyarrow: pip install "rec-trainers[parquet]"')
    try:
        return pd.read_parquet(source, engine="pyarrow")
    except Exception as exc:  # pyarrow raises its own ArrowInvalid, OSError, ...
        reason = " ".join(str(exc).split())
        raise DataError(f"cannot read {source} as Parquet: {reason}") from None


def infer_kinds(df: pd.DataFrame, columns: Sequence[str], source: str) -> dict[str, str]:
    """Return ``"sparse"`` or ``"dense"`` for each of ``columns``, by the module's rule.

    Raises:
        DataError: If a column's type fits neither kind (e.g. dates).
    """
    kinds: dict[str, str] = {}
    for name in columns:
        column = df[name]
        dtype = column.dtype
        if (
            pd.api.types.is_bool_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
            or pd.api.types.is_string_dtype(dtype)
            or pd.api.types.is_object_dtype(dtype)
        ):
            kinds[name] = "sparse"
        elif pd.api.types.is_integer_dtype(dtype):
            kinds[name] = "sparse" if column.nunique() <= MAX_SPARSE_INTEGER_VALUES else "dense"
        elif pd.api.types.is_float_dtype(dtype):
            kinds[name] = "dense"
        else:
            raise DataError(
                f"column {name!r} in {source} has type {dtype}, which is neither sparse nor dense; "
                "name it in sparse or dense, or ignore it"
            )
    return kinds


def _resolve_kinds(
    df: pd.DataFrame,
    label: str,
    source: str,
    explicit: dict[str, list[str]],
    ignore: list[str],
) -> dict[str, list[str]]:
    """Check the named columns and infer the kinds of the others."""
    check_columns(df, [label], source, "label column")
    seen: dict[str, str] = {}
    for kind, names in explicit.items():
        check_columns(df, names, source, f"{kind} column")
        for name in names:
            if name == label:
                raise DataError(f"{kind} column {name!r} of {source} is the label column")
            if name in seen and seen[name] != kind:
                raise DataError(f"column {name!r} of {source} is named both {seen[name]} and {kind}")
            seen[name] = kind
    check_columns(df, ignore, source, "ignored column")
    rest = [c for c in df.columns if c != label and c not in seen and c not in ignore]
    inferred = infer_kinds(df, rest, source)
    kinds = {kind: [c for c in df.columns if seen.get(c, inferred.get(c)) == kind] for kind in explicit}
    if not any(kinds.values()):
        raise DataError(f"{source} has no feature columns besides the label {label!r}")
    return kinds


def load_table(
    path: str | Path,
    *,
    label: str,
    sparse: Sequence[str] | None = None,
    dense: Sequence[str] | None = None,
    sequence: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    min_count: int = 1,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 2022,
    embed_dim: int | None = None,
) -> CTRData:
    """Read a labelled table, split it with ``seed`` and encode it (fitted on the train rows).

    Args:
        path: A ``.csv``, ``.tsv`` (optionally compressed) or ``.parquet`` file.
        label: The 0/1 label column.
        sparse: Columns to treat as categorical; others are inferred (module docs).
        dense: Columns to treat as numeric.
        sequence: Columns of id lists (``"3|17|9"``).
        ignore: Columns to leave out.
        min_count: Categories seen fewer times in the train rows map to id 0.
        split: ``(train, val, test)`` fractions; a 0 leaves that split out.
        seed: Seed of the random split.
        embed_dim: Embedding size of every sparse and sequence feature (default 16).

    Returns:
        The :class:`CTRData`, with the fitted :class:`TabularEncoder` in ``encoder``.

    Raises:
        DataError: On any problem with the file or its columns (see the module docs).
        ConfigError: If ``split`` is not three fractions summing to 1.
    """
    source = Path(path)
    df = read_table(source)
    name = str(source)
    explicit = {"sparse": list(sparse or []), "dense": list(dense or []), "sequence": list(sequence or [])}
    kinds = _resolve_kinds(df, label, name, explicit, list(ignore or []))
    labels = encode_labels(df, label, name)
    encoder = TabularEncoder(**kinds, label=label, min_count=min_count)
    encoder.validate(df, name)  # so an error names the file's first bad row, whichever split it falls in
    train_rows, val_rows, test_rows = split_indices(len(df), split, seed)
    encoder.fit(df.iloc[train_rows], name)
    columns = encoder.transform(df, name)
    return CTRData(
        name=source.name,
        label=label,
        features=encoder.features(embed_dim),
        train=take(columns, labels, train_rows),
        val=take_or_none(columns, labels, val_rows),
        test=take_or_none(columns, labels, test_rows),
        encoder=encoder,
        info={
            "file": name,
            "rows": len(df),
            "train_rows": len(train_rows),
            "val_rows": len(val_rows),
            "test_rows": len(test_rows),
            "positive_rate": round(float(labels.mean()), 4),
            **{kind: names for kind, names in kinds.items() if names},
        },
    )
