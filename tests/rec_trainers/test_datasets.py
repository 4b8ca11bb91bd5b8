"""Tests for rec_trainers.datasets: the contract, file lookup, splits, the built-in catalog,
the synthetic generator and the torch-rechub samples.

Tests that read real data use ``$REC_DATA_DIR`` (point it at ``../shared/data``) and are
skipped with the reason when it is unset or the file is missing.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np
import pytest

from rec_core.errors import ConfigError, DataError
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
from rec_core.metrics import auc
from rec_core.registry import NAME_PATTERN
from rec_trainers.datasets import (
    BUILTIN_DATASETS,
    DEFAULT_DATASET,
    CTRData,
    DatasetSpec,
    cache_root,
    find_data_file,
    generate_ctr,
    make_criteo_like,
)
from rec_trainers.datasets.catalog import CATALOG
from rec_trainers.datasets.common import check_params, split_indices, split_sizes
from rec_trainers.datasets.generator import CRITEO_CARDINALITIES, zipf_ids


def real_data_file(relative: str) -> Path:
    """Return ``$REC_DATA_DIR/relative``, or skip the test saying why it cannot run."""
    root = os.environ.get("REC_DATA_DIR")
    if not root:
        pytest.skip("REC_DATA_DIR is not set (point it at ../shared/data to run real-data tests)")
    path = Path(root) / relative
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


def check_ctr_data(data: CTRData) -> None:
    """Assert the CTRData contract: a feature per column, dtypes, id ranges, 0/1 labels."""
    by_name = {f.name: f for f in data.features}
    for part in data.splits().values():
        columns, labels = part
        assert list(columns) == list(by_name)
        assert labels.dtype == np.float32
        assert set(np.unique(labels)) <= {0.0, 1.0}
        for name, values in columns.items():
            assert len(values) == len(labels)
            feature = by_name[name]
            if isinstance(feature, DenseFeature):
                assert values.dtype == np.float32
                assert np.isfinite(values).all()
            else:
                assert values.dtype == np.int64
                assert values.min() >= 0 and values.max() < feature.vocab_size
                assert values.ndim == (2 if isinstance(feature, SequenceFeature) else 1)


# ------------------------------------------------------------------ file lookup


@pytest.fixture
def no_data_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Unset REC_DATA_DIR and point the cache at an empty folder; return that folder."""
    monkeypatch.delenv("REC_DATA_DIR", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("REC_CACHE_DIR", str(cache))
    return cache


def test_find_data_file_searches_data_dir_env_then_cache(
    no_data_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relative = "set/file.csv"
    cached = no_data_env / relative
    cached.parent.mkdir(parents=True)
    cached.write_text("x")
    assert find_data_file(relative) == cached

    env_root = tmp_path / "env"
    (env_root / "set").mkdir(parents=True)
    (env_root / relative).write_text("x")
    monkeypatch.setenv("REC_DATA_DIR", str(env_root))
    assert find_data_file(relative) == env_root / relative

    given = tmp_path / "given"
    (given / "set").mkdir(parents=True)
    (given / relative).write_text("x")
    assert find_data_file(relative, data_dir=given) == given / relative


def test_find_data_file_says_where_it_looked_and_what_to_set(no_data_env: Path) -> None:
    with pytest.raises(DataError) as info:
        find_data_file("frappe/raw-baltrunas/frappe.csv.gz")
    assert str(info.value) == (
        "data file 'frappe/raw-baltrunas/frappe.csv.gz' not found "
        f"(looked in: {no_data_env}/frappe/raw-baltrunas/frappe.csv.gz) (REC_DATA_DIR is not set); "
        "set REC_DATA_DIR to the data root, the folder that contains frappe/"
    )


def test_find_data_file_lists_every_place(no_data_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REC_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataError, match=r"looked in: .*/given/a/b\.csv, .*/env/a/b\.csv, .*/cache/a/b\.csv\); set"):
        find_data_file("a/b.csv", data_dir=tmp_path / "given")


def test_cache_root_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REC_CACHE_DIR", raising=False)
    assert cache_root() == Path.home() / ".cache" / "rec"
    monkeypatch.setenv("REC_CACHE_DIR", str(tmp_path))
    assert cache_root() == tmp_path
    assert cache_root(tmp_path / "x") == tmp_path / "x"


# ------------------------------------------------------------------ splits and options


def test_split_sizes_round_val_and_test() -> None:
    assert split_sizes(288_609, (0.7, 0.2, 0.1)) == (202_026, 57_722, 28_861)
    assert split_sizes(115, (0.7, 0.15, 0.15)) == (81, 17, 17)
    assert split_sizes(10, (1.0, 0.0, 0.0)) == (10, 0, 0)


@pytest.mark.parametrize("bad", [(0.8, 0.1), (0.8, 0.1, 0.2), (0.0, 0.5, 0.5), (1.2, -0.1, -0.1), (True, 0, 0)])
def test_split_sizes_refuse_bad_ratios(bad: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="split must be"):
        split_sizes(100, bad)


def test_split_indices_partition_and_determinism() -> None:
    train, val, test = split_indices(1000, (0.8, 0.1, 0.1), seed=3)
    assert (len(train), len(val), len(test)) == (800, 100, 100)
    assert np.array_equal(np.sort(np.concatenate([train, val, test])), np.arange(1000))
    again = split_indices(1000, (0.8, 0.1, 0.1), seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    assert not np.array_equal(split_indices(1000, (0.8, 0.1, 0.1), seed=4)[1], val)


def test_check_params_refuses_unknown_options() -> None:
    assert check_params("frappe", {"negatives": 3}, {"negatives": 2, "split": (0.7, 0.2, 0.1)})["negatives"] == 3
    with pytest.raises(ConfigError) as info:
        check_params("frappe", {"sparse": ["a"]}, {"negatives": 2, "split": (0.7, 0.2, 0.1)})
    assert str(info.value) == "unknown option 'sparse' for data set 'frappe' (options: negatives, split)"


# ------------------------------------------------------------------ catalog


def test_builtin_datasets_follow_the_contract() -> None:
    assert DEFAULT_DATASET == "synthetic-ctr"
    assert set(BUILTIN_DATASETS) == {"synthetic-ctr", "frappe", "criteo-sample", "avazu-sample"}
    for name, spec in BUILTIN_DATASETS.items():
        assert isinstance(spec, DatasetSpec)
        assert spec.name == name and NAME_PATTERN.match(name)
        assert spec.task == "ctr"
        assert spec.description and "\n" not in spec.description


def test_catalog_references_resolve_to_the_builtin_specs() -> None:
    assert set(CATALOG) == set(BUILTIN_DATASETS)
    for name, (reference, description) in CATALOG.items():
        module, attribute = reference.split(":")
        spec = getattr(importlib.import_module(module), attribute)
        assert spec is BUILTIN_DATASETS[name]
        assert description == spec.description


# ------------------------------------------------------------------ synthetic generator


@pytest.fixture(scope="module")
def synthetic() -> CTRData:
    return BUILTIN_DATASETS[DEFAULT_DATASET].load(seed=11, rows=40_000)


def test_synthetic_shape_and_features(synthetic: CTRData) -> None:
    check_ctr_data(synthetic)
    names = [f.name for f in synthetic.features]
    assert names == [f"I{i}" for i in range(1, 14)] + [f"C{i}" for i in range(1, 27)] + ["item", "hist_item"]
    by_name = {f.name: f for f in synthetic.features}
    item, hist = by_name["item"], by_name["hist_item"]
    assert isinstance(item, SparseFeature) and isinstance(hist, SequenceFeature)
    assert hist.shared_with == "item" and hist.padding_idx == 0 and hist.vocab_size == item.vocab_size
    assert all(f.embed_dim == 16 for f in synthetic.features if not isinstance(f, DenseFeature))
    columns, _ = synthetic.train
    assert columns["item"].min() >= 1
    assert columns["hist_item"].shape[1] == 20
    lengths = (columns["hist_item"] > 0).sum(axis=1)
    assert lengths.min() >= 1
    # right-padded: no real id after the first 0
    assert np.array_equal(columns["hist_item"] > 0, np.arange(20)[None, :] < lengths[:, None])
    assert (synthetic.info["train_rows"], synthetic.info["val_rows"], synthetic.info["test_rows"]) == (
        32_000,
        4_000,
        4_000,
    )


def test_synthetic_is_determined_by_the_seed() -> None:
    spec = BUILTIN_DATASETS[DEFAULT_DATASET]
    a, b = spec.load(seed=5, rows=5_000), spec.load(seed=5, rows=5_000)
    c = spec.load(seed=6, rows=5_000)
    for name in a.train[0]:
        assert np.array_equal(a.train[0][name], b.train[0][name])
    assert np.array_equal(a.test[1], b.test[1])
    assert a.info == b.info
    assert not np.array_equal(a.train[0]["C1"], c.train[0]["C1"])


def test_synthetic_embed_dim_and_options() -> None:
    spec = BUILTIN_DATASETS[DEFAULT_DATASET]
    data = spec.load(seed=1, rows=2_000, embed_dim=4, history_len=5, vocab_cap=10)
    assert {f.embed_dim for f in data.features if not isinstance(f, DenseFeature)} == {4}
    assert data.train[0]["hist_item"].shape[1] == 5
    assert max(f.vocab_size for f in data.features if f.name.startswith("C")) == 10
    with pytest.raises(ConfigError, match="unknown option 'row' for data set 'synthetic-ctr'"):
        spec.load(row=10)


def test_synthetic_reports_the_bayes_auc_of_the_true_probabilities(synthetic: CTRData) -> None:
    bayes = synthetic.info["bayes_auc"]
    assert 0.75 < bayes < 0.95
    assert abs(synthetic.info["bayes_auc_val"] - bayes) < 0.03
    assert 0.2 < synthetic.info["positive_rate"] < 0.3


def _fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 25) -> np.ndarray:
    """Fit an unregularised logistic regression by Newton's method; return the weights."""
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        hessian = x.T @ (x * (p * (1 - p))[:, None])
        w -= np.linalg.solve(hessian, x.T @ (p - y))
    return w


def test_logistic_regression_on_the_true_terms_reaches_the_bayes_auc() -> None:
    """The labels come from sigmoid(bias + sum of terms): a fit recovers weights 1 and the Bayes AUC."""
    data = generate_ctr(60_000, seed=9, history_len=20, vocab_cap=100, n_items=500)
    train, _, test = split_indices(len(data.labels), (0.8, 0.1, 0.1), seed=9)
    terms = np.column_stack([np.ones(len(data.labels)), *data.terms.values()])
    w = _fit_logistic(terms[train], data.labels[train])
    assert abs(w[0] - data.bias) < 0.15
    assert np.allclose(w[1:], 1.0, atol=0.15), dict(zip(data.terms, w[1:], strict=True))
    bayes = auc(data.labels[test], data.probs[test])
    fitted = auc(data.labels[test], terms[test] @ w)
    assert bayes - 0.005 < fitted <= bayes + 0.005
    # every term carries signal: leaving one out loses AUC
    for k, name in enumerate(data.terms, start=1):
        without = np.delete(terms, k, axis=1)
        w_without = _fit_logistic(without[train], data.labels[train])
        assert auc(data.labels[test], without[test] @ w_without) < bayes - 0.005, name


def test_make_criteo_like_columns_vocabularies_and_zipf() -> None:
    x, y = make_criteo_like(20_000, seed=0, vocab_cap=1000)
    assert list(x) == [f"I{i}" for i in range(1, 14)] + [f"C{i}" for i in range(1, 27)]
    assert y.dtype == np.float32 and set(np.unique(y)) == {0.0, 1.0}
    for j in range(26):
        ids = x[f"C{j + 1}"]
        assert ids.dtype == np.int64 and ids.min() >= 0
        assert ids.max() < min(CRITEO_CARDINALITIES[j], 1000)
    counts = np.bincount(x["C3"], minlength=1000)
    assert counts[0] == counts.max() and counts[0] > 10 * counts[100]
    x2, y2 = make_criteo_like(20_000, seed=0, vocab_cap=1000)
    assert np.array_equal(y, y2) and np.array_equal(x["C7"], x2["C7"]) and np.array_equal(x["I1"], x2["I1"])


def test_zipf_ids_stay_in_range_and_follow_the_power_law() -> None:
    rng = np.random.default_rng(0)
    ids = zipf_ids(rng, 50, 200_000, 1.2)
    assert ids.min() == 0 and ids.max() == 49
    freq = np.bincount(ids, minlength=50) / len(ids)
    assert freq[0] > freq[1] > freq[3] > freq[10] > freq[40]
    assert zipf_ids(rng, 1, 10, 1.0).tolist() == [0] * 10


# ------------------------------------------------------------------ torch-rechub samples


def test_criteo_sample_loads_and_splits() -> None:
    real_data_file("rechub-samples/criteo/criteo_sample.csv")
    data = BUILTIN_DATASETS["criteo-sample"].load(seed=2022)
    check_ctr_data(data)
    assert data.name == "criteo-sample" and data.encoder is None
    assert (data.info["rows"], data.info["train_rows"], data.info["val_rows"], data.info["test_rows"]) == (
        115,
        81,
        17,
        17,
    )
    assert len(data.features) == 39
    assert [type(f) for f in data.features] == [DenseFeature] * 13 + [SparseFeature] * 26
    columns, labels = data.train
    assert columns["I1"].min() >= 0 and columns["I5"].max() < 20  # log-transformed counts
    everything = np.concatenate([data.train[1], data.val[1], data.test[1]])
    assert int(everything.sum()) == 26  # positives in the sample
    other = BUILTIN_DATASETS["criteo-sample"].load(seed=1)
    assert not np.array_equal(other.train[1], labels) or not np.array_equal(other.train[0]["I1"], columns["I1"])


def test_avazu_sample_uses_the_given_splits() -> None:
    real_data_file("rechub-samples/avazu/train_sample.csv")
    data = BUILTIN_DATASETS["avazu-sample"].load()
    check_ctr_data(data)
    assert [len(part[1]) for part in (data.train, data.val, data.test)] == [70, 10, 20]
    assert [f.name for f in data.features] == [f"feat_{i}" for i in range(1, 23)]
    # encoded over the three files: ids of every split lie inside one vocabulary
    sizes = {f.name: f.vocab_size for f in data.features}
    for name, size in sizes.items():
        seen = np.unique(np.concatenate([data.train[0][name], data.val[0][name], data.test[0][name]]))
        assert np.array_equal(seen, np.arange(size))


def test_samples_refuse_a_changed_file(tmp_path: Path) -> None:
    source = real_data_file("rechub-samples/criteo/criteo_sample.csv")
    copy = tmp_path / "rechub-samples" / "criteo" / "criteo_sample.csv"
    copy.parent.mkdir(parents=True)
    copy.write_text(source.read_text().replace("\n0,", "\n1,", 1))
    with pytest.raises(DataError) as info:
        BUILTIN_DATASETS["criteo-sample"].load(data_dir=tmp_path)
    assert str(info.value).startswith(f"{copy} has SHA-256 ")
    assert str(info.value).endswith(
        "…, expected 6da856f4e05f…; the file is damaged or not the expected criteo_sample.csv"
    )


def test_samples_name_the_missing_file(no_data_env: Path) -> None:
    with pytest.raises(DataError, match=r"data file 'rechub-samples/criteo/criteo_sample\.csv' not found"):
        BUILTIN_DATASETS["criteo-sample"].load()
    with pytest.raises(DataError, match=r"data file 'rechub-samples/avazu/train_sample\.csv' not found"):
        BUILTIN_DATASETS["avazu-sample"].load()
