"""Tests for rec_core.datasets.spec (DatasetSpec, TableDataset, check_params) and the package's lazy imports."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, ClassVar

import numpy as np
import pytest

import rec_core.datasets
from rec_core.datasets import DatasetSpec, LoadContext, Table, TableDataset, TaskData, check_params
from rec_core.datasets.splits import split_indices
from rec_core.errors import ConfigError
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature


def check_task_data(data: TaskData) -> None:
    """Assert the table-data contract: a feature per column, dtypes, ids in range, 0/1 binary targets."""
    by_name = {f.name: f for f in data.features}
    assert "train" in data.splits
    for split in data.splits.values():
        assert list(split.columns) == list(by_name)
        assert list(split.targets) == data.target_names
        for name, values in split.targets.items():
            assert values.dtype == np.float32 and len(values) == len(split)
            if data.targets[name] == "binary":
                assert set(np.unique(values)) <= {0.0, 1.0}
        for name, values in split.columns.items():
            assert len(values) == len(split)
            feature = by_name[name]
            if isinstance(feature, DenseFeature):
                assert values.dtype == np.float32
                assert np.isfinite(values).all()
            else:
                assert values.dtype == np.int64
                assert values.min() >= 0 and values.max() < feature.vocab_size
                assert values.ndim == (2 if isinstance(feature, SequenceFeature) else 1)
    sizes = {name: len(split) for name, split in data.splits.items()}
    assert data.info["rows"] == sum(sizes.values())
    assert all(data.info[f"{name}_rows"] == size for name, size in sizes.items())


class ToyTableDataset(TableDataset):
    """Ten rows of one sparse column and one label."""

    options: ClassVar[dict[str, Any]] = {"split": (0.6, 0.2, 0.2), "given": False}
    default_embed_dim: ClassVar[int] = 4

    def build(self, options: dict[str, Any], context: LoadContext) -> Table:
        ids = np.arange(1, 11, dtype=np.int64)
        labels = (np.arange(10) % 2).astype(np.float32)
        features = [SparseFeature("id", 11, context.embed_dim)]
        if options["given"]:
            part = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2], dtype=np.int8)
            return Table({"id": ids}, {"y": labels}, features, source="toy.csv", part=part, shuffle=False)
        return Table(
            {"id": ids}, {"y": labels}, features, split=options["split"], info={"extra": 1},
            split_info=lambda rows: {"test_ids": sorted(ids[rows["test"]].tolist())},
        )  # fmt: skip


def test_table_dataset_splits_by_fractions_with_the_seed() -> None:
    data = ToyTableDataset().load(seed=3)
    check_task_data(data)
    assert data.name == "toy-table" and data.targets == {"y": "binary"} and data.encoder is None
    train, _, test = split_indices(10, (0.6, 0.2, 0.2), 3)
    assert np.array_equal(data.train.columns["id"], train + 1)  # rows in the split's shuffled order
    assert np.array_equal(data.test.target, (test % 2).astype(np.float32))
    assert data.info == {
        "rows": 10, "train_rows": 6, "val_rows": 2, "test_rows": 2, "positive_rate": 0.5, "extra": 1,
        "test_ids": sorted((test + 1).tolist()),
    }  # fmt: skip
    assert data.features[0].embed_dim == 4 and ToyTableDataset().load(embed_dim=8).features[0].embed_dim == 8


def test_table_dataset_with_given_parts_and_absent_splits() -> None:
    data = ToyTableDataset().load(given=True)
    assert data.train.columns["id"].tolist() == [1, 2, 3, 4, 5, 6]  # file order kept
    assert data.val.columns["id"].tolist() == [7, 8] and data.info["source"] == "toy.csv"
    only_train = ToyTableDataset().load(split=(1.0, 0.0, 0.0))
    assert set(only_train.splits) == {"train"} and only_train.val is None and only_train.test is None


def test_unknown_options_are_one_line_config_errors() -> None:
    with pytest.raises(ConfigError) as info:
        ToyTableDataset().load(splitt=(1, 0, 0))
    assert str(info.value) == "unknown option 'splitt' for data set 'toy-table' (options: given, split)"
    with pytest.raises(ConfigError, match="split must be"):
        ToyTableDataset().load(split=(0.5, 0.5))
    assert check_params("x", {"a": 2}, {"a": 1, "b": 0}) == {"a": 2, "b": 0}
    with pytest.raises(ConfigError, match=r"unknown option 'c' for data set 'x' \(options: none\)"):
        check_params("x", {"c": 1}, {})


def test_specs_follow_the_protocol() -> None:
    assert isinstance(ToyTableDataset(), DatasetSpec)
    assert not isinstance(object(), DatasetSpec)


def test_several_targets_report_a_positive_rate_each() -> None:
    from rec_core.datasets.spec import table_task_data

    ones = np.ones(4, dtype=np.float32)
    table = Table({"x": np.zeros(4, dtype=np.float32)}, {"a": ones, "b": ones * 0, "r": ones * 3}, [DenseFeature("x")],
                  kinds={"r": "regression"})
    data = table_task_data("t", table, seed=0)
    assert data.targets == {"a": "binary", "b": "binary", "r": "regression"}
    assert data.info["positive_rate_a"] == 1.0 and data.info["positive_rate_b"] == 0.0
    assert "positive_rate" not in data.info and "positive_rate_r" not in data.info
    assert data.train.stacked_targets().shape == (4, 3)


def test_the_package_exports_lazily_and_stays_light() -> None:
    assert set(rec_core.datasets.__all__) == set(rec_core.datasets._LAZY)
    for name in rec_core.datasets.__all__:
        assert getattr(rec_core.datasets, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        rec_core.datasets.nope  # noqa: B018
    code = (
        "import sys, rec_core.datasets as d; d.TaskData, d.TableDataset, d.split_indices, d.find_data_file, "
        "d.IdEncoder; print('pandas' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
