"""Read a table file (CSV, TSV, Parquet or a RecBole atomic file) into a DataFrame, or say why not.

The format comes from the file name:

* ``.csv`` (comma) and ``.tsv`` (tab), each optionally compressed (``.gz``, ``.bz2``, ``.xz``,
  ``.zst``, ``.zip``); another separator (``;``) can be given with ``sep``;
* ``.parquet`` / ``.pq`` (needs pyarrow: ``pip install pyarrow``);
* RecBole's atomic files ``.inter``, ``.item``, ``.user`` (optionally ``.gz``): tab-separated
  with a ``name:type`` header, e.g. ``user_id:token``; the columns are named without the
  type, ``token`` and ``token_seq`` columns are read as text and ``float`` ones as numbers.

Every problem is one :class:`~rec_core.errors.DataError` naming the file: a missing path, a
folder, an unreadable or undecodable file, an unknown extension, an empty file, a header
without rows, and a header that names a column twice (pandas would silently rename the
second ``name.1``).
"""

from __future__ import annotations

import importlib.util
import lzma
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from rec_core.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ATOMIC_TYPES", "FORMATS", "read_table", "table_format"]

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".inter": "atomic",
    ".item": "atomic",
    ".user": "atomic",
}
_TEXT_FORMATS = ("csv", "tsv", "atomic")
_SEPARATORS = {"csv": ",", "tsv": "\t", "atomic": "\t"}
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zip")
ATOMIC_TYPES = {"token": "str", "token_seq": "str", "float": "float64", "float_seq": "str"}
"""RecBole atomic column type -> the dtype it is read as (unknown types are read as text)."""

_READ_ERRORS: tuple[type[BaseException], ...] = (
    UnicodeDecodeError,
    ValueError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    zipfile.BadZipFile,
)


def table_format(path: Path) -> str:
    """Return ``"csv"``, ``"tsv"``, ``"parquet"`` or ``"atomic"`` from the file name (``.csv.gz`` is CSV).

    Raises:
        DataError: If the extension is none of these.
    """
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in _COMPRESSIONS and FORMATS.get(suffixes[-2]) in _TEXT_FORMATS:
        return FORMATS[suffixes[-2]]
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        shown = "".join(path.suffixes[-2:]) or "(none)"
        raise DataError(f"unknown format {shown!r} of {path}; use .csv, .tsv (optionally .gz) or .parquet")
    return fmt


def read_table(path: str | Path, *, sep: str | None = None) -> pd.DataFrame:
    """Read a table file (see the module docs) into a DataFrame with a 0-based row index.

    Args:
        path: The file.
        sep: Column separator of a CSV/TSV file instead of the one its extension implies.

    Raises:
        DataError: If the path is missing or a folder, the file cannot be read or parsed,
            has an unknown extension, no data rows or a column name twice; or pyarrow is
            missing for a Parquet file.
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
        df = _read_text(source, fmt, sep or _SEPARATORS[fmt])
    if len(df) == 0:
        raise DataError(f"{source} has no data rows")
    return df.reset_index(drop=True)


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _check_unique(names: list[str], source: Path) -> None:
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        raise DataError(f"column {repeated[0]!r} appears twice in {source}; rename one of them in the header")


def _read_text(source: Path, fmt: str, sep: str) -> pd.DataFrame:
    import pandas as pd

    shown = "a RecBole atomic file" if fmt == "atomic" else fmt.upper()
    try:
        header = pd.read_csv(source, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
        raw = [str(name) for name in header.iloc[0]] if len(header) else []
        names = [name.split(":", 1)[0] for name in raw] if fmt == "atomic" else raw
        _check_unique(names, source)
        if fmt != "atomic":
            return pd.read_csv(source, sep=sep)
        types = [name.split(":", 1)[1] if ":" in name else "" for name in raw]
        dtypes = {name: ATOMIC_TYPES.get(kind, "str") for name, kind in zip(names, types, strict=True) if kind}
        return pd.read_csv(source, sep=sep, header=0, names=names, dtype=dtypes, keep_default_na=False)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{source} is empty") from None
    except OSError as exc:
        raise DataError(f"cannot read {source}: {exc.strerror or _reason(exc)}") from None
    except (pd.errors.ParserError, *_READ_ERRORS) as exc:
        raise DataError(f"cannot read {source} as {shown}: {_reason(exc)}") from None


def _have_pyarrow() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def _read_parquet(source: Path) -> pd.DataFrame:
    import pandas as pd

    if not _have_pyarrow():
        raise DataError(f"reading {source} needs pyarrow: pip install pyarrow")
    try:
        import pyarrow.parquet as pq

        _check_unique(list(pq.read_schema(source).names), source)
        return pd.read_parquet(source, engine="pyarrow")
    except DataError:
        raise
    except OSError as exc:
        if exc.strerror:
            raise DataError(f"cannot read {source}: {exc.strerror}") from None
        raise DataError(f"cannot read {source} as Parquet: {_reason(exc)}") from None
    except Exception as exc:  # pyarrow raises its own ArrowInvalid and friends
        raise DataError(f"cannot read {source} as Parquet: {_reason(exc)}") from None
