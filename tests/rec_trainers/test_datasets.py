"""Tests for rec_trainers.datasets: the registered CTR data sets, the synthetic generator and the
torch-rechub samples (file lookup, tables, encoders and splits are tested in tests/rec_core).

Tests that read real data use ``$REC_DATA_DIR`` (point it at ``../shared/data``) and are
skipped with the reason when it is unset or the file is missing.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rec_core.datasets import DatasetSpec, TaskData, split_indices
from rec_core.errors import ConfigError, DataError
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
from rec_core.metrics import auc
from rec_core.registry import NAME_PATTERN
from rec_trainers import plugin
from rec_trainers.datasets import (
    ALI_CCP_SAMPLE,
    ALIEXPRESS_SAMPLE,
    AMAZON_BEAUTY,
    AVAZU_SAMPLE,
    CENSUS_INCOME,
    CENSUS_INCOME_SAMPLE,
    CRITEO_SAMPLE,
    DIGINETICA_SAMPLE,
    FRAPPE,
    ML_1M_SAMPLE,
    ML_100K,
    SYNTHETIC_CTR,
    YOOCHOOSE_SAMPLE,
    generate_ctr,
    make_criteo_like,
)
from rec_trainers.datasets.generator import CRITEO_CARDINALITIES, zipf_ids
from tests.rec_core.test_datasets_files import real_data_file
from tests.rec_core.test_datasets_spec import check_task_data


def check_ctr_data(data: TaskData) -> None:
    """Assert the CTR shape of a TaskData: the table contract with one binary target ``label``."""
    check_task_data(data)
    assert data.targets == {"label": "binary"}


# ------------------------------------------------------------------ registration


def registered() -> dict[str, tuple[str, dict[str, Any]]]:
    """Return what the plugin registers under rec_register_datasets: name -> (reference, info)."""
    seen: dict[str, tuple[str, dict[str, Any]]] = {}

    def register(name: str, obj: str, **info: Any) -> None:
        assert name not in seen
        seen[name] = (obj, info)

    plugin.rec_register_datasets(register)
    return seen


def test_the_registration_is_the_one_declaration_of_each_data_set() -> None:
    entries = registered()
    specs = {
        "synthetic-ctr": SYNTHETIC_CTR, "frappe": FRAPPE, "criteo-sample": CRITEO_SAMPLE, "avazu-sample": AVAZU_SAMPLE,
        "census-income": CENSUS_INCOME, "census-income-sample": CENSUS_INCOME_SAMPLE, "ali-ccp-sample": ALI_CCP_SAMPLE,
        "aliexpress-sample": ALIEXPRESS_SAMPLE, "amazon-beauty": AMAZON_BEAUTY, "ml-100k": ML_100K,
        "diginetica-sample": DIGINETICA_SAMPLE, "yoochoose-sample": YOOCHOOSE_SAMPLE, "ml-1m-sample": ML_1M_SAMPLE,
    }  # fmt: skip
    assert set(entries) == set(specs)
    for name, (reference, info) in entries.items():
        assert NAME_PATTERN.match(name)
        mtl = ("census-income", "census-income-sample", "ali-ccp-sample", "aliexpress-sample")
        seq = ("amazon-beauty", "ml-100k", "diginetica-sample", "yoochoose-sample")
        expected = {"ml-100k": ("seq", "match"), "ml-1m-sample": ("match", "seq")}.get(
            name, "mtl" if name in mtl else "seq" if name in seq else "ctr")
        assert info["task"] == expected
        assert info["description"] and "\n" not in info["description"]
        module, attribute = reference.split(":")
        spec = getattr(importlib.import_module(module), attribute)
        assert spec is specs[name] and isinstance(spec, DatasetSpec)
        assert not hasattr(spec, "name") and not hasattr(spec, "description")  # declared at registration only
        assert spec.default_name == name  # what a direct load() names its data and its messages


# ------------------------------------------------------------------ synthetic generator


@pytest.fixture(scope="module")
def synthetic() -> TaskData:
    return SYNTHETIC_CTR.load(seed=11, rows=40_000)


def test_synthetic_shape_and_features(synthetic: TaskData) -> None:
    check_ctr_data(synthetic)
    assert synthetic.name == "synthetic-ctr"
    names = [f.name for f in synthetic.features]
    assert names == [f"I{i}" for i in range(1, 14)] + [f"C{i}" for i in range(1, 27)] + ["item", "hist_item"]
    by_name = {f.name: f for f in synthetic.features}
    item, hist = by_name["item"], by_name["hist_item"]
    assert isinstance(item, SparseFeature) and isinstance(hist, SequenceFeature)
    assert hist.shared_with == "item" and hist.padding_idx == 0 and hist.vocab_size == item.vocab_size
    assert all(f.embed_dim == 16 for f in synthetic.features if not isinstance(f, DenseFeature))
    columns = synthetic.train.columns
    assert columns["item"].min() >= 1
    assert min(columns[f"C{i}"].min() for i in range(1, 27)) == 1  # id 0 is reserved
    assert columns["hist_item"].shape[1] == 20
    lengths = (columns["hist_item"] > 0).sum(axis=1)
    assert lengths.min() >= 1
    # right-padded: no real id after the first 0
    assert np.array_equal(columns["hist_item"] > 0, np.arange(20)[None, :] < lengths[:, None])
    info = synthetic.info
    assert (info["train_rows"], info["val_rows"], info["test_rows"]) == (32_000, 4_000, 4_000)


def test_synthetic_rows_are_the_generators_in_the_seeded_split(synthetic: TaskData) -> None:
    data = generate_ctr(40_000, seed=11, vocab_cap=100, n_items=500, history_len=20, zipf_a=1.2)
    train, _, test = split_indices(40_000, (0.8, 0.1, 0.1), 11)
    assert np.array_equal(synthetic.train.target, data.labels[train])
    assert np.array_equal(synthetic.test.columns["C3"], data.columns["C3"][test] + 1)
    assert np.array_equal(synthetic.test.columns["hist_item"], data.columns["hist_item"][test])
    assert {f.name: f.vocab_size for f in synthetic.features if f.name.startswith("C")} == {
        name: size + 1 for name, size in data.vocab_sizes.items() if name.startswith("C")
    }


def test_synthetic_is_determined_by_the_seed() -> None:
    a, b = SYNTHETIC_CTR.load(seed=5, rows=5_000), SYNTHETIC_CTR.load(seed=5, rows=5_000)
    c = SYNTHETIC_CTR.load(seed=6, rows=5_000)
    for name in a.train.columns:
        assert np.array_equal(a.train.columns[name], b.train.columns[name])
    assert np.array_equal(a.test.target, b.test.target)
    assert a.info == b.info
    assert not np.array_equal(a.train.columns["C1"], c.train.columns["C1"])


def test_synthetic_embed_dim_and_options() -> None:
    data = SYNTHETIC_CTR.load(seed=1, rows=2_000, embed_dim=4, history_len=5, vocab_cap=10)
    assert {f.embed_dim for f in data.features if not isinstance(f, DenseFeature)} == {4}
    assert data.train.columns["hist_item"].shape[1] == 5
    assert max(f.vocab_size for f in data.features if f.name.startswith("C")) == 11
    with pytest.raises(ConfigError, match="unknown option 'row' for data set 'synthetic-ctr'"):
        SYNTHETIC_CTR.load(row=10)


def test_synthetic_reports_the_bayes_auc_of_the_true_probabilities(synthetic: TaskData) -> None:
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
    data = CRITEO_SAMPLE.load(seed=2022)
    check_ctr_data(data)
    assert data.name == "criteo-sample" and data.encoder is None
    info = data.info
    assert (info["rows"], info["train_rows"], info["val_rows"], info["test_rows"]) == (115, 81, 17, 17)
    assert len(data.features) == 39
    assert [type(f) for f in data.features] == [DenseFeature] * 13 + [SparseFeature] * 26
    columns = data.train.columns
    assert columns["I1"].min() >= 0 and columns["I5"].max() < 20  # log-transformed counts
    assert min(columns[f"C{i}"].min() for i in range(1, 27)) == 1  # id 0 is reserved
    everything = np.concatenate([split.target for split in data.splits.values()])
    assert int(everything.sum()) == 26  # positives in the sample
    other = CRITEO_SAMPLE.load(seed=1)
    assert not np.array_equal(other.train.columns["I1"], columns["I1"])  # another seed, another split
    assert sorted(other.train.target.tolist() + other.val.target.tolist() + other.test.target.tolist()) == sorted(
        everything.tolist()
    )


def test_avazu_sample_uses_the_given_splits() -> None:
    real_data_file("rechub-samples/avazu/train_sample.csv")
    data = AVAZU_SAMPLE.load()
    check_ctr_data(data)
    assert [len(data.splits[name]) for name in ("train", "val", "test")] == [70, 10, 20]
    assert [f.name for f in data.features] == [f"feat_{i}" for i in range(1, 23)]
    # encoded over the three files: ids of every split lie inside one vocabulary, 0 reserved
    for feature in data.features:
        seen = np.unique(np.concatenate([split.columns[feature.name] for split in data.splits.values()]))
        assert np.array_equal(seen, np.arange(1, feature.vocab_size))
    lines = real_data_file("rechub-samples/avazu/train_sample.csv").read_text().splitlines()[1:]
    assert data.train.target.tolist() == [float(line.split(",")[0]) for line in lines]  # rows in file order


def test_samples_refuse_a_changed_file(tmp_path: Path) -> None:
    source = real_data_file("rechub-samples/criteo/criteo_sample.csv")
    copy = tmp_path / "rechub-samples" / "criteo" / "criteo_sample.csv"
    copy.parent.mkdir(parents=True)
    copy.write_text(source.read_text().replace("\n0,", "\n1,", 1))
    with pytest.raises(DataError) as info:
        CRITEO_SAMPLE.load(data_dir=tmp_path)
    assert str(info.value).startswith(f"{copy} has SHA-256 ")
    assert str(info.value).endswith(
        "…, expected 6da856f4e05f…; the file is damaged or not the expected criteo_sample.csv"
    )


def test_samples_name_the_missing_file(no_data_env: Path) -> None:
    with pytest.raises(DataError, match=r"data file 'rechub-samples/criteo/criteo_sample\.csv' not found"):
        CRITEO_SAMPLE.load()
    with pytest.raises(DataError, match=r"data file 'rechub-samples/avazu/train_sample\.csv' not found"):
        AVAZU_SAMPLE.load()
    with pytest.raises(ConfigError, match=r"unknown option 'split' for data set 'avazu-sample' \(options: none\)"):
        AVAZU_SAMPLE.load(split=(1, 0, 0))
