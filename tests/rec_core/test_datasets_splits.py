"""Tests for rec_core.datasets.splits: seeded row splits and the interaction splits."""

from __future__ import annotations

import numpy as np
import pytest

from rec_core.datasets.splits import (
    check_split_rows,
    leave_one_out,
    parts_to_rows,
    random_split,
    split_indices,
    split_interactions,
    split_sizes,
    temporal_split,
)
from rec_core.errors import ConfigError, DataError

# ------------------------------------------------------------------ rows


def test_split_sizes_round_val_and_test() -> None:
    assert split_sizes(288_609, (0.7, 0.2, 0.1)) == (202_026, 57_722, 28_861)
    assert split_sizes(115, (0.7, 0.15, 0.15)) == (81, 17, 17)
    assert split_sizes(10, (1.0, 0.0, 0.0)) == (10, 0, 0)
    assert split_sizes(10, [0.8, 0.1, 0.1]) == (8, 1, 1)


@pytest.mark.parametrize(
    "bad", [(0.8, 0.1), (0.8, 0.1, 0.2), (0.0, 0.5, 0.5), (1.2, -0.1, -0.1), (True, 0, 0), 0.8, "811"]
)
def test_split_sizes_refuse_bad_ratios(bad: object) -> None:
    with pytest.raises(ConfigError, match="split must be"):
        split_sizes(100, bad)  # type: ignore[arg-type]


def test_split_indices_partition_and_determinism() -> None:
    train, val, test = split_indices(1000, (0.8, 0.1, 0.1), seed=3)
    assert (len(train), len(val), len(test)) == (800, 100, 100)
    assert np.array_equal(np.sort(np.concatenate([train, val, test])), np.arange(1000))
    again = split_indices(1000, (0.8, 0.1, 0.1), seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    assert not np.array_equal(split_indices(1000, (0.8, 0.1, 0.1), seed=4)[1], val)
    assert not np.array_equal(train, np.sort(train))  # shuffled within the part


def test_check_split_rows_names_the_empty_part_and_the_rows_needed() -> None:
    check_split_rows(6, (0.8, 0.1, 0.1), "d.csv")
    check_split_rows(1, (1.0, 0.0, 0.0), "d.csv")
    with pytest.raises(DataError) as info:
        check_split_rows(1, (0.8, 0.1, 0.1), "d.csv")
    assert str(info.value) == (
        "d.csv has 1 data row, too few for the split (0.8, 0.1, 0.1): the validation part would be empty; "
        "use a file of at least 6 rows or a split without that part, e.g. split=(1, 0, 0)"
    )
    with pytest.raises(DataError, match=r"has 3 data rows, .*the test part would be empty; use a file of at least 6"):
        check_split_rows(3, (0.5, 0.4, 0.1), "d.csv")


def test_parts_to_rows_keeps_or_shuffles_the_order() -> None:
    part = np.array([0, 1, 0, 2, 0, 1, 0, 0], dtype=np.int8)
    assert [r.tolist() for r in parts_to_rows(part)] == [[0, 2, 4, 6, 7], [1, 5], [3]]
    shuffled = parts_to_rows(part, seed=1)
    assert [sorted(r.tolist()) for r in shuffled] == [[0, 2, 4, 6, 7], [1, 5], [3]]
    rng = np.random.default_rng(1)
    expected = [rng.permutation(np.flatnonzero(part == k)) for k in range(3)]
    assert all(np.array_equal(a, b) for a, b in zip(shuffled, expected, strict=True))


# ------------------------------------------------------------------ interactions


def test_leave_one_out_last_is_test_second_last_is_val() -> None:
    users = np.array([1, 1, 1, 1, 2, 2, 2, 3, 3, 4])
    assert leave_one_out(users).tolist() == [0, 0, 1, 2, 0, 1, 2, 0, 0, 0]  # users 3, 4: too few, all train
    assert leave_one_out(np.array([], dtype=np.int64)).tolist() == []
    assert leave_one_out(users).dtype == np.int8


def test_leave_one_out_gives_each_long_user_one_val_and_one_test() -> None:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(1, 501), rng.integers(1, 9, 500))
    part = leave_one_out(users)
    counts = np.bincount(users)
    for code in (1, 2):
        per_user = np.bincount(users[part == code], minlength=len(counts))
        assert np.array_equal(per_user[1:], (counts[1:] >= 3).astype(int))


def test_temporal_split_cuts_global_time_ties_by_position() -> None:
    times = np.array([5.0, 1.0, 3.0, 3.0, 9.0, 2.0, 7.0, 3.0, 8.0, 4.0])
    part = temporal_split(times, (0.6, 0.2, 0.2))
    order = np.argsort(times, kind="stable")  # 1, 5, 2, 3, 7, 9 | 0, 6 | 8, 4
    assert part[order].tolist() == [0] * 6 + [1] * 2 + [2] * 2
    assert times[part == 0].max() <= times[part == 1].min() <= times[part == 1].max() <= times[part == 2].min()


def test_random_split_is_seeded_and_sized() -> None:
    ratios = (0.8, 0.1, 0.1)
    a, b, c = random_split(1000, ratios, 1), random_split(1000, ratios, 1), random_split(1000, ratios, 2)
    assert np.bincount(a).tolist() == [800, 100, 100]
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    _, val, test = split_indices(1000, (0.8, 0.1, 0.1), 1)
    assert (a[val] == 1).all() and (a[test] == 2).all()


def test_split_interactions_dispatch_and_errors() -> None:
    users = np.array([1, 1, 1, 2, 2, 2])
    times = np.arange(6.0)
    assert split_interactions("leave-one-out", users, None).tolist() == [0, 1, 2, 0, 1, 2]
    assert split_interactions("temporal", users, times, ratios=(0.5, 0.5, 0.0)).tolist() == [0, 0, 0, 1, 1, 1]
    assert len(split_interactions("random", users, None, ratios=(0.5, 0.5, 0.0), seed=1)) == 6
    with pytest.raises(ConfigError) as info:
        split_interactions("temporal", users, None, source="Beauty.txt")
    assert str(info.value) == "a temporal split needs timestamps and Beauty.txt has none; use leave-one-out or random"
    with pytest.raises(ConfigError, match=r"unknown split 'loo' \(splits: leave-one-out, temporal, random\)"):
        split_interactions("loo", users, times)
