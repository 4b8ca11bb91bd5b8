"""Tests for load_table: a user's labelled table, its options, column kinds and every bad-data error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rec_core.datasets import TabularEncoder, infer_kinds, load_table, load_table_options, read_table
from rec_core.datasets.splits import split_indices
from rec_core.errors import ConfigError, DataError
from rec_core.features import DenseFeature, SparseFeature
from tests.rec_core.test_datasets_spec import check_task_data


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
    check_task_data(data)
    assert data.name == "clicks.csv" and data.targets == {"click": "binary"}
    kinds = {f.name: type(f) for f in data.features}
    assert kinds == {
        "city": SparseFeature,  # text
        "age": SparseFeature,  # integer with few values
        "user_id": SparseFeature,  # 200 distinct integers: still at most 1,000
        "price": DenseFeature,  # float
        "member": SparseFeature,  # boolean
    }
    assert [len(data.splits[p]) for p in ("train", "val", "test")] == [160, 20, 20]
    assert data.info["rows"] == 200 and data.info["source"] == str(csv_file)
    assert data.encoder is not None and data.encoder.label == "click"
    assert {f.embed_dim for f in data.features if isinstance(f, SparseFeature)} == {16}
    assert data.train.columns["city"].min() >= 1  # 0 is reserved for unknown values


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
    assert load_table(csv_file, label="click", sparse="user_id", ignore="member").info["sparse"] == [
        "city", "age", "user_id",
    ]  # fmt: skip


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
    kinds = {"dense": ["price"], "sparse": ["city", "age", "member", "user_id"]}
    a, b = load_table(path, label="click", **kinds), load_table(reference, label="click", **kinds)
    for name in a.train.columns:
        assert np.allclose(a.train.columns[name], b.train.columns[name]), name
    assert np.array_equal(a.test.target, b.test.target)


def test_split_is_seeded_and_val_test_may_be_left_out(csv_file: Path) -> None:
    a, b = load_table(csv_file, label="click", seed=3), load_table(csv_file, label="click", seed=3)
    c = load_table(csv_file, label="click", seed=4)
    assert np.array_equal(a.train.columns["price"], b.train.columns["price"])
    assert not np.array_equal(a.train.columns["price"], c.train.columns["price"])
    only_train = load_table(csv_file, label="click", split=(1.0, 0.0, 0.0))
    assert only_train.val is None and only_train.test is None and len(only_train.train) == 200
    with pytest.raises(ConfigError, match="split must be"):
        load_table(csv_file, label="click", split=(0.5, 0.1))


def test_labels_accept_booleans_and_floats(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "y,a\nTrue,x\nFalse,y\nTrue,x\n")
    assert sorted(load_table(path, label="y", split=(1, 0, 0)).train.target.tolist()) == [0.0, 1.0, 1.0]
    path = write(tmp_path, "f.csv", "y,a\n1.0,x\n0.0,y\n")
    assert sorted(load_table(path, label="y", split=(1, 0, 0)).train.target.tolist()) == [0.0, 1.0]


# ------------------------------------------------------------------ several targets


def test_several_labels_binary_and_regression(tmp_path: Path) -> None:
    frame = make_frame(300)
    frame["buy"] = (np.arange(300) % 3 == 0).astype(int)
    frame["spend"] = np.linspace(0, 50, 300)
    path = tmp_path / "mtl.csv"
    frame.to_csv(path, index=False)
    data = load_table(path, label=["click", "buy", "spend"], regression=["spend"], dense=["price"])
    check_task_data(data)
    assert data.targets == {"click": "binary", "buy": "binary", "spend": "regression"}
    assert data.target_names == ["click", "buy", "spend"]
    assert "spend" not in data.train.columns and "buy" not in data.train.columns
    assert data.train.stacked_targets().shape == (240, 3)
    assert {"positive_rate_click", "positive_rate_buy"} <= set(data.info) and "positive_rate_spend" not in data.info
    assert data.encoder is not None and data.encoder.label == ["click", "buy", "spend"]
    with pytest.raises(DataError, match=r"label 'buy' in .*mtl\.csv has value 2 at row 1; expected 0 or 1"):
        frame.loc[0, "buy"] = 2
        frame.to_csv(path, index=False)
        load_table(path, label=["click", "buy"])
    with pytest.raises(DataError, match=r"regression column 'price' of .* is not a label \(labels: click\)"):
        load_table(path, label="click", regression=["price"])


# ------------------------------------------------------------------ options from a config file or the CLI


def test_load_table_options_checks_raw_options() -> None:
    assert load_table_options({"label": "click,buy", "sparse": ["a"], "min_count": 2, "split": [0.8, 0.2, 0]}) == {
        "label": ["click", "buy"], "sparse": ["a"], "min_count": 2, "split": (0.8, 0.2, 0),
    }  # fmt: skip
    with pytest.raises(ConfigError) as info:
        load_table_options({"label": "click", "sprase": ["a"]})
    assert str(info.value) == (
        "unknown option 'sprase' for a table file "
        "(options: dense, ignore, label, min_count, regression, sequence, sparse, split)"
    )
    with pytest.raises(ConfigError, match="a table file needs option 'label'"):
        load_table_options({"sparse": ["a"]})
    with pytest.raises(ConfigError, match=r"option 'sparse' of a table file must be column names, got \[1\]"):
        load_table_options({"label": "y", "sparse": [1]})
    with pytest.raises(ConfigError, match="option 'min_count' of a table file must be an integer >= 1, got 0"):
        load_table_options({"label": "y", "min_count": 0})
    with pytest.raises(ConfigError, match="split must be"):
        load_table_options({"label": "y", "split": [1, 1, 1]})


def test_load_table_refuses_unknown_options_itself(csv_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"^unknown option 'labels' for a table file \(options: dense, "):
        load_table(csv_file, label="click", labels=["click"])
    data = load_table(csv_file, seed=1, **load_table_options({"label": "click", "dense": "price"}))
    assert data.info["dense"] == ["price"]


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
    assert data.test.columns["city"][0] == 0  # OOV
    assert data.train.columns["city"].min() >= 1
    mean, _ = encoder.stats["price"]
    assert abs(mean - frame.loc[train, "price"].mean()) < 1e-9
    assert abs(data.train.columns["price"].mean()) < 1e-5 and abs(data.train.columns["price"].std() - 1) < 1e-3


def test_saved_encoder_reproduces_the_columns(csv_file: Path, tmp_path: Path) -> None:
    data = load_table(csv_file, label="click", min_count=2)
    assert data.encoder is not None
    loaded = TabularEncoder.load(data.encoder.save(tmp_path / "run" / "encoder.json"))
    assert loaded == data.encoder and loaded.min_count == 2
    frame = read_table(csv_file).drop(columns=["click"])  # a new file without the label
    a, b = data.encoder.transform(frame), loaded.transform(frame, source="new.csv")
    assert all(np.array_equal(a[name], b[name]) for name in a)
    assert [repr(f) for f in loaded.features()] == [repr(f) for f in data.features]


# ------------------------------------------------------------------ bad data: one line, file, column, row


def error_of(path: Path, **kwargs: object) -> str:
    with pytest.raises(DataError) as info:
        load_table(path, **{"label": "click", **kwargs})  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


def test_file_errors_come_from_read_table(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    assert error_of(path) == f"file not found: {path}"
    twice = write(tmp_path, "twice.csv", "click,a,a\n1,2,3\n")
    assert error_of(twice) == f"column 'a' appears twice in {twice}; rename one of them in the header"


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


def test_a_single_row_is_too_few_for_the_split(tmp_path: Path) -> None:
    path = write(tmp_path, "one.csv", "click,city\n1,a\n")
    assert error_of(path) == (
        f"{path} has 1 data row, too few for the split (0.8, 0.1, 0.1): the validation part would be empty; "
        "use a file of at least 6 rows or a split without that part, e.g. split=(1, 0, 0)"
    )


def test_a_label_with_one_value_in_the_training_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "ones.csv", "click,city\n" + "1,a\n" * 20)
    assert error_of(path) == (
        f"label 'click' of {path} has only the value 1 in the training rows (16 rows); AUC is undefined: "
        "the file needs both 0 and 1 labels"
    )


def test_a_validation_split_with_one_label_value(tmp_path: Path) -> None:
    frame = pd.DataFrame({"click": [0] * 20, "city": list("abcdefghijklmnopqrst")})
    _, val, _ = split_indices(20, (0.8, 0.1, 0.1), seed=2022)
    frame.loc[[i for i in range(20) if i not in set(val)][:8], "click"] = 1  # positives only among training rows
    path = tmp_path / "v.csv"
    frame.to_csv(path, index=False)
    assert error_of(path) == (
        f"label 'click' of {path} has only the value 0 in the validation rows (2 rows); AUC is undefined: "
        "use a larger file, a larger validation fraction in split, or another seed"
    )


def test_errors_come_before_any_training(tmp_path: Path) -> None:
    """A bad label in the last row fails the load itself, not a later epoch."""
    frame = make_frame(500)
    frame.loc[499, "click"] = 7
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    assert error_of(path) == f"label 'click' in {path} has value 7 at row 500; expected 0 or 1"
