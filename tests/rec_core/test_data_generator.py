"""Tests for DataGenerator, MatchDataGenerator and df_to_dict in rec_core.data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import random_split

from rec_core.data import (
    ColumnarLoader,
    DataGenerator,
    MatchDataGenerator,
    PredictDataset,
    TorchDataset,
    df_to_dict,
    split_lengths,
)
from rec_core.errors import ConfigError, DataError
from rec_core.features import DenseFeature, SparseFeature


def make_columns(rows: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(rows)
    x = {"id": np.arange(rows), "C1": rng.integers(0, 9, rows), "I1": rng.random(rows)}
    return x, (rng.random(rows) < 0.5).astype(np.float32)


def all_ids(loader: ColumnarLoader) -> list[int]:
    return [i for xb, _ in loader for i in xb["id"].tolist()]


@pytest.fixture
def criteo() -> pd.DataFrame:
    data_dir = os.environ.get("REC_DATA_DIR")
    if not data_dir:
        pytest.skip("REC_DATA_DIR is not set; it points at the shared real data sets")
    path = Path(data_dir) / "rechub-samples" / "criteo" / "criteo_sample.csv"
    if not path.is_file():
        pytest.skip(f"real Criteo sample not found at {path}")
    return pd.read_csv(path)


@pytest.mark.parametrize(
    ("total", "ratio", "expected"),
    [
        (1000, [0.7, 0.1], (700, 100, 200)),
        (115, [0.7, 0.1], (80, 11, 24)),
        (10, (0.8, 0.2), (8, 2, 0)),
        (10, [0.6, 0.2, 0.2], (6, 2, 2)),
        (7, [0, 0], (0, 0, 7)),
    ],
)
def test_split_lengths_follow_torch_rechub(total, ratio, expected) -> None:
    assert split_lengths(total, ratio) == expected


@pytest.mark.parametrize("ratio", [[0.7], [0.7, 0.4], [-0.1, 0.5], [0.5, "0.1"], [1, 2, 3, 4]])
def test_invalid_split_ratio_raises_config_error(ratio) -> None:
    x, y = make_columns(20)
    with pytest.raises(ConfigError, match="split_ratio"):
        DataGenerator(x, y).generate_dataloader(split_ratio=ratio)


def test_split_parts_are_disjoint_cover_everything_and_only_train_is_shuffled() -> None:
    x, y = make_columns(1000)
    dg = DataGenerator(x, y)
    assert dg.length == 1000 and isinstance(dg.dataset, TorchDataset)
    train, val, test = dg.generate_dataloader(split_ratio=[0.7, 0.1], batch_size=64, seed=1)
    assert val is not None and test is not None
    assert (len(train.dataset), len(val.dataset), len(test.dataset)) == (700, 100, 200)
    assert (train.batch_size, train.shuffle, val.shuffle, test.shuffle) == (64, True, False, False)
    parts = [all_ids(train), all_ids(val), all_ids(test)]
    assert sorted(i for part in parts for i in part) == list(range(1000))
    assert all_ids(val) == parts[1] and all_ids(test) == parts[2]  # fixed order
    assert all_ids(train) != parts[0]  # a new order each epoch
    assert parts[1] != sorted(parts[1])  # the split itself is random


def test_split_equals_random_split_under_the_same_global_seed() -> None:
    x, y = make_columns(300)
    torch.manual_seed(2024)
    _, val, test = DataGenerator(x, y).generate_dataloader(split_ratio=[0.5, 0.2])
    torch.manual_seed(2024)
    lengths = split_lengths(300, [0.5, 0.2])
    expected = random_split(range(300), lengths)
    assert val is not None and test is not None
    assert val.dataset.x["id"].tolist() == list(expected[1])
    assert test.dataset.x["id"].tolist() == list(expected[2])


def test_split_and_order_are_reproducible() -> None:
    x, y = make_columns(200)

    def run(global_seed: int, seed: int | None) -> list[list[int]]:
        torch.manual_seed(global_seed)
        loaders = DataGenerator(x, y).generate_dataloader(split_ratio=[0.7, 0.1], seed=seed)
        return [all_ids(loader) for loader in loaders if loader is not None]

    assert run(0, None) == run(0, None)
    assert run(0, None) != run(1, None)
    assert run(0, 5) == run(1, 5)
    assert run(0, 5) != run(0, 6)


def test_explicit_validation_and_test_sets() -> None:
    x, y = make_columns(50)
    x_val, y_val = make_columns(20)
    x_test, y_test = make_columns(10)
    dg = DataGenerator(x, y)
    train, val, test = dg.generate_dataloader(x_val, y_val, x_test, y_test, batch_size=8)
    assert train.dataset is dg.dataset
    assert val is not None and test is not None
    assert (len(val.dataset), len(test.dataset)) == (20, 10)
    assert all_ids(val) == list(range(20)) and len(val) == 3
    _, val_only, no_test = dg.generate_dataloader(x_val=x_val, y_val=y_val)
    assert val_only is not None and no_test is None
    with pytest.raises(DataError, match="y_test"):
        dg.generate_dataloader(x_val, y_val, x_test, None)
    with pytest.raises(DataError, match="x_val"):
        dg.generate_dataloader(None, y_val)


def test_defaults_and_ignored_num_workers() -> None:
    x, y = make_columns(40)
    train, _, _ = DataGenerator(x, y).generate_dataloader(split_ratio=[0.5, 0.25], num_workers=8)
    assert isinstance(train, ColumnarLoader) and train.batch_size == 16 and len(train) == 2


def test_torch_rechub_criteo_script_pattern(criteo) -> None:
    data = criteo.copy()
    dense_features = [f for f in data.columns if f[0] == "I"]
    sparse_features = [f for f in data.columns if f[0] == "C"]
    data[sparse_features] = data[sparse_features].fillna("-996")
    data[dense_features] = data[dense_features].fillna(0)
    low, high = data[dense_features].min(), data[dense_features].max()
    data[dense_features] = (data[dense_features] - low) / (high - low).replace(0, 1)
    for feat in sparse_features:
        data[feat] = pd.factorize(data[feat], sort=True)[0]
    dense_feas = [DenseFeature(name) for name in dense_features]
    sparse_feas = [SparseFeature(name, vocab_size=data[name].nunique(), embed_dim=16) for name in sparse_features]
    y = data["label"]
    del data["label"]
    x = data

    torch.manual_seed(2022)
    dg = DataGenerator(x, y)
    train_dl, val_dl, test_dl = dg.generate_dataloader(split_ratio=[0.7, 0.1], batch_size=256)

    assert val_dl is not None and test_dl is not None
    assert (len(train_dl.dataset), len(val_dl.dataset), len(test_dl.dataset)) == (80, 11, 24)
    assert (len(train_dl), len(val_dl), len(test_dl)) == (1, 1, 1)
    x_batch, y_batch = next(iter(train_dl))
    assert set(x_batch) == set(dense_features) | set(sparse_features)
    assert y_batch.shape == (80,) and set(y_batch.tolist()) <= {0, 1}
    for fea in dense_feas:
        assert x_batch[fea.name].dtype == torch.float32
    embeddings = {fea.name: fea.build_embedding() for fea in sparse_feas}
    for fea in sparse_feas:
        ids = x_batch[fea.name]
        assert ids.dtype == torch.int64 and int(ids.max()) < fea.vocab_size
        assert embeddings[fea.name](ids).shape == (80, 16)
    labels = torch.cat([yb for _, yb in (*train_dl, *val_dl, *test_dl)])
    assert int(labels.sum()) == int(criteo["label"].sum())


def test_match_data_generator_without_labels_yields_dicts() -> None:
    x, _ = make_columns(30)
    users = {"user_id": np.arange(12)}
    items = {"item_id": np.arange(25)}
    train, test, item = MatchDataGenerator(x, []).generate_dataloader(users, items, batch_size=10, seed=0)
    assert isinstance(train.dataset, PredictDataset) and train.shuffle
    batch = next(iter(train))
    assert isinstance(batch, dict) and len(batch["id"]) == 10
    assert [i for b in test for i in b["user_id"].tolist()] == list(range(12))
    assert [i for b in item for i in b["item_id"].tolist()] == list(range(25))
    assert not test.shuffle and not item.shuffle


def test_match_data_generator_with_labels() -> None:
    x, y = make_columns(30)
    train, _, _ = MatchDataGenerator(x, y).generate_dataloader({"u": [1]}, {"i": [1]}, batch_size=30)
    x_batch, y_batch = next(iter(train))
    assert sorted(x_batch["id"].tolist()) == list(range(30)) and len(y_batch) == 30


def test_df_to_dict_makes_arrays_and_2d_sequences() -> None:
    df = pd.DataFrame({"user": [1, 2], "hist": [[1, 2, 0], [3, 0, 0]], "age": [0.5, 0.7]})
    result = df_to_dict(df)
    assert list(result) == ["user", "hist", "age"]
    assert all(isinstance(v, np.ndarray) for v in result.values())
    assert result["hist"].shape == (2, 3) and result["user"].dtype.kind == "i"
    assert TorchDataset(result, [0, 1]).x["hist"].shape == (2, 3)
