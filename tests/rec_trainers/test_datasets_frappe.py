"""Tests for the ``frappe`` data set: NFM-style negative sampling, counts, split, cache.

Needs the real file: ``$REC_DATA_DIR/frappe/raw-baltrunas/frappe.csv.gz`` (point
REC_DATA_DIR at ``../shared/data``); skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rec_core.datasets import TaskData
from rec_core.errors import ConfigError, DataError
from rec_trainers.datasets import FRAPPE
from rec_trainers.datasets import frappe as frappe_module
from rec_trainers.datasets.frappe import CONTEXT, FIELDS, FRAPPE_FILE, FrappeBuild, build_frappe
from tests.rec_core.test_datasets_files import real_data_file
from tests.rec_trainers.test_datasets import check_ctr_data

VALUES = {  # distinct values per field; ids are 1..n, 0 reserved
    "user": 957,
    "item": 4082,
    "daytime": 7,
    "weekday": 7,
    "isweekend": 2,
    "homework": 3,
    "cost": 2,
    "weather": 9,
    "country": 80,
    "city": 233,
}


@pytest.fixture(scope="module")
def source() -> Path:
    return real_data_file(FRAPPE_FILE)


@pytest.fixture(scope="module")
def built(source: Path) -> FrappeBuild:
    return build_frappe(source, seed=2022)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("frappe-cache")


@pytest.fixture(scope="module")
def loaded(source: Path, cache_dir: Path) -> TaskData:
    return FRAPPE.load(data_dir=source.parents[2], cache_dir=cache_dir, seed=2022)


def _context_keys(columns: dict[str, np.ndarray]) -> np.ndarray:
    """One int64 per row for (user + the 8 other context fields), mixed radix over the vocabularies."""
    key = np.zeros(len(columns["user"]), dtype=np.int64)
    for field in CONTEXT:
        key = key * (VALUES[field] + 1) + columns[field]
    return key


def test_counts_match_the_nfm_data(built: FrappeBuild) -> None:
    assert built.positives == 96_203
    assert len(built.labels) == 288_609  # the NFM README's total
    assert int(built.labels.sum()) == 96_203
    assert built.vocab_sizes == {field: n + 1 for field, n in VALUES.items()}
    assert sum(VALUES.values()) == 5_382
    assert list(built.columns) == list(FIELDS)
    for field, n in VALUES.items():
        assert built.columns[field].min() == 1 and built.columns[field].max() == n
        assert len(built.vocabularies[field]) == n


def test_negatives_keep_the_context_and_avoid_the_users_apps_in_it(built: FrappeBuild) -> None:
    positive = built.labels == 1
    keys = _context_keys(built.columns)
    item = built.columns["item"]
    n_items = VALUES["item"] + 1
    used = np.unique(keys[positive] * n_items + item[positive])
    negative_pairs = keys[~positive] * n_items + item[~positive]
    # no negative (context, item) was ever logged as a positive
    assert not np.isin(negative_pairs, used).any()
    # every negative's (user, context) has a positive
    assert np.isin(keys[~positive], keys[positive]).all()
    # rows are [positives; 1st negatives; 2nd negatives]: each positive has two distinct negatives in its context
    n = built.positives
    assert np.array_equal(keys[n : 2 * n], keys[:n]) and np.array_equal(keys[2 * n :], keys[:n])
    assert (item[n : 2 * n] != item[2 * n :]).all()
    for field in CONTEXT:
        assert np.array_equal(built.columns[field][2 * n :], built.columns[field][:n])


def test_negatives_spread_over_the_catalogue(built: FrappeBuild) -> None:
    negatives = built.columns["item"][built.labels == 0]
    counts = np.bincount(negatives, minlength=VALUES["item"] + 1)[1:]
    assert (counts > 0).mean() > 0.99  # uniform sampling reaches almost every app
    assert counts.max() < 5 * counts.mean()


def test_split_is_seven_two_one_with_a_third_positive(loaded: TaskData, built: FrappeBuild) -> None:
    check_ctr_data(loaded)
    assert loaded.name == "frappe"
    sizes = [len(loaded.splits[name]) for name in ("train", "val", "test")]
    assert sizes == [202_026, 57_722, 28_861]
    assert loaded.info["rows"] == 288_609 and loaded.info["positives"] == 96_203
    assert loaded.info["features"] == 5_382 and loaded.info["positive_rate"] == 0.3333
    for split in loaded.splits.values():
        assert abs(split.target.mean() - 1 / 3) < 0.01
    assert [f.name for f in loaded.features] == list(FIELDS)
    assert {f.name: f.vocab_size for f in loaded.features} == {field: n + 1 for field, n in VALUES.items()}
    assert {f.embed_dim for f in loaded.features} == {10}
    # each split holds the rows of its part, in an order shuffled with the seed
    shuffle = np.random.default_rng(2022)
    for code, name in enumerate(("train", "val", "test")):
        rows = shuffle.permutation(np.flatnonzero(built.part == code))
        assert np.array_equal(loaded.splits[name].columns["item"], built.columns["item"][rows])
        assert np.array_equal(loaded.splits[name].target, built.labels[rows])


def test_build_is_determined_by_the_seed(source: Path, built: FrappeBuild) -> None:
    again = build_frappe(source, seed=2022)
    other = build_frappe(source, seed=7)
    for field in FIELDS:
        assert np.array_equal(again.columns[field], built.columns[field])
    assert np.array_equal(again.part, built.part)
    n = built.positives
    assert np.array_equal(other.columns["item"][:n], built.columns["item"][:n])  # same positives
    assert not np.array_equal(other.columns["item"][n:], built.columns["item"][n:])  # other negatives
    assert not np.array_equal(other.part, built.part)  # another split


def test_second_load_reads_the_cache(
    source: Path, cache_dir: Path, loaded: TaskData, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert loaded.info["cache"] in ("written", "hit")
    files = sorted(p.name for p in (cache_dir / "frappe").iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".npz")
    meta = json.loads((cache_dir / "frappe" / files[0]).read_text())
    assert meta["seed"] == 2022 and meta["source_sha256"] == frappe_module.FRAPPE_SHA256
    assert meta["vocab_sizes"] == {field: n + 1 for field, n in VALUES.items()} and meta["rows"] == 288_609
    assert meta["build_version"] == 3 and files[0].startswith("frappe-v3-seed2022-neg2-0p7-0p2-0p1-")

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(frappe_module, "build_frappe", no_build)
    again = FRAPPE.load(data_dir=source.parents[2], cache_dir=cache_dir, seed=2022, embed_dim=4)
    assert again.info["cache"] == "hit"
    assert {f.embed_dim for f in again.features} == {4}
    for name in ("train", "val", "test"):
        a, b = loaded.splits[name], again.splits[name]
        assert np.array_equal(a.target, b.target) and a.target.dtype == b.target.dtype
        for field in FIELDS:
            assert np.array_equal(a.columns[field], b.columns[field]) and b.columns[field].dtype == np.int64


def test_another_seed_or_a_damaged_cache_rebuilds(source: Path, tmp_path: Path) -> None:
    spec = FRAPPE
    root = source.parents[2]
    first = spec.load(data_dir=root, cache_dir=tmp_path, seed=1)
    assert first.info["cache"] == "written"
    assert spec.load(data_dir=root, cache_dir=tmp_path, seed=1).info["cache"] == "hit"
    assert spec.load(data_dir=root, cache_dir=tmp_path, seed=2).info["cache"] == "written"
    for npz in (tmp_path / "frappe").glob("*seed1-*.npz"):
        npz.write_bytes(b"not a zip")
    rebuilt = spec.load(data_dir=root, cache_dir=tmp_path, seed=1)
    assert rebuilt.info["cache"] == "written"
    assert np.array_equal(rebuilt.train.target, first.train.target)
    for json_file in (tmp_path / "frappe").glob("*seed1-*.json"):
        json_file.write_text(json_file.read_text().replace('"build_version": 3', '"build_version": 2'))
    assert spec.load(data_dir=root, cache_dir=tmp_path, seed=1).info["cache"] == "written"  # stale: rebuilt


def test_bad_options(source: Path, tmp_path: Path) -> None:
    spec = FRAPPE
    with pytest.raises(ConfigError, match="data set 'frappe': negatives must be an integer from 1 to 100, got 0"):
        spec.load(data_dir=source.parents[2], cache_dir=tmp_path, negatives=0)
    with pytest.raises(ConfigError, match="unknown option 'negative' for data set 'frappe'"):
        spec.load(data_dir=source.parents[2], cache_dir=tmp_path, negative=3)


def test_four_negatives(source: Path, tmp_path: Path) -> None:
    data = FRAPPE.load(data_dir=source.parents[2], cache_dir=tmp_path, negatives=4)
    assert data.info["rows"] == 96_203 * 5
    assert abs(np.concatenate([split.target for split in data.splits.values()]).mean() - 0.2) < 1e-9


def test_a_different_file_is_refused(source: Path, tmp_path: Path) -> None:
    fake = tmp_path / FRAPPE_FILE
    fake.parent.mkdir(parents=True)
    shutil.copy(source, fake)
    with open(fake, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(
        DataError, match=r"frappe\.csv\.gz has SHA-256 .*, expected f07a0a396f3c…; the file is damaged or not"
    ):
        FRAPPE.load(data_dir=tmp_path, cache_dir=tmp_path / "cache")
