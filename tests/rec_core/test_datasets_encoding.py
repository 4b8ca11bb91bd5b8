"""Tests for the id rule (IdEncoder, encode_ids) and the TabularEncoder."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rec_core.datasets.encoding import TabularEncoder, encode_labels, encode_values
from rec_core.datasets.ids import IdEncoder, canonical_text, encode_ids
from rec_core.errors import DataError
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature

# ------------------------------------------------------------------ the id rule


def test_id_encoder_reserves_zero_for_padding_and_unknown() -> None:
    enc = IdEncoder(["paris", "rome"])
    assert enc.encode(["rome", "oslo", "paris", None]).tolist() == [2, 0, 1, 0]
    assert enc.vocab_size == 3 and enc.ids == ["", "paris", "rome"]
    assert enc.decode([0, 2, 1]) == ["", "rome", "paris"]
    assert enc.index() == {"paris": 1, "rome": 2}
    assert enc == IdEncoder(["paris", "rome"]) and enc != IdEncoder(["rome", "paris"])


def test_id_encoder_by_frequency() -> None:
    enc = IdEncoder.by_frequency(Counter({"a": 1, "b": 3, "c": 3, "d": 2}))
    assert enc.values == ["b", "c", "d", "a"]  # most frequent first, ties by text
    assert IdEncoder.by_frequency(Counter({"a": 1, "b": 3}), min_count=2).values == ["b"]


def test_encode_ids_natural_order_over_several_parts() -> None:
    (a, b), enc = encode_ids(np.array([30, 10, 200]), np.array([10, 40]))
    assert a.tolist() == [2, 1, 4] and b.tolist() == [1, 3]  # 200 after 40: numbers sort numerically
    assert enc.values == ["10", "30", "40", "200"] and enc.vocab_size == 5
    (text,), enc = encode_ids(pd.Series(["b", None, "a"]))
    assert text.tolist() == [2, 0, 1] and enc.values == ["a", "b"]  # missing -> 0
    assert enc.encode(["b", "a", "zz"]).tolist() == [2, 1, 0]


def test_canonical_text() -> None:
    assert [canonical_text(v) for v in (5, 5.0, np.int64(5), 0.5, True, None, float("nan"), pd.NA, "x")] == [
        "5", "5", "5", "0.5", "True", "<NA>", "<NA>", "<NA>", "x",
    ]  # fmt: skip


# ------------------------------------------------------------------ labels


def test_encode_labels_and_values() -> None:
    df = pd.DataFrame({"y": [True, False, True], "r": [1, 4.5, 3]})
    assert encode_labels(df, "y", "d.csv").tolist() == [1.0, 0.0, 1.0]
    assert encode_values(df, "r", "d.csv").dtype == np.float32
    bad = pd.DataFrame({"r": [1.0, np.inf]})
    with pytest.raises(DataError, match=r"label 'r' in d\.csv has value inf at row 2; expected a finite number"):
        encode_values(bad, "r", "d.csv")
    missing = pd.DataFrame({"r": [1.0, None]})
    with pytest.raises(DataError, match=r"label 'r' in d\.csv is missing \(NaN\) at row 2"):
        encode_values(missing, "r", "d.csv")


# ------------------------------------------------------------------ TabularEncoder


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


def test_encoder_features() -> None:
    enc = TabularEncoder(sparse=["c"], dense=["x"]).fit(pd.DataFrame({"c": ["a", "b"], "x": [1.0, 2.0]}))
    sparse, dense = enc.features()
    assert isinstance(sparse, SparseFeature) and sparse.vocab_size == 3 and sparse.embed_dim == 16
    assert isinstance(dense, DenseFeature)


def test_encoder_save_load_round_trip_keeps_the_format(tmp_path: Path) -> None:
    df = pd.DataFrame({"c": ["a", "b", "b"], "x": [1.0, 2.0, 3.0], "h": ["1|2", "2", ""]})
    encoder = TabularEncoder(sparse=["c"], dense=["x"], sequence=["h"], label="click", min_count=1).fit(df)
    saved = encoder.save(tmp_path / "run" / "encoder.json")
    data = encoder.to_dict()
    assert data["format"] == "rec-tabular-encoder" and data["format_version"] == 1 and data["label"] == "click"
    assert data["columns"][0] == {"name": "c", "kind": "sparse", "vocab": ["b", "a"]}  # no padding entry
    loaded = TabularEncoder.load(saved)
    assert loaded == encoder and loaded.label == "click"
    a, b = encoder.transform(df), loaded.transform(df)
    for name in a:
        assert np.array_equal(a[name], b[name]) and a[name].dtype == b[name].dtype
    several = TabularEncoder(sparse=["c"], label=("click", "buy")).fit(df)
    assert TabularEncoder.from_dict(several.to_dict()).label == ["click", "buy"]


def test_encoder_refuses_a_table_missing_a_column() -> None:
    enc = TabularEncoder(sparse=["city", "age"]).fit(pd.DataFrame({"city": ["a"], "age": [1]}))
    with pytest.raises(DataError) as info:
        enc.transform(pd.DataFrame({"age": [1], "click": [0]}), source="new.csv")
    assert str(info.value) == "column 'city' missing in new.csv (columns: age, click)"


def test_encoder_must_be_fitted() -> None:
    with pytest.raises(DataError, match="before fit"):
        TabularEncoder(sparse=["a"]).transform(pd.DataFrame({"a": [1]}))


def test_encoder_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    with pytest.raises(DataError) as info:
        TabularEncoder.load(missing)
    assert str(info.value) == f"encoder file not found: {missing}"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DataError, match=f"cannot read encoder file {broken}: Expecting property name"):
        TabularEncoder.load(broken)
    other = tmp_path / "other.json"
    other.write_text('{"format": "something"}')
    with pytest.raises(DataError) as info:
        TabularEncoder.load(other)
    assert str(info.value) == f"{other} is not a rec tabular encoder file"
    newer = tmp_path / "newer.json"
    newer.write_text('{"format": "rec-tabular-encoder", "format_version": 99, "columns": []}')
    with pytest.raises(DataError, match="has encoder format version 99; this rec-core reads version 1"):
        TabularEncoder.load(newer)
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"format": "rec-tabular-encoder", "format_version": 1, "columns": [{"name": "a"}]}')
    with pytest.raises(DataError, match=r"is a damaged encoder file \(KeyError"):
        TabularEncoder.load(damaged)
