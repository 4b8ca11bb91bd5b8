"""Tests for the ``seq`` data sets: ``amazon-beauty``, ``ml-100k``, ``diginetica-sample``, ``yoochoose-sample``.

Needs the real files under ``$REC_DATA_DIR`` (point it at ``../shared/data``):
``amazon-beauty-5core/``, ``movielens-100k-recbole/`` and ``rechub-samples/{diginetica,yoochoose}/``;
each test is skipped with the reason otherwise. Expected sequences are rebuilt from the raw
files with pandas, independently of the loaders.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rec_core.datasets import DatasetSpec, TaskData
from rec_core.datasets.amazon_beauty import BEAUTY_FILE, BEAUTY_ITEMS_FILE
from rec_core.errors import ConfigError, DataError
from rec_trainers.datasets.sequential import (
    AMAZON_BEAUTY,
    DIGINETICA_FILE,
    DIGINETICA_SAMPLE,
    ML_100K,
    ML_100K_FILE,
    ML_100K_ITEMS_FILE,
    YOOCHOOSE_FILE,
    YOOCHOOSE_SAMPLE,
)
from tests.rec_core.test_datasets_files import real_data_file
from tests.rec_core.test_datasets_interactions import check_interaction_data

SPECS = (AMAZON_BEAUTY, ML_100K, DIGINETICA_SAMPLE, YOOCHOOSE_SAMPLE)


def sequences_in(data: TaskData) -> dict[str, list[str]]:
    """Return original user id -> original item ids, in the loaded order."""
    inter, items = data.interactions, data.items
    assert inter is not None and items is not None
    ends = np.flatnonzero(np.r_[inter.users[1:] != inter.users[:-1], True]) + 1
    starts = np.r_[0, ends[:-1]]
    return {
        inter.user_ids[inter.users[start]]: [items.ids[i] for i in inter.items[start:end]]
        for start, end in zip(starts, ends, strict=True)
    }


def check_leave_one_out(data: TaskData, expected: dict[str, list[str]]) -> None:
    """Assert the users' sequences, and that each user's val target is its second-to-last item and test its last."""
    check_interaction_data(data)
    inter, items = data.interactions, data.items
    assert inter is not None and items is not None
    assert sequences_in(data) == expected
    for name, back in (("val", 2), ("test", 1)):
        split = data.splits[name]
        assert len(split) == len(expected)  # every kept user has 3 or more interactions
        got = {inter.user_ids[u]: items.ids[i] for u, i in zip(split.columns["user"], split.target, strict=True)}
        assert got == {user: sequence[-back] for user, sequence in expected.items()}


def raw_sequences(
    frame: pd.DataFrame, user: str, item: str, order: list[str], minimum: int = 3
) -> dict[str, list[str]]:
    """Return user -> items sorted by ``order`` (ties in file order), for users with ``minimum`` or more."""
    ordered = frame.sort_values([user, *order], kind="stable")
    return {
        str(key): [str(value) for value in group[item]]
        for key, group in ordered.groupby(user, sort=False)
        if len(group) >= minimum
    }


def check_info(data: TaskData, users: int, items: int, interactions: int, dropped: int) -> None:
    assert data.info["users"] == users and data.info["items"] == items
    assert data.info["interactions"] == interactions and data.info["dropped_users"] == dropped
    assert data.info["split"] == "leave-one-out"
    assert data.info["val_rows"] == data.info["test_rows"] == users
    assert data.info["train_rows"] == interactions - 2 * users
    json.dumps(data.info)  # the run summary stores it


# ------------------------------------------------------------------ amazon-beauty


@pytest.fixture(scope="module")
def beauty() -> TaskData:
    real_data_file(BEAUTY_FILE[0])
    real_data_file(BEAUTY_ITEMS_FILE[0])
    return AMAZON_BEAUTY.load()


def test_amazon_beauty_counts_and_leave_one_out(beauty: TaskData) -> None:
    assert beauty.name == "amazon-beauty"
    check_info(beauty, 22_363, 12_101, 198_502, 0)
    lines = real_data_file(BEAUTY_FILE[0]).read_text().splitlines()
    expected = {tokens[0]: tokens[1:] for tokens in (line.split() for line in lines)}
    check_leave_one_out(beauty, expected)
    assert beauty.interactions is not None and beauty.interactions.timestamps is None
    user, *items = lines[0].split()  # user 1: 1 2 3 4 5
    assert (user, items[-2], items[-1]) == ("1", "4", "5")
    assert beauty.val is not None and beauty.test is not None
    assert (beauty.val.target[0], beauty.test.target[0]) == (4, 5)  # ids are kept: the file's are 1..n


def test_amazon_beauty_titles_and_asins(beauty: TaskData) -> None:
    catalogue = beauty.items
    assert catalogue is not None and catalogue.text is not None
    assert catalogue.n_items == len(catalogue.text) == 12_102
    assert catalogue.text[1] == "OPI Nail Lacquer, Simmer and Shimmer, 0.5-Fluid Ounce"
    assert list(catalogue.attributes) == ["asin"] and catalogue.attributes["asin"][1] == "B004756YJA"
    assert sum(1 for title in catalogue.text[1:] if not title) == 7  # the README: 7 empty titles


def test_amazon_beauty_has_no_times_for_a_temporal_split() -> None:
    real_data_file(BEAUTY_FILE[0])
    with pytest.raises(ConfigError, match=r"a temporal split needs timestamps and .*Beauty\.txt has none"):
        AMAZON_BEAUTY.load(split="temporal")


# ------------------------------------------------------------------ ml-100k


def test_ml_100k_in_time_order_with_titles() -> None:
    path = real_data_file(ML_100K_FILE[0])
    real_data_file(ML_100K_ITEMS_FILE[0])
    data = ML_100K.load(embed_dim=8)
    assert data.name == "ml-100k"
    check_info(data, 943, 1_682, 100_000, 0)
    raw = pd.read_csv(path, sep="\t")
    raw.columns = [name.split(":")[0] for name in raw.columns]
    assert raw["rating"].notna().all() and len(raw) == 100_000  # implicit: every rating counts
    check_leave_one_out(data, raw_sequences(raw, "user_id", "item_id", ["timestamp"]))
    assert data.items is not None and data.items.text is not None
    assert data.items.text[1] == "Toy Story" and data.items.ids[1] == "1"
    assert list(data.items.attributes) == ["release_year", "class"]
    assert all(feature.embed_dim == 8 for feature in data.features)  # type: ignore[union-attr]


def test_ml_100k_temporal_split() -> None:
    real_data_file(ML_100K_FILE[0])
    data = ML_100K.load(split="temporal", ratios=(0.8, 0.1, 0.1))
    inter = data.interactions
    assert inter is not None and inter.timestamps is not None
    assert np.bincount(inter.part).tolist() == [80_000, 10_000, 10_000]
    assert inter.timestamps[inter.part == 0].max() <= inter.timestamps[inter.part == 1].min()


# ------------------------------------------------------------------ the session samples


def test_diginetica_sample_sessions_by_date_then_offset() -> None:
    path = real_data_file(DIGINETICA_FILE[0])
    data = DIGINETICA_SAMPLE.load()
    assert data.name == "diginetica-sample"
    check_info(data, 53, 351, 445, 41)  # 94 sessions, 41 of them with fewer than 3 views
    raw = pd.read_csv(path, sep=";")
    assert raw["sessionId"].nunique() == 94 and len(raw) == 500
    expected = raw_sequences(raw, "sessionId", "itemId", ["eventdate", "timeframe"])
    check_leave_one_out(data, expected)
    # session 1, by timeframe (the file lists 81766 first): its val target is 31331, its test target 32627
    session = ["9654", "33043", "32118", "12352", "35077", "36118", "81766", "129055", "31331", "32627"]
    assert sequences_in(data)["1"] == expected["1"] == session
    every = DIGINETICA_SAMPLE.load(min_user_interactions=1)
    assert (every.info["users"], every.info["interactions"], every.info["dropped_users"]) == (94, 500, 0)


def test_yoochoose_sample_sessions_by_time() -> None:
    path = real_data_file(YOOCHOOSE_FILE[0])
    data = YOOCHOOSE_SAMPLE.load()
    assert data.name == "yoochoose-sample"
    check_info(data, 62, 244, 378, 63)  # 125 sessions, 63 of them with fewer than 3 clicks
    raw = pd.read_csv(path, header=None, names=["session", "time", "item", "category"])
    raw["time"] = pd.to_datetime(raw["time"], utc=True)
    check_leave_one_out(data, raw_sequences(raw, "session", "item", ["time"]))
    inter = data.interactions
    assert inter is not None and inter.timestamps is not None
    first = pd.Timestamp("2014-04-07T10:51:09.277Z")  # session 1's first click
    assert inter.timestamps[0] == first.value  # nanoseconds since the epoch, UTC


# ------------------------------------------------------------------ options and files


def test_specs_are_dataset_specs_with_one_line_option_errors(no_data_env: Path) -> None:
    for spec in SPECS:
        assert isinstance(spec, DatasetSpec)
        with pytest.raises(ConfigError) as info:
            spec.load(max_len=50)
        message = str(info.value)
        assert message == (
            f"unknown option 'max_len' for data set {spec.default_name!r} "
            "(options: min_user_interactions, ratios, split)"
        )
        assert "\n" not in message
        with pytest.raises(ConfigError, match=rf"^data set {spec.default_name!r}: unknown split 'last' \(splits: "):
            spec.load(split="last")  # refused before the files are looked for


def test_specs_name_the_missing_file(no_data_env: Path) -> None:
    for spec, relative in zip(SPECS, (BEAUTY_FILE, ML_100K_FILE, DIGINETICA_FILE, YOOCHOOSE_FILE), strict=True):
        with pytest.raises(DataError) as missing:
            spec.load()
        assert str(missing.value).startswith(f"data file {relative[0]!r} not found")


def test_a_changed_file_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / YOOCHOOSE_FILE[0]
    copy.parent.mkdir(parents=True)
    copy.write_text(real_data_file(YOOCHOOSE_FILE[0]).read_text().replace("214536502", "214536503", 1))
    with pytest.raises(DataError, match=r"has SHA-256 .*; the file is damaged or not the expected yoochoose-clicks"):
        YOOCHOOSE_SAMPLE.load(data_dir=tmp_path)
