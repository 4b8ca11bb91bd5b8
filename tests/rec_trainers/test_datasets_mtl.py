"""Tests for the multi-task data sets: ``census-income`` and torch-rechub's three multi-task samples.

Needs the real files under ``$REC_DATA_DIR`` (point it at ``../shared/data``):
``census-income-kdd/census-income.test.gz`` and ``rechub-samples/{census-income,ali-ccp,aliexpress}/``;
each test is skipped with the reason otherwise. Built census arrays go to the test cache
folder that ``tests/conftest.py`` sets.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rec_core.datasets import DatasetSpec, TaskData, split_indices
from rec_core.errors import ConfigError, DataError
from rec_core.features import DenseFeature, SparseFeature
from rec_trainers.datasets import ALI_CCP_SAMPLE, ALIEXPRESS_SAMPLE, CENSUS_INCOME, CENSUS_INCOME_SAMPLE
from rec_trainers.datasets import census as census_module
from rec_trainers.datasets.census import AMOUNTS, CENSUS_INCOME_FILE, COLUMNS, DENSE, SPARSE, read_census
from rec_trainers.datasets.rechub_mtl import RechubMTLSampleDataset
from tests.rec_core.test_datasets_files import real_data_file
from tests.rec_core.test_datasets_spec import check_task_data

SPLITS = ("train", "val", "test")


def check_mtl_data(data: TaskData, targets: dict[str, str]) -> None:
    """Assert the table contract, the targets in order, and that no target column is also an input."""
    check_task_data(data)
    assert data.targets == targets and list(data.targets) == list(targets)
    for split in data.splits.values():
        for target, values in split.targets.items():
            assert target not in split.columns
            for name, column in split.columns.items():
                assert column.ndim != 1 or not np.array_equal(column.astype(np.float32), values), (name, target)


def in_file_order(data: TaskData, rows: dict[str, np.ndarray], values: np.ndarray) -> dict[str, np.ndarray]:
    """Return ``values`` (one per file row) cut like ``data``: split -> the values of its rows."""
    return {name: values[rows[name]] for name in data.splits}


# ------------------------------------------------------------------ census-income


@pytest.fixture(scope="module")
def census_file() -> Path:
    return real_data_file(CENSUS_INCOME_FILE)


@pytest.fixture(scope="module")
def raw(census_file: Path) -> pd.DataFrame:
    """The file as pandas reads it ("NA" and "?" kept as values), with the data set's column names."""
    return pd.read_csv(census_file, header=None, names=list(COLUMNS), skipinitialspace=True, keep_default_na=False)


@pytest.fixture(scope="module")
def census(census_file: Path) -> TaskData:
    return CENSUS_INCOME.load(seed=2022)


@pytest.fixture(scope="module")
def rows(raw: pd.DataFrame) -> dict[str, np.ndarray]:
    """The file rows of each split of ``census``: the seeded 8:1:1 cut of split_indices, in its order."""
    return dict(zip(SPLITS, split_indices(len(raw), (0.8, 0.1, 0.1), 2022), strict=True))


def test_census_counts_targets_and_split(census: TaskData) -> None:
    check_mtl_data(census, {"income": "binary", "marital": "binary"})
    assert census.name == "census-income" and CENSUS_INCOME.default_name == "census-income"
    assert isinstance(CENSUS_INCOME, DatasetSpec)
    info = census.info
    assert (info["rows"], info["train_rows"], info["val_rows"], info["test_rows"]) == (99_762, 79_810, 9_976, 9_976)
    assert (info["positives_income"], info["positives_marital"]) == (6_186, 43_143)  # the README's counts
    assert (info["positive_rate_income"], info["positive_rate_marital"]) == (0.062, 0.4325)
    for target, positives in (("income", 6_186), ("marital", 43_143)):
        assert sum(int(split.targets[target].sum()) for split in census.splits.values()) == positives


def test_census_targets_are_the_label_and_never_married(
    census: TaskData, raw: pd.DataFrame, rows: dict[str, np.ndarray]
) -> None:
    income = in_file_order(census, rows, (raw["label"] == "50000+.").to_numpy())
    marital = in_file_order(census, rows, (raw["marital_status"] == "Never married").to_numpy())
    for name, split in census.splits.items():
        assert np.array_equal(split.targets["income"], income[name])
        assert np.array_equal(split.targets["marital"], marital[name])


def test_census_features(census: TaskData) -> None:
    names = [f.name for f in census.features]
    assert names == [*SPARSE, *DENSE] and len(SPARSE) == 32 and len(DENSE) == 7
    assert all(isinstance(f, SparseFeature) and f.embed_dim == 4 for f in census.features[:32])
    assert all(isinstance(f, DenseFeature) for f in census.features[32:])
    # task 2's label, the sampling weight and task 1's label are no inputs
    assert not {"marital_status", "instance_weight", "label", "income", "marital"} & set(names)
    assert CENSUS_INCOME.load(seed=2022, embed_dim=8).features[0].embed_dim == 8


@pytest.mark.parametrize("split", [(0.8, 0.1, 0.1), (0.05, 0.5, 0.45)])
def test_census_ids_follow_the_id_rule_fitted_on_train(
    census_file: Path, raw: pd.DataFrame, split: tuple[float, float, float]
) -> None:
    data = CENSUS_INCOME.load(seed=2022, split=split)
    rows = dict(zip(SPLITS, split_indices(len(raw), split, 2022), strict=True))
    assert [len(data.splits[name]) for name in SPLITS] == [len(rows[name]) for name in SPLITS]
    assert len(data.test) == (9_976 if split[2] == 0.1 else 44_893)  # round(99,762 * fraction)
    by_name = {f.name: f for f in data.features}
    unknown = 0
    for name in SPARSE:
        codes, _ = pd.factorize(raw[name], sort=True)  # natural order: numbers numerically, text alphabetically
        seen = np.unique(codes[rows["train"]])
        known = np.isin(codes, seen)
        # the values of the training rows get ids 1..n in that order; any other value gets 0
        expected = np.where(known, np.searchsorted(seen, codes) + 1, 0)
        assert by_name[name].vocab_size == len(seen) + 1, name
        for part in SPLITS:
            assert np.array_equal(data.splits[part].columns[name], expected[rows[part]]), (name, part)
        assert known[rows["train"]].all()
        unknown += int((~known).sum())
    assert unknown > 0 if split[0] < 0.1 else unknown == 0  # a small training share leaves rare values unseen


def test_census_dense_columns_are_standardised_on_train_rows(
    census: TaskData, raw: pd.DataFrame, rows: dict[str, np.ndarray]
) -> None:
    for name in DENSE:
        train = census.train.columns[name].astype(np.float64)
        assert abs(train.mean()) < 1e-4 and abs(train.std() - 1) < 1e-4, name
        source = raw[name].to_numpy(dtype=np.float64)
        if name in AMOUNTS:
            source = np.log1p(source)  # heavy-tailed money amounts
        fitted = source[rows["train"]]
        for part in SPLITS:
            expected = (source[rows[part]] - fitted.mean()) / fitted.std()
            assert np.allclose(census.splits[part].columns[name], expected, atol=1e-5), (name, part)
    assert census.train.columns["capital_gains"].max() < 10  # log1p keeps the tail within a few deviations


def test_no_input_determines_a_target(census: TaskData) -> None:
    """Each input value is seen with both outcomes of each target: no input is a disguised label."""
    everything = {
        name: np.concatenate([census.splits[s].columns[name] for s in SPLITS]) for name in census.train.columns
    }
    for target in census.targets:
        y = np.concatenate([census.splits[s].targets[target] for s in SPLITS])
        for name, values in everything.items():
            both = pd.Series(y).groupby(values).nunique()
            assert (both == 2).any(), (name, target)


def test_census_split_is_determined_by_the_seed_and_cached(
    census: TaskData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = CENSUS_INCOME.load(cache_dir=tmp_path, seed=7)  # another seed: another split, built and cached
    assert other.info["cache"] == "written"
    assert sorted(p.suffix for p in (tmp_path / "census-income").iterdir()) == [".json", ".npz"]
    assert [len(other.splits[name]) for name in SPLITS] == [len(census.splits[name]) for name in SPLITS]
    assert not np.array_equal(other.train.columns["age"], census.train.columns["age"])

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(census_module, "build_census", no_build)
    for first, again in (
        (census, CENSUS_INCOME.load(seed=2022)),
        (other, CENSUS_INCOME.load(cache_dir=tmp_path, seed=7)),
    ):
        assert again.info["cache"] == "hit" and again.features == first.features
        for name in SPLITS:
            for column, values in first.splits[name].columns.items():
                assert np.array_equal(again.splits[name].columns[column], values)
                assert again.splits[name].columns[column].dtype == values.dtype
            for target, values in first.splits[name].targets.items():
                assert np.array_equal(again.splits[name].targets[target], values)


def test_census_options(no_data_env: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown option 'splits' for data set 'census-income' \(options: split\)"):
        CENSUS_INCOME.load(splits=(0.8, 0.1, 0.1))
    with pytest.raises(ConfigError, match="split must be"):
        CENSUS_INCOME.load(split=(0.8, 0.3, 0.1))  # refused before the file is looked for


def test_census_refuses_a_damaged_or_missing_file(census_file: Path, tmp_path: Path, no_data_env: Path) -> None:
    fake = tmp_path / CENSUS_INCOME_FILE
    fake.parent.mkdir(parents=True)
    shutil.copy(census_file, fake)
    with open(fake, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(DataError) as damaged:
        CENSUS_INCOME.load(data_dir=tmp_path)
    assert str(damaged.value).endswith(
        "expected 5ac4cacd3ca9…; the file is damaged or not the expected census-income.test.gz"
    )
    with pytest.raises(DataError) as missing:
        CENSUS_INCOME.load()
    assert str(missing.value).startswith("data file 'census-income-kdd/census-income.test.gz' not found")
    assert "\n" not in str(damaged.value) + str(missing.value)


def test_read_census_names_a_file_that_is_not_census(tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    short.write_text("1, 2, 3\n")
    with pytest.raises(DataError, match=r"cannot read .*short\.csv as the census-income file: "):
        read_census(short)
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text(", ".join(["0"] * 41 + ["- 50000."]) + "\n" + ", ".join(["0"] * 41 + ["rich"]) + "\n")
    with pytest.raises(DataError, match=r"unlabelled\.csv is not the census-income file: row 2 has no income label"):
        read_census(unlabelled)


# ------------------------------------------------------------------ torch-rechub samples

# spec, folder, file stems by split, targets (name -> file column), counts: split -> (rows, positives per target)
SAMPLES = {
    "census-income-sample": (
        CENSUS_INCOME_SAMPLE, "census-income", {"income": "income", "marital": "marital status"},
        {"train": (80, [5, 27]), "val": (20, [2, 3]), "test": (20, [2, 6])}, (32, 7), 4,
    ),
    "ali-ccp-sample": (
        ALI_CCP_SAMPLE, "ali-ccp", {"click": "click", "purchase": "purchase"},
        {"train": (100, [7, 1]), "val": (50, [3, 1]), "test": (50, [2, 1])}, (23, 8), 4,
    ),
    "aliexpress-sample": (
        ALIEXPRESS_SAMPLE, "aliexpress", {"click": "click", "conversion": "conversion"},
        {"train": (100, [60, 2]), "test": (20, [10, 2])}, (16, 63), 5,
    ),
}  # fmt: skip


def sample_frames(spec: RechubMTLSampleDataset) -> dict[str, pd.DataFrame]:
    """Read the sample's files with pandas, as given: split -> table."""
    return {split: pd.read_csv(real_data_file(relative)) for split, (relative, _) in spec.files.items()}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_sample_uses_the_given_splits_and_targets(name: str) -> None:
    spec, _, targets, counts, (n_sparse, n_dense), embed_dim = SAMPLES[name]
    frames = sample_frames(spec)
    data = spec.load()
    check_mtl_data(data, dict.fromkeys(targets, "binary"))
    assert data.name == name == spec.default_name
    assert list(data.splits) == list(counts)
    for split, (size, positives) in counts.items():
        assert len(data.splits[split]) == size
        assert [int(data.splits[split].targets[t].sum()) for t in targets] == positives
        for target, column in targets.items():  # rows in file order
            assert np.array_equal(data.splits[split].targets[target], frames[split][column].to_numpy(np.float32))
    sparse = [f for f in data.features if isinstance(f, SparseFeature)]
    dense = [f for f in data.features if isinstance(f, DenseFeature)]
    assert (len(sparse), len(dense)) == (n_sparse, n_dense) and data.features == [*sparse, *dense]
    assert {f.embed_dim for f in sparse} == {embed_dim}
    assert not set(targets.values()) & {f.name for f in data.features}
    for feature in sparse:  # encoded over the files together: every id known, 0 unused
        seen = np.unique(np.concatenate([split.columns[feature.name] for split in data.splits.values()]))
        assert np.array_equal(seen, np.arange(1, feature.vocab_size)), feature.name
        joined = pd.concat([frames[s][feature.name] for s in data.splits])
        assert feature.vocab_size == joined.nunique() + 1
    for feature in dense:  # as given
        for split in data.splits:
            values = frames[split][feature.name].to_numpy(np.float32)
            assert np.array_equal(data.splits[split].columns[feature.name], values)


def test_sample_specifics() -> None:
    real_data_file("rechub-samples/ali-ccp/ali_ccp_train_sample.csv")
    real_data_file("rechub-samples/aliexpress/aliexpress_train_sample.csv")
    ali_ccp = ALI_CCP_SAMPLE.load()
    for split in ali_ccp.splits.values():  # ESMM's CTCVR label: a purchase is always a click
        assert (split.targets["purchase"] <= split.targets["click"]).all()
    aliexpress = ALIEXPRESS_SAMPLE.load()
    assert "search_id" not in aliexpress.train.columns and aliexpress.val is None
    assert aliexpress.info["val_rows"] == 0


def test_aliexpress_val_is_a_seeded_share_of_train() -> None:
    frames = sample_frames(ALIEXPRESS_SAMPLE)
    data = ALIEXPRESS_SAMPLE.load(val=0.2, seed=5)
    assert [len(data.splits[s]) for s in SPLITS] == [80, 20, 20]
    ids = frames["train"]["numerical_10"].to_numpy(np.float32)
    train, val, _ = split_indices(100, (0.8, 0.2, 0.0), 5)
    assert np.array_equal(data.val.columns["numerical_10"], ids[np.sort(val)])  # file order
    assert np.array_equal(data.train.columns["numerical_10"], ids[np.sort(train)])
    assert np.array_equal(data.test.targets["click"], frames["test"]["click"].to_numpy(np.float32))
    again, other = ALIEXPRESS_SAMPLE.load(val=0.2, seed=5), ALIEXPRESS_SAMPLE.load(val=0.2, seed=6)
    assert np.array_equal(again.val.columns["categorical_7"], data.val.columns["categorical_7"])
    assert not np.array_equal(other.val.columns["numerical_10"], data.val.columns["numerical_10"])


def test_sample_options(no_data_env: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown option 'split' for data set 'ali-ccp-sample' \(options: none\)"):
        ALI_CCP_SAMPLE.load(split=(1, 0, 0))
    with pytest.raises(ConfigError, match=r"unknown option 'vals' for data set 'aliexpress-sample' \(options: val\)"):
        ALIEXPRESS_SAMPLE.load(vals=0.1)
    for bad in (1.0, -0.1, "0.1", True):
        with pytest.raises(ConfigError, match="data set 'aliexpress-sample': val must be a fraction in"):
            ALIEXPRESS_SAMPLE.load(val=bad)


def test_aliexpress_val_needs_a_row() -> None:
    real_data_file("rechub-samples/aliexpress/aliexpress_train_sample.csv")
    with pytest.raises(ConfigError, match=r"val=0\.001 holds 0 of the 100 training rows"):
        ALIEXPRESS_SAMPLE.load(val=0.001)


def test_samples_refuse_a_changed_file(tmp_path: Path) -> None:
    for split, (relative, _) in CENSUS_INCOME_SAMPLE.files.items():
        copy = tmp_path / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        text = real_data_file(relative).read_text()
        copy.write_text(text.replace("\n0.", "\n1.", 1) if split == "val" else text)
    with pytest.raises(DataError) as changed:
        CENSUS_INCOME_SAMPLE.load(data_dir=tmp_path)
    assert str(changed.value).startswith(f"{tmp_path / CENSUS_INCOME_SAMPLE.files['val'][0]} has SHA-256 ")
    assert str(changed.value).endswith("…, expected 79357ec0a300…; the file is damaged or not the expected "
                                       "census_income_val_sample.csv")  # fmt: skip


def test_samples_name_the_missing_file(no_data_env: Path) -> None:
    for spec in (CENSUS_INCOME_SAMPLE, ALI_CCP_SAMPLE, ALIEXPRESS_SAMPLE):
        with pytest.raises(DataError) as missing:
            spec.load()
        first = spec.files["train"][0]
        assert str(missing.value).startswith(f"data file {first!r} not found") and "\n" not in str(missing.value)
