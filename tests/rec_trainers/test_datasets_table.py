"""Tests for user tables: load_table, column inference, TabularEncoder and every bad-data error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rec_core.errors import ConfigError, DataError
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
from rec_trainers.datasets import TabularEncoder, infer_kinds, load_table, read_table
from rec_trainers.datasets import table as table_module
from rec_trainers.datasets.common import split_indices
from tests.rec_trainers.test_datasets import check_ctr_data


def make_frame(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "click": rng.integers(0, 2, rows),
            "city": rng.choice(["paris", "rome", "oslo"], rows),
            "age": rng.integers(18, 60, rows),
            "user_id": np.arange(rows) * 7 + 100_000,
            "price": rng.normal(10, 3, rows),
            "member": rng.random(rows) < 0.5,
        }
    )


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "clicks.csv"
    make_frame().to_csv(path, index=False)
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------ loading


def test_load_table_infers_kinds_and_splits(csv_file: Path) -> None:
    data = load_table(csv_file, label="click")
    check_ctr_data(data)
    assert data.name == "clicks.csv" and data.label == "click"
    kinds = {f.name: type(f) for f in data.features}
    assert kinds == {
        "city": SparseFeature,  # text
        "age": SparseFeature,  # integer with few values
        "user_id": SparseFeature,  # 200 distinct integers: still at most 1,000
        "price": DenseFeature,  # float
        "member": SparseFeature,  # boolean
    }
    assert [len(p[1]) for p in (data.train, data.val, data.test)] == [160, 20, 20]
    assert data.info["rows"] == 200 and data.info["file"] == str(csv_file)
    assert data.encoder is not None and data.encoder.label == "click"
    assert {f.embed_dim for f in data.features if isinstance(f, SparseFeature)} == {16}


def test_inference_rule() -> None:
    df = pd.DataFrame(
        {
            "text": ["a", "b"] * 1000,
            "flag": [True, False] * 1000,
            "cat": pd.Categorical(["x", "y"] * 1000),
            "few_ints": np.arange(2000) % 50,
            "many_ints": np.arange(2000),
            "floats": np.linspace(0, 1, 2000),
            "int_floats": np.arange(2000) % 3 * 1.0,
        }
    )
    assert infer_kinds(df, list(df.columns), "t.csv") == {
        "text": "sparse",
        "flag": "sparse",
        "cat": "sparse",
        "few_ints": "sparse",
        "many_ints": "dense",
        "floats": "dense",
        "int_floats": "dense",
    }
    dates = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    with pytest.raises(DataError, match=r"column 'when' in t\.csv has type datetime64"):
        infer_kinds(dates, ["when"], "t.csv")


def test_explicit_kinds_override_inference_and_ignore_drops(csv_file: Path) -> None:
    data = load_table(csv_file, label="click", sparse=["user_id"], dense=["age"], ignore=["member"], embed_dim=8)
    kinds = {f.name: type(f) for f in data.features}
    assert kinds == {"city": SparseFeature, "age": DenseFeature, "user_id": SparseFeature, "price": DenseFeature}
    assert {f.embed_dim for f in data.features if isinstance(f, SparseFeature)} == {8}
    assert data.info["sparse"] == ["city", "user_id"] and data.info["dense"] == ["age", "price"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".csv.gz", ".parquet"])
def test_formats_load_the_same(tmp_path: Path, suffix: str) -> None:
    frame = make_frame(50)
    path = tmp_path / f"data{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    reference = tmp_path / "reference.csv"
    frame.to_csv(reference, index=False)
    a = load_table(path, label="click", dense=["price"], sparse=["city", "age", "member", "user_id"])
    b = load_table(reference, label="click", dense=["price"], sparse=["city", "age", "member", "user_id"])
    for name in a.train[0]:
        assert np.allclose(a.train[0][name], b.train[0][name]), name
    assert np.array_equal(a.test[1], b.test[1])


def test_split_is_seeded_and_val_test_may_be_left_out(csv_file: Path) -> None:
    a, b = load_table(csv_file, label="click", seed=3), load_table(csv_file, label="click", seed=3)
    c = load_table(csv_file, label="click", seed=4)
    assert np.array_equal(a.train[0]["price"], b.train[0]["price"])
    assert not np.array_equal(a.train[0]["price"], c.train[0]["price"])
    only_train = load_table(csv_file, label="click", split=(1.0, 0.0, 0.0))
    assert only_train.val is None and only_train.test is None and len(only_train.train[1]) == 200
    with pytest.raises(ConfigError, match="split must be"):
        load_table(csv_file, label="click", split=(0.5, 0.1))


def test_labels_accept_booleans_and_floats(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "y,a\nTrue,x\nFalse,y\nTrue,x\n")
    assert sorted(load_table(path, label="y", split=(1, 0, 0)).train[1].tolist()) == [0.0, 1.0, 1.0]
    path = write(tmp_path, "f.csv", "y,a\n1.0,x\n0.0,y\n")
    assert sorted(load_table(path, label="y", split=(1, 0, 0)).train[1].tolist()) == [0.0, 1.0]


# ------------------------------------------------------------------ encoder


def test_encoder_is_fitted_on_the_train_rows_only(tmp_path: Path) -> None:
    frame = make_frame(100)
    train, val, test = split_indices(100, (0.8, 0.1, 0.1), seed=2022)
    frame.loc[test[0], "city"] = "lima"  # a city seen only in the test split
    frame.loc[val, "price"] = 1_000.0  # extreme prices outside train must not move the scaling
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    data = load_table(path, label="click")
    encoder = data.encoder
    assert encoder is not None
    assert "lima" not in encoder.vocabs["city"]
    assert data.test[0]["city"][0] == 0  # OOV
    assert data.train[0]["city"].min() >= 1
    mean, _ = encoder.stats["price"]
    assert abs(mean - frame.loc[train, "price"].mean()) < 1e-9
    assert abs(data.train[0]["price"].mean()) < 1e-5 and abs(data.train[0]["price"].std() - 1) < 1e-3


def test_encoder_vocabulary_order_oov_and_min_count() -> None:
    df = pd.DataFrame({"c": ["a", "b", "b", "c", "c", "c", None], "x": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0]})
    enc = TabularEncoder(sparse=["c"], dense=["x"]).fit(df)
    assert enc.vocabs["c"] == ["c", "b", "<NA>", "a"]  # most frequent first, ties by text
    assert enc.vocab_size("c") == 5
    out = enc.transform(pd.DataFrame({"c": ["c", "a", "zzz", None], "x": [np.nan, 1.0, 2.0, 3.0]}))
    assert out["c"].tolist() == [1, 4, 0, 3]
    assert out["x"][0] == 0.0 and out["x"].dtype == np.float32  # NaN -> the mean
    rare = TabularEncoder(sparse=["c"], min_count=2).fit(df)
    assert rare.vocabs["c"] == ["c", "b"]
    assert rare.transform(pd.DataFrame({"c": ["a", "b", "c"]}))["c"].tolist() == [0, 2, 1]


def test_encoder_treats_5_and_5_point_0_alike() -> None:
    enc = TabularEncoder(sparse=["n"]).fit(pd.DataFrame({"n": [5, 6, 5]}))
    assert enc.transform(pd.DataFrame({"n": [5.0, np.nan, 6.0]}))["n"].tolist() == [1, 0, 2]


def test_encoder_sequences() -> None:
    df = pd.DataFrame({"hist": ["1|2|3", "2", None, "3,3;4 5"]})
    enc = TabularEncoder(sequence=["hist"]).fit(df)
    assert enc.max_lens["hist"] == 4
    out = enc.transform(pd.DataFrame({"hist": ["3|9", "1|2|3|4|5|3", ""]}))["hist"]
    ids = {t: i + 1 for i, t in enumerate(enc.vocabs["hist"])}
    assert out.tolist() == [
        [ids["3"], 0, 0, 0],  # unknown 9 -> 0
        [ids["3"], ids["4"], ids["5"], ids["3"]],  # the last max_len ids
        [0, 0, 0, 0],
    ]
    (feature,) = enc.features(embed_dim=4)
    assert isinstance(feature, SequenceFeature) and feature.padding_idx == 0 and feature.vocab_size == 6


def test_encoder_save_load_round_trip(csv_file: Path, tmp_path: Path) -> None:
    data = load_table(csv_file, label="click", min_count=2)
    encoder = data.encoder
    assert encoder is not None
    saved = encoder.save(tmp_path / "run" / "encoder.json")
    loaded = TabularEncoder.load(saved)
    assert loaded == encoder and loaded.label == "click" and loaded.min_count == 2
    frame = read_table(csv_file)
    a, b = encoder.transform(frame), loaded.transform(frame)
    assert list(a) == list(b)
    for name in a:
        assert np.array_equal(a[name], b[name]) and a[name].dtype == b[name].dtype
    assert [repr(f) for f in loaded.features()] == [repr(f) for f in data.features]


def test_encoder_transform_without_the_label(csv_file: Path) -> None:
    data = load_table(csv_file, label="click")
    assert data.encoder is not None
    new = read_table(csv_file).drop(columns=["click"])
    assert set(data.encoder.transform(new, source="new.csv")) == {f.name for f in data.features}


def test_encoder_refuses_a_file_missing_a_column(csv_file: Path) -> None:
    data = load_table(csv_file, label="click")
    assert data.encoder is not None
    new = read_table(csv_file).drop(columns=["city"])
    with pytest.raises(DataError) as info:
        data.encoder.transform(new, source="new.csv")
    assert str(info.value) == "column 'city' missing in new.csv (columns: click, age, user_id, price, member)"


def test_encoder_must_be_fitted() -> None:
    with pytest.raises(DataError, match="before fit"):
        TabularEncoder(sparse=["a"]).transform(pd.DataFrame({"a": [1]}))


def test_encoder_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    with pytest.raises(DataError) as info:
        TabularEncoder.load(missing)
    assert str(info.value) == f"encoder file not found: {missing}"
    broken = write(tmp_path, "broken.json", "{not json")
    with pytest.raises(DataError, match=f"cannot read encoder file {broken}: Expecting property name"):
        TabularEncoder.load(broken)
    other = write(tmp_path, "other.json", '{"format": "something"}')
    with pytest.raises(DataError) as info:
        TabularEncoder.load(other)
    assert str(info.value) == f"{other} is not a rec tabular encoder file"
    newer = write(tmp_path, "newer.json", '{"format": "rec-tabular-encoder", "format_version": 99, "columns": []}')
    with pytest.raises(DataError, match="has encoder format version 99; this rec-trainers reads version 1"):
        TabularEncoder.load(newer)


# ------------------------------------------------------------------ bad data: one line, file, column, row


def error_of(path: Path, **kwargs: object) -> str:
    with pytest.raises(DataError) as info:
        load_table(path, **{"label": "click", **kwargs})  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    assert error_of(path) == f"file not found: {path}"


def test_unknown_format(tmp_path: Path) -> None:
    path = write(tmp_path, "data.xlsx", "x")
    assert error_of(path) == f"unknown format '.xlsx' of {path}; use .csv, .tsv (optionally .gz) or .parquet"
    bare = write(tmp_path, "data", "x")
    assert error_of(bare) == f"unknown format '(none)' of {bare}; use .csv, .tsv (optionally .gz) or .parquet"


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.csv", "")
    assert error_of(path) == f"{path} is empty"


def test_header_without_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "header.csv", "click,city\n")
    assert error_of(path) == f"{path} has no data rows"


def test_unreadable_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", "click,city\n1,a\n0,b,extra\n")
    assert (
        error_of(path)
        == f"cannot read {path} as CSV: Error tokenizing data. C error: Expected 2 fields in line 3, saw 3"
    )
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"click,city\n1,\xff\xfe\x00\n")
    assert error_of(binary).startswith(f"cannot read {binary} as CSV: ")


def test_unreadable_parquet(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.parquet", "not parquet")
    assert error_of(path).startswith(f"cannot read {path} as Parquet: ")


def test_parquet_without_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "data.parquet"
    make_frame(5).to_parquet(path)
    monkeypatch.setattr(table_module, "_have_pyarrow", lambda: False)
    assert error_of(path) == f'reading {path} needs pyarrow: pip install "rec-trainers[parquet]"'


def test_missing_label_column_lists_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "clk,city\n1,a\n")
    assert error_of(path) == f"label column 'click' missing in {path} (columns: clk, city)"


def test_missing_sparse_or_dense_column(csv_file: Path) -> None:
    columns = "click, city, age, user_id, price, member"
    assert error_of(csv_file, sparse=["town"]) == f"sparse column 'town' missing in {csv_file} (columns: {columns})"
    assert error_of(csv_file, dense=["cost"]) == f"dense column 'cost' missing in {csv_file} (columns: {columns})"
    assert error_of(csv_file, sequence=["h"]) == f"sequence column 'h' missing in {csv_file} (columns: {columns})"


def test_column_named_twice_or_label_as_feature(csv_file: Path) -> None:
    assert (
        error_of(csv_file, sparse=["age"], dense=["age"])
        == f"column 'age' of {csv_file} is named both sparse and dense"
    )
    assert error_of(csv_file, sparse=["click"]) == f"sparse column 'click' of {csv_file} is the label column"


def test_non_binary_label_names_value_and_row(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "click,city\n1,a\n0,b\n2,c\n1,d\n")
    assert error_of(path) == f"label 'click' in {path} has value 2 at row 3; expected 0 or 1"
    text = write(tmp_path, "t.csv", "click,city\n1,a\nyes,b\n")
    assert error_of(text) == f"label 'click' in {text} has value 'yes' at row 2; expected 0 or 1"
    half = write(tmp_path, "h.csv", "click,city\n1,a\n0.5,b\n")
    assert error_of(half) == f"label 'click' in {half} has value 0.5 at row 2; expected 0 or 1"


def test_nan_label_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "click,city\n1,a\n0,b\n1,c\n,d\n")
    assert error_of(path) == f"label 'click' in {path} is missing (NaN) at row 4"


def test_non_numeric_dense_value_names_the_row(tmp_path: Path) -> None:
    rows = "".join(f"{i % 2},{i}.5\n" for i in range(20))
    path = write(tmp_path, "d.csv", "click,price\n" + rows + "1,cheap\n")
    assert error_of(path, dense=["price"]) == f"dense column 'price' in {path} has non-numeric value 'cheap' at row 21"
    inf = write(tmp_path, "i.csv", "click,price\n1,1.5\n0,inf\n")
    assert error_of(inf) == f"dense column 'price' in {inf} has non-numeric value inf at row 2"


def test_only_a_label_column(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "click\n1\n0\n")
    assert error_of(path) == f"{path} has no feature columns besides the label 'click'"


def test_errors_come_before_any_training(tmp_path: Path) -> None:
    """A bad label in the last row fails the load itself, not a later epoch."""
    frame = make_frame(500)
    frame.loc[499, "click"] = 7
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    assert error_of(path) == f"label 'click' in {path} has value 7 at row 500; expected 0 or 1"
