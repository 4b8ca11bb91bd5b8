"""Tests for load_interactions and user histories: real data (Beauty, ml-100k, diginetica) and edge cases.

The real-data tests read ``$REC_DATA_DIR`` (point it at ``../shared/data``) and are skipped with
the reason when it is unset or the file is missing.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from rec_core.datasets import (
    TaskData,
    interactions_from_frame,
    known_before,
    load_interactions,
    next_item_rows,
    user_sequences,
)
from rec_core.datasets.interactions import UserSequences
from rec_core.errors import ConfigError, DataError
from rec_core.features import SparseFeature
from tests.rec_core.test_datasets_files import real_data_file

BEAUTY = "amazon-beauty-5core/s3rec/Beauty.txt"
BEAUTY_ITEMS = "amazon-beauty-5core/derived/beauty_items.csv"
ML100K = "movielens-100k-recbole/ml-100k.inter.gz"
ML100K_ITEMS = "movielens-100k-recbole/ml-100k.item"
DIGINETICA = "rechub-samples/diginetica/train-item-views-sample.csv"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def check_interaction_data(data: TaskData) -> None:
    """Assert the interaction contract: sorted by user then time, ids 1..n, splits = the parts."""
    inter = data.interactions
    assert inter is not None and data.items is not None
    assert data.targets == {"item": "item"}
    assert inter.users.dtype == np.int64 and inter.items.dtype == np.int64 and inter.part.dtype == np.int8
    assert inter.users.min() >= 1 and inter.users.max() == inter.n_users - 1
    assert inter.items.min() >= 1 and inter.items.max() == data.items.n_items - 1
    assert np.all(np.diff(inter.users) >= 0)
    if inter.timestamps is not None:
        same_user = np.diff(inter.users) == 0
        assert np.all(np.diff(inter.timestamps)[same_user] >= 0)
    assert inter.user_ids[0] == "" and data.items.ids[0] == ""
    for code, name in enumerate(("train", "val", "test")):
        rows = inter.part == code
        if name not in data.splits:
            assert not rows.any()
            continue
        split = data.splits[name]
        assert np.array_equal(split.columns["user"], inter.users[rows])
        assert np.array_equal(split.columns["item"], inter.items[rows])
        assert np.array_equal(split.target, inter.items[rows])
    user, item = data.features
    assert isinstance(user, SparseFeature) and user.vocab_size == inter.n_users and user.padding_idx == 0
    assert isinstance(item, SparseFeature) and item.vocab_size == data.items.n_items and item.padding_idx == 0


# ------------------------------------------------------------------ real data


@pytest.fixture(scope="module")
def beauty() -> TaskData:
    return load_interactions(
        real_data_file(BEAUTY), items=real_data_file(BEAUTY_ITEMS), item_key="item_id", item_text="title"
    )


def test_beauty_counts_and_leave_one_out(beauty: TaskData) -> None:
    check_interaction_data(beauty)
    inter = beauty.interactions
    assert inter is not None and inter.timestamps is None
    assert (inter.n_users - 1, beauty.items.n_items - 1, len(inter)) == (22_363, 12_101, 198_502)  # type: ignore[union-attr]
    assert beauty.name == "Beauty.txt"
    assert beauty.info == {
        "users": 22_363, "items": 12_101, "interactions": 198_502, "dropped_users": 0, "split": "leave-one-out",
        "train_rows": 198_502 - 2 * 22_363, "val_rows": 22_363, "test_rows": 22_363,
        "source": str(real_data_file(BEAUTY)),
    }  # fmt: skip
    for name in ("val", "test"):  # every user has >= 5 items: exactly one val and one test item each
        users = beauty.splits[name].columns["user"]
        assert np.array_equal(users, np.arange(1, 22_364))


def test_beauty_keeps_the_file_order_and_ids(beauty: TaskData) -> None:
    inter = beauty.interactions
    assert inter is not None and beauty.items is not None
    # the ids are 1..n in the file: encoding keeps them (numbers sort numerically)
    assert inter.user_ids[1:4] == ["1", "2", "3"] and beauty.items.ids[12_101] == "12101"
    lines = real_data_file(BEAUTY).read_text().splitlines()
    for line in (lines[0], lines[1], lines[-1]):
        user, *items = (int(token) for token in line.split())
        sequence = inter.items[inter.users == user]
        assert sequence.tolist() == items
        assert beauty.test.target[user - 1] == items[-1] and beauty.val.target[user - 1] == items[-2]  # type: ignore[union-attr]
    assert beauty.items.text is not None
    assert beauty.items.text[1] == "OPI Nail Lacquer, Simmer and Shimmer, 0.5-Fluid Ounce"
    assert beauty.items.attributes["asin"][1] == "B004756YJA" and beauty.items.attributes["asin"][0] is None


def test_beauty_histories_known_before_each_split(beauty: TaskData) -> None:
    inter = beauty.interactions
    assert inter is not None
    first = [int(t) for t in real_data_file(BEAUTY).read_text().splitlines()[0].split()[1:]]  # user 1: 1 2 3 4 5
    for_val, for_test = known_before(inter, "val"), known_before(inter, "test")
    assert for_val.of(1).tolist() == first[:-2] and for_test.of(1).tolist() == first[:-1]
    assert len(for_test) == inter.n_users and for_test.lengths()[0] == 0
    assert int(for_test.lengths().sum()) == 198_502 - 22_363
    padded = for_test.padded(beauty.test.columns["user"][:2], 6)  # type: ignore[union-attr]
    assert padded[0].tolist() == [0, 0, *first[:-1]]
    assert known_before(inter, "train").lengths().sum() == 0
    every = user_sequences(inter, ("train", "val", "test"))
    assert np.array_equal(every.items, inter.items)


def test_movielens_100k_recbole_file() -> None:
    data = load_interactions(real_data_file(ML100K), items=real_data_file(ML100K_ITEMS), item_text="movie_title")
    check_interaction_data(data)
    inter = data.interactions
    assert inter is not None and inter.timestamps is not None and data.items is not None
    assert (inter.n_users - 1, data.items.n_items - 1, len(inter)) == (943, 1_682, 100_000)
    assert data.info["val_rows"] == data.info["test_rows"] == 943  # every ml-100k user has >= 20 ratings
    # the test item of each user is the latest rating (ties broken by file order)
    last = np.flatnonzero(np.r_[inter.users[1:] != inter.users[:-1], True])
    assert np.array_equal(inter.part[last], np.full(943, 2))
    assert inter.user_ids[1:3] == ["1", "2"]  # tokens sorted numerically
    assert data.items.text is not None and data.items.text[1] == "Toy Story"
    assert list(data.items.attributes) == ["release_year", "class"]


def test_movielens_temporal_and_random_splits() -> None:
    path = real_data_file(ML100K)
    temporal = load_interactions(path, split="temporal", ratios=(0.8, 0.1, 0.1))
    check_interaction_data(temporal)
    inter = temporal.interactions
    assert inter is not None and inter.timestamps is not None
    assert np.bincount(inter.part).tolist() == [80_000, 10_000, 10_000]
    assert inter.timestamps[inter.part == 0].max() <= inter.timestamps[inter.part == 2].min()
    random = load_interactions(path, split="random", seed=5)
    again = load_interactions(path, split="random", seed=5)
    assert random.interactions is not None and again.interactions is not None
    assert np.array_equal(random.interactions.part, again.interactions.part)
    assert np.bincount(random.interactions.part).tolist() == [80_000, 10_000, 10_000]


def test_diginetica_sample_with_named_columns() -> None:
    data = load_interactions(
        real_data_file(DIGINETICA), user="sessionId", item="itemId", timestamp="timeframe", sep=";"
    )
    check_interaction_data(data)
    inter = data.interactions
    assert inter is not None and data.items is not None
    assert len(inter) == 500 and inter.n_users - 1 == 94 and data.items.n_items - 1 == 398
    session = inter.users == 1  # session 1: 10 views, ordered by timeframe
    assert inter.items[session].tolist()[-1] == data.items.index()["32627"]  # its latest view (timeframe 1,112,408)
    assert inter.items[session].tolist()[0] == data.items.index()["9654"]  # its first (timeframe 75,848)
    long_sessions = load_interactions(
        real_data_file(DIGINETICA), user="sessionId", item="itemId", timestamp="timeframe", sep=";",
        min_user_interactions=3,
    )  # fmt: skip
    assert long_sessions.interactions is not None
    assert np.bincount(long_sessions.interactions.users)[1:].min() >= 3
    assert long_sessions.info["val_rows"] == long_sessions.info["users"]
    assert data.info["dropped_users"] == 0
    assert long_sessions.info["dropped_users"] == 41 and long_sessions.info["users"] == 94 - 41


# ------------------------------------------------------------------ small files


def test_table_ordered_by_user_then_time_stable_on_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, "i.csv", "user_id,item_id,timestamp\nb,x,5\na,y,3\nb,y,1\na,z,3\nb,z,9\na,x,1\n")
    data = load_interactions(path, split="random", ratios=(1, 0, 0))
    inter = data.interactions
    assert inter is not None and data.items is not None
    assert inter.user_ids == ["", "a", "b"] and data.items.ids == ["", "x", "y", "z"]
    assert [(inter.user_ids[u], data.items.ids[i]) for u, i in zip(inter.users, inter.items, strict=True)] == [
        ("a", "x"), ("a", "y"), ("a", "z"), ("b", "y"), ("b", "x"), ("b", "z"),
    ]  # fmt: skip
    assert set(data.splits) == {"train"}


def test_without_timestamps_the_file_order_is_the_time(tmp_path: Path) -> None:
    path = write(tmp_path, "i.tsv", "u\ti\n2\t30\n1\t10\n2\t20\n1\t40\n1\t50\n")
    data = load_interactions(path, user="u", item="i")
    inter = data.interactions
    assert inter is not None and inter.timestamps is None
    assert inter.items.tolist() == [1, 4, 5, 3, 2]  # 10 40 50 | 30 20, items sorted 10 20 30 40 50 -> ids 1..5
    assert inter.part.tolist() == [0, 1, 2, 0, 0]  # user 2 has two interactions: all train
    with pytest.raises(ConfigError, match=r"a temporal split needs timestamps and .*i\.tsv has none"):
        load_interactions(path, user="u", item="i", split="temporal")


def test_sequence_file_and_its_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "s.txt", "1 5 6 7\n\n2 6 5 8 9\n")
    data = load_interactions(path)
    check_interaction_data(data)
    assert data.info["interactions"] == 7 and data.info["test_rows"] == 2
    packed = tmp_path / "s.txt.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert load_interactions(packed).info["interactions"] == 7
    bad = write(tmp_path, "bad.txt", "1 5 6\n2\n")
    with pytest.raises(DataError) as info:
        load_interactions(bad)
    assert str(info.value) == f"{bad} line 2: user '2' has no items; expected 'user item item …'"
    empty = write(tmp_path, "empty.txt", "\n\n")
    with pytest.raises(DataError, match=f"^{empty} has no interactions$"):
        load_interactions(empty)
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"1 2 \xff\n")
    with pytest.raises(DataError, match=f"^cannot read {binary}: not UTF-8 text"):
        load_interactions(binary)


def test_sequence_ids_keep_leading_zeros(tmp_path: Path) -> None:
    data = load_interactions(write(tmp_path, "s.txt", "1 007 7 10\n"))
    assert data.items is not None and data.items.ids == ["", "007", "10", "7"]  # "007" and "7": two ids, as in tables


def test_sequence_tokens_must_be_integers(tmp_path: Path) -> None:
    path = write(tmp_path, "Beauty.txt", "1 2 3\n\n2 3 4\n3 4 abc 5\n")
    with pytest.raises(DataError) as info:
        load_interactions(path)
    assert str(info.value) == (
        f"{path} line 4: 'abc' is not an integer id (a sequence file holds 'user item item …' integers)"
    )
    for line, token in (("u1 2 3", "u1"), ("1 2 3.0", "3.0"), ("1 2 ３", "３"), ("1 2,3 4", "2,3")):
        with pytest.raises(DataError, match=f"line 1: {token!r} is not an integer id"):
            load_interactions(write(tmp_path, "bad.txt", line + "\n"))
    spaced = load_interactions(write(tmp_path, "tabs.txt", "1\t2  3\r\n-1 +4 5\n"))  # any whitespace, signs
    assert spaced.info["interactions"] == 4


def test_table_errors_name_file_column_and_row(tmp_path: Path) -> None:
    path = write(tmp_path, "i.csv", "user,item\n1,2\n")
    with pytest.raises(DataError) as info:
        load_interactions(path)
    assert str(info.value) == f"user column 'user_id' missing in {path} (columns: user, item)"
    with pytest.raises(DataError, match=r"timestamp column 'ts' missing in .*i\.csv \(columns: user, item\)"):
        load_interactions(path, user="user", item="item", timestamp="ts")
    holes = write(tmp_path, "h.csv", "user_id,item_id\n1,2\n1,\n")
    with pytest.raises(DataError, match=f"^{holes} row 2: the item \\('item_id'\\) is missing$"):
        load_interactions(holes)
    times = write(tmp_path, "t.csv", "user_id,item_id,timestamp\n1,2,5\n1,3,soon\n")
    with pytest.raises(DataError, match=r"timestamp column 'timestamp' in .* has value 'soon' at row 2; expected"):
        load_interactions(times)
    with pytest.raises(DataError, match=f"^file not found: {tmp_path / 'none.csv'}$"):
        load_interactions(tmp_path / "none.csv")
    with pytest.raises(DataError, match="is a directory, not a data file"):
        load_interactions(tmp_path)
    few = write(tmp_path, "few.csv", "user_id,item_id\n1,2\n1,3\n")
    with pytest.raises(DataError) as info:
        load_interactions(few, min_user_interactions=5)
    assert str(info.value) == (
        f"no user of {few} has 5 or more interactions (the most is 2); lower min_user_interactions (now 5)"
    )


def test_dates_as_timestamps(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "d.parquet"
    when = pd.to_datetime(["2024-03-01", "2024-01-01", "2024-02-01"])
    pd.DataFrame({"user_id": [1, 1, 1], "item_id": [3, 4, 5], "timestamp": when}).to_parquet(path)
    inter = load_interactions(path).interactions
    assert inter is not None and inter.items.tolist() == [2, 3, 1]  # items 4, 5, 3 in time order


def test_unknown_options_and_splits(tmp_path: Path) -> None:
    path = write(tmp_path, "s.txt", "1 2 3\n")
    with pytest.raises(ConfigError) as info:
        load_interactions(path, users="u")
    assert str(info.value).startswith("unknown option 'users' for an interaction file (options: format, item, ")
    with pytest.raises(ConfigError, match=r"unknown split 'last' \(splits: leave-one-out, temporal, random\)"):
        load_interactions(path, split="last")
    with pytest.raises(ConfigError, match="unknown interaction format 'lines'"):
        load_interactions(path, format="lines")


def test_item_file_with_a_repeated_item(tmp_path: Path) -> None:
    import pandas as pd

    inter = write(tmp_path, "s.txt", "1 2 3\n")
    items = write(tmp_path, "items.csv", "item_id,title\n2,a\n3,b\n2,c\n")
    with pytest.raises(DataError) as info:
        load_interactions(inter, items=items, item_text="title")
    assert str(info.value) == f"item '2' appears twice in {items} (again at row 3)"
    partial = write(tmp_path, "partial.csv", "item_id,title,brand\n3,Three,x\n9,Nine,y\n")
    data = load_interactions(inter, items=partial, item_text="title")
    assert data.items is not None and data.items.text == ["", "", "Three"]
    brand = data.items.attributes["brand"]
    assert brand[0] is None and pd.isna(brand[1]) and brand[2] == "x"


def test_min_user_interactions_drops_users_and_counts_them(tmp_path: Path) -> None:
    path = write(tmp_path, "s.txt", "1 5 6 7\n2 6\n3 5 8\n4 9 9 9 5\n")
    data = load_interactions(path, min_user_interactions=3)
    check_interaction_data(data)
    inter = data.interactions
    assert inter is not None and data.items is not None
    assert inter.user_ids == ["", "1", "4"] and data.items.ids == ["", "5", "6", "7", "9"]  # 8 left with user 3
    assert data.info["dropped_users"] == 2 and data.info["users"] == 2 and data.info["interactions"] == 7
    assert type(data.info["dropped_users"]) is int
    json.dumps(data.info)
    assert load_interactions(path).info["dropped_users"] == 0
    assert load_interactions(path, min_user_interactions=2).info["dropped_users"] == 1
    with pytest.raises(ConfigError, match="min_user_interactions must be an integer, got '3'"):
        load_interactions(path, min_user_interactions="3")


def test_interactions_from_frame_is_the_table_path(tmp_path: Path) -> None:
    import pandas as pd

    text = "user_id,item_id,timestamp\nb,x,5\na,y,3\nb,y,1\na,z,3\nb,z,9\na,x,1\nc,x,1\n"
    path = write(tmp_path, "i.csv", text)
    from_file = load_interactions(path, min_user_interactions=2)
    frame = pd.read_csv(path)
    from_frame = interactions_from_frame(frame, source=path, min_user_interactions=2)
    assert from_frame.name == "i.csv" and from_frame.info == from_file.info
    assert from_frame.info["dropped_users"] == 1
    for name in ("users", "items", "part", "timestamps"):
        assert np.array_equal(getattr(from_frame.interactions, name), getattr(from_file.interactions, name))
    other = frame.rename(columns={"user_id": "session", "timestamp": "t"})
    data = interactions_from_frame(other, user="session", timestamp="t")
    assert data.name == "DataFrame" and data.info["source"] == "DataFrame"
    assert data.interactions is not None and data.interactions.timestamps is not None
    with pytest.raises(
        DataError, match=r"^user column 'user_id' missing in DataFrame \(columns: session, item_id, t\)$"
    ):
        interactions_from_frame(other)
    with pytest.raises(ConfigError, match="unknown split 'last'"):
        interactions_from_frame(frame, split="last")


# ------------------------------------------------------------------ histories


def test_user_sequences_and_padding_sides() -> None:
    sequences = UserSequences(np.array([0, 0, 3, 4, 4]), np.array([5, 6, 7, 8]))
    assert len(sequences) == 4 and sequences.lengths().tolist() == [0, 3, 1, 0]
    assert sequences.of(1).tolist() == [5, 6, 7]
    users = np.array([1, 2, 3, 1])
    assert sequences.padded(users, 2).tolist() == [[6, 7], [0, 8], [0, 0], [6, 7]]
    assert sequences.padded(users, 4, side="right").tolist() == [[5, 6, 7, 0], [8, 0, 0, 0], [0, 0, 0, 0], [5, 6, 7, 0]]
    assert sequences.padded(users, 4).tolist()[0] == [0, 5, 6, 7]
    with pytest.raises(ConfigError, match="side must be 'left' or 'right'"):
        sequences.padded(users, 2, side="middle")


def test_history_helpers_refuse_unknown_splits(tmp_path: Path) -> None:
    data = load_interactions(write(tmp_path, "s.txt", "1 2 3 4\n"))
    assert data.interactions is not None
    with pytest.raises(ConfigError, match=r"unknown split 'valid' \(splits: train, val, test\)"):
        known_before(data.interactions, "valid")
    with pytest.raises(ConfigError, match=r"unknown split 'dev'"):
        user_sequences(data.interactions, ("train", "dev"))


# ------------------------------------------------------------------ next-item rows


def sequences_of(*users: list[int]) -> UserSequences:
    """Return users 1.. with these items (user 0 is the empty padding user)."""
    lengths = [0, *(len(items) for items in users)]
    items = [item for sequence in users for item in sequence]
    return UserSequences(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), np.array(items, dtype=np.int64))


def test_next_item_rows_by_hand() -> None:
    short, exact, long = [11, 12], [21, 22, 23, 24], list(range(31, 40))  # n = 2, max_len + 1, 2 * max_len + 3
    users, inputs, targets = next_item_rows(sequences_of([7], short, [], exact, long), 3)
    assert users.tolist() == [2, 4, 5, 5, 5]  # user 1 has one item, user 3 none: no row
    assert inputs.tolist() == [
        [0, 0, 11],
        [21, 22, 23],
        [0, 31, 32], [33, 34, 35], [36, 37, 38],
    ]  # fmt: skip
    assert targets.tolist() == [
        [0, 0, 12],
        [22, 23, 24],
        [0, 32, 33], [34, 35, 36], [37, 38, 39],
    ]  # fmt: skip
    assert users.dtype == inputs.dtype == targets.dtype == np.int64
    assert inputs.shape == targets.shape == (5, 3)
    one_wide = next_item_rows(sequences_of([1, 2, 3]), 1)
    assert one_wide[1].tolist() == [[1], [2]] and one_wide[2].tolist() == [[2], [3]]


def test_next_item_rows_of_nothing_and_bad_widths() -> None:
    users, inputs, targets = next_item_rows(sequences_of([5], []), 4)
    assert users.shape == (0,) and inputs.shape == targets.shape == (0, 4)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ConfigError, match=f"max_len must be a positive integer, got {bad!r}"):
            next_item_rows(sequences_of([1, 2]), bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(5))
def test_next_item_rows_hold_every_transition_once(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 30, size=200)
    sequences = [rng.integers(1, 6, size=n).tolist() for n in lengths]  # few items: repeats are common
    max_len = int(rng.integers(1, 8))
    users, inputs, targets = next_item_rows(sequences_of(*sequences), max_len)
    assert np.array_equal((inputs == 0), (targets == 0))
    assert np.all(np.diff(users) >= 0)
    expected_rows = [(n - 2) // max_len + 1 if n >= 2 else 0 for n in lengths]
    assert np.bincount(users, minlength=len(lengths) + 1)[1:].tolist() == expected_rows
    for user, sequence in enumerate(sequences, start=1):
        rows = users == user
        filled = inputs[rows] != 0
        got = Counter(zip(inputs[rows][filled].tolist(), targets[rows][filled].tolist(), strict=True))
        assert got == Counter(pairwise(sequence)), user
        # each row is a run of consecutive items: its inputs then its last target
        for row_in, row_out in zip(inputs[rows], targets[rows], strict=True):
            assert row_in[1:][row_in[:-1] != 0].tolist() == row_out[:-1][row_in[:-1] != 0].tolist()
    # with distinct items the pairs name positions: each transition appears exactly once
    distinct = [list(range(100 * u + 1, 100 * u + 1 + n)) for u, n in enumerate(lengths)]
    _, inputs, targets = next_item_rows(sequences_of(*distinct), max_len)
    pairs = inputs[inputs != 0] * 100_000 + targets[inputs != 0]
    assert len(np.unique(pairs)) == len(pairs) == sum(max(n - 1, 0) for n in lengths)
    assert np.all(targets[inputs != 0] == inputs[inputs != 0] + 1)
