"""Tests for rec_core.datasets.tables.read_table: formats, and one-line errors naming the file."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rec_core.datasets import tables as tables_module
from rec_core.datasets.tables import read_table, table_format
from rec_core.errors import DataError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path, **kwargs: object) -> str:
    with pytest.raises(DataError) as info:
        read_table(path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


FRAME = pd.DataFrame({"user": [3, 1, 2], "city": ["paris", "rome", "oslo"], "price": [1.5, 2.0, np.nan]})


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".csv.gz", ".tsv.bz2", ".parquet", ".pq"])
def test_formats_read_the_same(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"data{suffix}"
    if suffix in (".parquet", ".pq"):
        FRAME.to_parquet(path)
    else:
        FRAME.to_csv(path, sep="\t" if ".tsv" in suffix else ",", index=False)
    df = read_table(path)
    pd.testing.assert_frame_equal(df, FRAME)
    assert list(df.index) == [0, 1, 2]


def test_another_separator(tmp_path: Path) -> None:
    path = write(tmp_path, "views.csv", "session;item\n1;10\n1;11\n")
    assert read_table(path, sep=";").to_dict("list") == {"session": [1, 1], "item": [10, 11]}


def test_recbole_atomic_files(tmp_path: Path) -> None:
    text = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n007\t5\t4\t881250949\n1\t6\t3.5\t881250950\n"
    inter = write(tmp_path, "ml.inter", text)
    df = read_table(inter)
    assert list(df.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert df["user_id"].tolist() == ["007", "1"]  # tokens stay text
    assert df["rating"].dtype == np.float64 and df["timestamp"].tolist() == [881250949.0, 881250950.0]
    packed = tmp_path / "ml.inter.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    pd.testing.assert_frame_equal(read_table(packed), df)
    items = write(tmp_path, "ml.item", "item_id:token\tmovie_title:token_seq\n1\tToy Story\n")
    assert read_table(items).to_dict("list") == {"item_id": ["1"], "movie_title": ["Toy Story"]}
    assert table_format(Path("x.user")) == "atomic"


# ------------------------------------------------------------------ duplicate column names


def test_a_column_named_twice_in_a_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "click,city,click\n1,a,0\n")
    assert error_of(path) == f"column 'click' appears twice in {path}; rename one of them in the header"
    tsv = write(tmp_path, "d.tsv", "a\tb\tb\n1\t2\t3\n")
    assert error_of(tsv) == f"column 'b' appears twice in {tsv}; rename one of them in the header"


def test_a_column_named_twice_in_an_atomic_file(tmp_path: Path) -> None:
    path = write(tmp_path, "d.inter", "item_id:token\titem_id:float\n1\t2\n")
    assert error_of(path) == f"column 'item_id' appears twice in {path}; rename one of them in the header"


def test_a_column_named_twice_in_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["x", "x"]), path)
    assert error_of(path) == f"column 'x' appears twice in {path}; rename one of them in the header"


# ------------------------------------------------------------------ the path and the bytes


def test_file_not_found_and_folder(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    assert error_of(path) == f"file not found: {path}"
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert error_of(folder) == f"{folder} is a directory, not a data file"


def test_unknown_format(tmp_path: Path) -> None:
    path = write(tmp_path, "data.xlsx", "x")
    assert error_of(path) == f"unknown format '.xlsx' of {path}; use .csv, .tsv (optionally .gz) or .parquet"
    bare = write(tmp_path, "data", "x")
    assert error_of(bare) == f"unknown format '(none)' of {bare}; use .csv, .tsv (optionally .gz) or .parquet"


def test_empty_file_and_header_without_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.csv", "")
    assert error_of(path) == f"{path} is empty"
    header = write(tmp_path, "header.csv", "click,city\n")
    assert error_of(header) == f"{header} has no data rows"


def test_unparsable_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", "click,city\n1,a\n0,b,extra\n")
    reason = "Error tokenizing data. C error: Expected 2 fields in line 3, saw 3"
    assert error_of(path) == f"cannot read {path} as CSV: {reason}"


def test_not_utf8(tmp_path: Path) -> None:
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"click,city\n1,\xff\xfe\x00\n")
    assert error_of(binary).startswith(f"cannot read {binary} as CSV: 'utf-8' codec can't decode byte 0xff")


def test_damaged_compressed_file(tmp_path: Path) -> None:
    path = tmp_path / "d.csv.gz"
    path.write_bytes(b"not gzip at all")
    assert error_of(path).startswith(f"cannot read {path}")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "secret.csv", "a\n1\n")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(pd, "read_csv", refuse)
    assert error_of(path) == f"cannot read {path}: Permission denied"


def test_unreadable_parquet(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.parquet", "not parquet")
    assert error_of(path).startswith(f"cannot read {path} as Parquet: ")


def test_parquet_without_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "data.parquet"
    FRAME.to_parquet(path)
    monkeypatch.setattr(tables_module, "_have_pyarrow", lambda: False)
    assert error_of(path) == f"reading {path} needs pyarrow: pip install pyarrow"
