"""Tests for rec_core.data.pad_sequences: Keras / torch-rechub padding, done on all rows at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rec_core.data import pad_sequences
from rec_core.errors import ConfigError, DataError

ROWS = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9]]


def test_pre_padding_and_pre_truncation_are_the_defaults() -> None:
    out = pad_sequences(ROWS, maxlen=4)
    assert out.dtype == np.int32
    assert out.tolist() == [[0, 1, 2, 3], [0, 0, 0, 4], [0, 0, 0, 0], [6, 7, 8, 9]]


def test_post_padding_and_post_truncation() -> None:
    out = pad_sequences(ROWS, maxlen=4, padding="post", truncating="post", value=-1)
    assert out.tolist() == [[1, 2, 3, -1], [4, -1, -1, -1], [-1, -1, -1, -1], [5, 6, 7, 8]]


def test_mixed_sides() -> None:
    assert pad_sequences(ROWS, maxlen=2, padding="post", truncating="pre").tolist() == [[2, 3], [4, 0], [0, 0], [8, 9]]
    assert pad_sequences(ROWS, maxlen=2, padding="pre", truncating="post").tolist() == [[1, 2], [0, 4], [0, 0], [5, 6]]


def test_maxlen_none_takes_the_longest_row() -> None:
    assert pad_sequences(ROWS).shape == (4, 5)


def test_dtype_casts_like_asarray() -> None:
    out = pad_sequences([[1.7, -2.5], [3.2]], maxlen=3)
    assert out.tolist() == [[0, 1, -2], [0, 0, 3]]
    out = pad_sequences([np.array([0.5, 1.5]), [2]], maxlen=3, dtype="float32", padding="post", value=np.nan)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0.5, 1.5, np.nan], [2, np.nan, np.nan]])


def test_accepts_series_tuples_arrays_and_a_2d_array() -> None:
    expected = pad_sequences(ROWS, maxlen=3)
    np.testing.assert_array_equal(pad_sequences(pd.Series(ROWS), maxlen=3), expected)
    np.testing.assert_array_equal(pad_sequences([tuple(r) for r in ROWS], maxlen=3), expected)
    np.testing.assert_array_equal(pad_sequences([np.array(r, dtype=np.int64) for r in ROWS], maxlen=3), expected)
    np.testing.assert_array_equal(pad_sequences(np.arange(12).reshape(3, 4), maxlen=2), [[2, 3], [6, 7], [10, 11]])


def test_rows_that_are_one_object_are_padded_like_the_others() -> None:
    shared = [7, 8, 9]
    out = pad_sequences([shared, [1], shared, shared, []], maxlen=2)
    assert out.tolist() == [[8, 9], [0, 1], [8, 9], [8, 9], [0, 0]]


def test_edge_sizes() -> None:
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([[], []]).shape == (2, 0)
    assert pad_sequences(ROWS, maxlen=0).shape == (4, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"padding": "left"}, "padding must be 'pre' or 'post', got 'left'"),
        ({"truncating": "end"}, "truncating must be 'pre' or 'post', got 'end'"),
        ({"maxlen": -1}, "maxlen must be >= 0 or None, got -1"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        pad_sequences(ROWS, **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)  # callers catching Keras' ValueError still do


def test_a_row_without_length_is_named() -> None:
    with pytest.raises(DataError, match=r"sequences\[1\] is a float, not a sequence of values"):
        pad_sequences([[1], float("nan")])


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_agrees_with_torch_rechub_on_random_rows(padding: str, truncating: str) -> None:
    rechub = pytest.importorskip("torch_rechub.utils.data")
    rng = np.random.default_rng(0)
    rows = [rng.integers(-50, 50, size=n).tolist() for n in rng.integers(0, 12, size=300)]
    rows += [rows[3]] * 3  # repeated objects take the shared path
    floats = [rng.normal(size=n).tolist() for n in rng.integers(0, 12, size=100)]
    many = [rng.integers(0, 9, size=n).tolist() for n in rng.integers(0, 8, size=9000)]  # several blocks
    for data, maxlen, dtype, value in [
        (rows, None, "int32", 0.0),
        (rows, 1, "int32", 0.0),
        (rows, 5, "int64", -1),
        (rows, 40, "int32", 0.0),
        (floats, 6, "float32", -9.0),
        (floats, 6, "int32", 0.0),
        (many, 4, "int32", 0.0),
        (many, 2, "int64", 3),
    ]:
        ours = pad_sequences(data, maxlen, dtype, padding, truncating, value)
        theirs = rechub.pad_sequences(data, maxlen, dtype, padding, truncating, value)
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs, err_msg=f"maxlen={maxlen} dtype={dtype}")
