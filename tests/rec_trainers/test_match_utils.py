"""rec_trainers.utils.match builds the matching data torch-rechub builds, on the real ml-1m sample."""

from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rec_core.errors import ConfigError, DataError
from rec_trainers.utils import gen_model_input, generate_seq_feature_match, negative_sample
from tests.rec_core.test_datasets_files import real_data_file

USER, ITEM, TIME = "user_id", "movie_id", "timestamp"
SPARSE = ["user_id", "movie_id", "gender", "age", "occupation", "zip", "cate_id"]


@pytest.fixture(scope="module")
def rechub() -> Any:
    return pytest.importorskip("torch_rechub.utils.match")


@pytest.fixture
def ml1m() -> pd.DataFrame:
    """The ml-1m sample prepared as torch-rechub's run_ml_dssm.py / run_ml_youtube_dnn.py do."""
    data = pd.read_csv(real_data_file("rechub-samples/ml-1m/ml-1m_sample.csv"))
    data["cate_id"] = data["genres"].str.split("|").str[0]
    for name in SPARSE:  # LabelEncoder().fit_transform(col) + 1: codes of the sorted values, from 1
        data[name] = pd.factorize(data[name], sort=True)[0] + 1
    return data


def profiles(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    users = data[["user_id", "gender", "age", "occupation", "zip"]].drop_duplicates("user_id")
    return users, data[["movie_id", "cate_id"]].drop_duplicates("movie_id")


def cells(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """Return each column as plain Python values (array cells become lists)."""
    return {c: [v.tolist() if isinstance(v, np.ndarray) else v for v in frame[c]] for c in frame.columns}


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    """Return the rows as sorted hashable tuples (list cells become tuples)."""
    values = cells(frame[columns])
    return sorted(zip(*([_hashable(v) for v in values[c]] for c in columns), strict=True))


def call_rechub(rechub: Any, data: pd.DataFrame, *args: Any, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    np.random.seed(seed)
    random.seed(seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The inplace keyword")  # its sort_values(inplace=True)
        return rechub.generate_seq_feature_match(data.copy(), USER, ITEM, TIME, *args)


CASES = [  # item_attribute_cols, sample_method, mode, neg_ratio, min_item
    pytest.param([], 1, 0, 3, 0, id="dssm-pointwise"),
    pytest.param(["cate_id"], 0, 1, 0, 0, id="pairwise"),
    pytest.param(["cate_id", "rating"], 1, 2, 3, 0, id="youtubednn-listwise"),
    pytest.param([], 2, 0, 0, 50, id="positives-only-cold-user"),
]


@pytest.mark.parametrize(("attrs", "method", "mode", "ratio", "min_item"), CASES)
def test_global_seeds_give_torch_rechubs_frames_row_for_row(
    rechub: Any, ml1m: pd.DataFrame, attrs: list[str], method: int, mode: int, ratio: int, min_item: int
) -> None:
    theirs = call_rechub(rechub, ml1m, attrs, method, mode, ratio, min_item, seed=7)
    np.random.seed(7)
    random.seed(7)
    ours = generate_seq_feature_match(ml1m, USER, ITEM, TIME, attrs, method, mode, ratio, min_item)
    for mine, reference in zip(ours, theirs, strict=True):
        assert list(mine.columns) == list(reference.columns)
        assert list(mine.dtypes) == list(reference.dtypes)
        assert cells(mine) == cells(reference)
        object_columns = [c for c in mine.columns if pd.api.types.is_object_dtype(mine[c])]
        for name in object_columns:  # list cells stay lists, array cells arrays
            assert set(map(type, mine[name])) == set(map(type, reference[name])), name

    users, items = profiles(ml1m)
    for mine, reference in zip(ours, theirs, strict=True):
        for padding, truncating in [("pre", "pre"), ("post", "post"), ("post", "pre")]:
            x = gen_model_input(mine, users, USER, items, ITEM, 20, padding, truncating)
            y = rechub.gen_model_input(reference, users, USER, items, ITEM, 20, padding, truncating)
            assert list(x) == list(y)
            for name in x:
                assert x[name].dtype == y[name].dtype, name
                np.testing.assert_array_equal(x[name], y[name], err_msg=name)


@pytest.mark.parametrize(("attrs", "method", "mode", "ratio", "min_item"), CASES)
def test_own_seed_keeps_every_deterministic_part(
    rechub: Any, ml1m: pd.DataFrame, attrs: list[str], method: int, mode: int, ratio: int, min_item: int
) -> None:
    theirs_train, theirs_test = call_rechub(rechub, ml1m, attrs, method, mode, ratio, min_item, seed=1)
    before = ml1m.copy()
    train, test = generate_seq_feature_match(ml1m, USER, ITEM, TIME, attrs, method, mode, ratio, min_item, seed=3)
    pd.testing.assert_frame_equal(ml1m, before)  # torch-rechub sorts its input in place; we do not

    sample = [USER, ITEM, f"hist_{ITEM}", f"histlen_{ITEM}", *(f"hist_{a}" for a in attrs)]
    assert list(train.columns) == list(theirs_train.columns) and len(train) == len(theirs_train)
    assert rows(test, [*sample, test.columns[-1]]) == rows(theirs_test, [*sample, theirs_test.columns[-1]])
    assert (test.iloc[:, -1] == 1).all()
    # One test sample per kept user: an item and, as its history, all the user's others.
    sizes = ml1m[USER].value_counts()
    assert sorted(test[USER]) == sorted(sizes[sizes >= max(min_item, 2)].index)
    for user, item, history in zip(test[USER], test[ITEM], test[f"hist_{ITEM}"], strict=True):
        assert sorted([*history, item]) == sorted(ml1m.loc[ml1m[USER] == user, ITEM])

    if mode == 0:
        positives, negatives = train[train["label"] == 1], train[train["label"] == 0]
        assert rows(positives, sample) == rows(theirs_train[theirs_train["label"] == 1], sample)
        assert len(negatives) == ratio * len(positives)
        # A negative row is its positive's sample with the item replaced: same user and history.
        context = [USER, f"hist_{ITEM}", f"histlen_{ITEM}"]
        counts = pd.Series(rows(negatives, context)).value_counts()
        assert set(counts) <= {ratio} and len(counts) == (len(positives) if ratio else 0)
    else:
        assert rows(train, sample) == rows(theirs_train, sample)
        if mode == 1:
            assert train["neg_items"].dtype == theirs_train["neg_items"].dtype == np.int64
        else:
            assert {len(v) for v in train["neg_items"]} == {ratio}
    assert (train[f"histlen_{ITEM}"] == train[f"hist_{ITEM}"].map(len)).all()
    drawn = train[ITEM] if mode == 0 else np.hstack(train["neg_items"].to_list())
    assert np.isin(drawn, ml1m[ITEM]).all()


def test_a_seed_reproduces_and_leaves_the_global_rngs_alone(ml1m: pd.DataFrame) -> None:
    np_state, py_state = np.random.get_state()[1].copy(), random.getstate()
    first = generate_seq_feature_match(ml1m, USER, ITEM, TIME, None, 1, 2, 4, seed=11)
    again = generate_seq_feature_match(ml1m, USER, ITEM, TIME, None, 1, 2, 4, seed=11)
    other = generate_seq_feature_match(ml1m, USER, ITEM, TIME, None, 1, 2, 4, seed=12)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert random.getstate() == py_state
    assert cells(first[0]) == cells(again[0]) and cells(first[1]) == cells(again[1])
    assert cells(first[0]) != cells(other[0])


def test_negatives_may_hit_the_positive_as_in_torch_rechub(rechub: Any) -> None:
    # torch-rechub draws from the whole catalogue and excludes nothing; with two items
    # half of the negatives are the positive itself, in both libraries.
    data = pd.DataFrame({USER: np.repeat([1, 2], 40), ITEM: np.tile([1, 2], 40), TIME: np.arange(80)})
    theirs, _ = call_rechub(rechub, data, [], 0, 2, 5, 0, seed=0)
    ours, _ = generate_seq_feature_match(data, USER, ITEM, TIME, None, 0, 2, 5, seed=0)
    for frame in (ours, theirs):
        hits = np.mean([item in negs for item, negs in zip(frame[ITEM], frame["neg_items"], strict=True)])
        assert 0.9 < hits <= 1.0  # P(at least one of 5 draws is the positive) = 31/32
        assert set(np.concatenate(frame["neg_items"].to_list())) == {1, 2}


@pytest.mark.parametrize("method", [0, 1, 2])
def test_negative_sample_draws_torch_rechubs_items_from_the_global_rng(rechub: Any, method: int) -> None:
    counts = {7: 50, 3: 20, 9: 20, 1: 4, 5: 1}
    np.random.seed(5)
    theirs = rechub.negative_sample(counts, 1000, method)
    np.random.seed(5)
    np.testing.assert_array_equal(negative_sample(counts, 1000, method), theirs)


def test_sampling_methods_follow_their_distributions() -> None:
    counts = {10: 1000, 20: 300, 30: 100, 40: 10, 50: 1}  # most popular first
    popularity = np.array(list(counts.values()), dtype=float)
    expected = {0: np.ones(5), 1: popularity**0.75, 2: np.log(popularity + 1) + 1e-6}
    draws = 40_000
    for method, weights in expected.items():
        drawn = negative_sample(counts, draws, method, seed=method)
        frequency = np.array([np.count_nonzero(drawn == item) for item in counts]) / draws
        np.testing.assert_allclose(frequency, weights / weights.sum(), atol=0.01, err_msg=f"method {method}")
    uniform, popular = negative_sample(counts, draws, 0, seed=0), negative_sample(counts, draws, 1, seed=0)
    assert np.mean(popular == 10) > 2 * np.mean(uniform == 10)

    # Method 3 draws distinct items, log-uniformly over the popularity rank (RALM).
    rank_weights = np.log(np.arange(2, 7) / np.arange(1, 6))
    firsts = np.concatenate([negative_sample(counts, 1, 3, seed=s) for s in range(2000)])
    frequency = np.array([np.count_nonzero(firsts == item) for item in counts]) / len(firsts)
    np.testing.assert_allclose(frequency, rank_weights / rank_weights.sum(), atol=0.03)
    assert sorted(negative_sample(counts, 5, 3, seed=0)) == list(counts)


def test_sample_method_3_runs_on_real_data(ml1m: pd.DataFrame) -> None:
    # torch-rechub asks for len(data) * neg_ratio distinct items here and fails.
    train, _ = generate_seq_feature_match(ml1m, USER, ITEM, TIME, None, 3, 1, 1, seed=0)
    assert train["neg_items"].isin(ml1m[ITEM]).all()


def test_bad_arguments(ml1m: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"mode must be 0 .* got 3"):
        generate_seq_feature_match(ml1m, USER, ITEM, TIME, mode=3)
    with pytest.raises(ConfigError, match="neg_ratio must be > 0 for mode=2, got 0"):
        generate_seq_feature_match(ml1m, USER, ITEM, TIME, mode=2)
    with pytest.raises(ConfigError, match=r"sample_method must be one of \[0, 1, 2, 3\], got 4"):
        generate_seq_feature_match(ml1m, USER, ITEM, TIME, sample_method=4)
    with pytest.raises(ConfigError, match="method_id must be one of"):
        negative_sample({1: 2}, 3, method_id=9)
    with pytest.raises(ConfigError, match="ratio 3 exceeds the 1 items"):
        negative_sample({1: 2}, 3, method_id=3)
    with pytest.raises(DataError, match="column 'ts' missing in data"):
        generate_seq_feature_match(ml1m, USER, ITEM, "ts")
    with pytest.raises(DataError, match="column 'movie_id' has 1 missing values"):
        generate_seq_feature_match(ml1m.assign(movie_id=ml1m[ITEM].where(ml1m.index > 0)), USER, ITEM, TIME)
    train, _ = generate_seq_feature_match(ml1m, USER, ITEM, TIME, seed=0)
    users, items = profiles(ml1m)
    with pytest.raises(DataError, match="user_profile has 2 repeated 'user_id' values"):
        gen_model_input(train, pd.concat([users, users]), USER, items, ITEM, 10)
    with pytest.raises(DataError, match="column 'movie_id' missing in item_profile"):
        gen_model_input(train, users, USER, items.rename(columns={ITEM: "id"}), ITEM, 10)
