"""Tests for ColumnarDataset, ColumnarLoader and the batch helpers in rec_core.data."""

from __future__ import annotations

import io
import os
from collections import namedtuple
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from rec_core.data import (
    ColumnarDataset,
    ColumnarLoader,
    PredictDataset,
    TorchDataset,
    batch_size_of,
    move_batch,
    to_column,
)
from rec_core.errors import CheckpointError, ConfigError, DataError

ROWS = 103


def make_columns(rows: int = ROWS, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return a small mixed-type column dict whose 'id' column is the row number."""
    rng = np.random.default_rng(seed)
    x = {
        "id": np.arange(rows),
        "C1": rng.integers(0, 50, rows, dtype=np.int32),
        "I1": rng.normal(size=rows),
        "hist": rng.integers(0, 20, (rows, 5)),
        "flag": rng.random(rows) < 0.5,
    }
    y = (rng.random(rows) < 0.3).astype(np.float32)
    return x, y


def ids(batch) -> list[int]:
    x = batch[0] if isinstance(batch, tuple) else batch
    return x["id"].tolist()


def assert_batches_equal(a, b) -> None:
    (xa, ya), (xb, yb) = a, b
    assert xa.keys() == xb.keys()
    for name in xa:
        assert xa[name].dtype == xb[name].dtype, name
        assert torch.equal(xa[name], xb[name]), name
    assert torch.equal(ya, yb)


def epoch_ids(loader: ColumnarLoader) -> list[list[int]]:
    return [ids(batch) for batch in loader]


@pytest.fixture
def columns() -> tuple[dict[str, np.ndarray], np.ndarray]:
    return make_columns()


@pytest.fixture
def criteo() -> pd.DataFrame:
    data_dir = os.environ.get("REC_DATA_DIR")
    if not data_dir:
        pytest.skip("REC_DATA_DIR is not set; it points at the shared real data sets")
    path = Path(data_dir) / "rechub-samples" / "criteo" / "criteo_sample.csv"
    if not path.is_file():
        pytest.skip(f"real Criteo sample not found at {path}")
    return pd.read_csv(path)


# --- ColumnarDataset -------------------------------------------------------------


def test_columns_become_contiguous_tensors_with_model_dtypes(columns) -> None:
    x, y = columns
    ds = ColumnarDataset(x, y)
    assert ds.columns == ["id", "C1", "I1", "hist", "flag"]
    assert {n: c.dtype for n, c in ds.x.items()} == {
        "id": torch.int64,
        "C1": torch.int64,
        "I1": torch.float32,
        "hist": torch.int64,
        "flag": torch.bool,
    }
    assert all(c.is_contiguous() for c in ds.x.values())
    assert ds.x["hist"].shape == (ROWS, 5)
    assert ds.y is not None and ds.y.dtype == torch.float32
    assert len(ds) == ROWS


@pytest.mark.parametrize(
    "values",
    [
        [1, 2, 3],
        np.array([1, 2, 3], dtype=np.uint8),
        torch.tensor([1, 2, 3], dtype=torch.int32),
        pd.Series([1, 2, 3]),
        np.arange(6)[::2] // 2 + 1,  # non-contiguous
    ],
)
def test_integer_like_inputs_become_int64(values) -> None:
    column = to_column("c", values)
    assert column.dtype == torch.int64 and column.tolist() == [1, 2, 3]
    assert column.is_contiguous()


def test_float_inputs_become_float32_and_bool_stays_bool() -> None:
    assert to_column("f", np.array([0.5, 1.5])).dtype == torch.float32
    assert to_column("f", torch.tensor([0.5], dtype=torch.float64)).dtype == torch.float32
    assert to_column("f", pd.Series([0.5, None])).isnan().tolist() == [False, True]
    assert to_column("b", [True, False]).dtype == torch.bool


def test_read_only_arrays_are_copied_without_warning() -> None:
    arr = np.arange(4)
    arr.setflags(write=False)
    column = to_column("c", arr)  # -W error would turn torch's warning into a failure
    assert column.tolist() == [0, 1, 2, 3]


def test_ready_columns_share_memory_with_the_input() -> None:
    arr = np.arange(4, dtype=np.int64)
    assert np.shares_memory(to_column("c", arr).numpy(), arr)


def test_list_cells_of_a_dataframe_become_a_2d_column() -> None:
    df = pd.DataFrame({"hist": [[1, 2], [3, 4], [5, 6]]})
    assert ColumnarDataset(df).x["hist"].tolist() == [[1, 2], [3, 4], [5, 6]]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (np.array(["a", "b"]), ["'bad'", "not numeric"]),
        (pd.Series(["a", None]), ["'bad'", "not numeric"]),
        ([[1, 2], [3]], ["'bad'", "pad"]),
        (np.array(3), ["'bad'", "scalar"]),
        (np.array([1j, 2j]), ["'bad'", "complex"]),
    ],
)
def test_unusable_columns_raise_data_error_naming_the_column(values, words) -> None:
    with pytest.raises(DataError) as info:
        to_column("bad", values)
    for word in words:
        assert word in str(info.value)


def test_mismatched_column_lengths_name_the_column_and_both_lengths() -> None:
    with pytest.raises(DataError, match=r"column 'b' has 3 rows but column 'a' has 4"):
        ColumnarDataset({"a": np.arange(4), "b": np.arange(3)})
    with pytest.raises(DataError, match=r"y has 5 rows but column 'a' has 4"):
        ColumnarDataset({"a": np.arange(4)}, np.zeros(5))
    with pytest.raises(DataError, match="1-D or 2-D"):
        ColumnarDataset({"a": np.arange(4)}, np.zeros((4, 2, 2)))


def test_bad_containers_raise_data_error() -> None:
    with pytest.raises(DataError, match="no columns"):
        ColumnarDataset({})
    with pytest.raises(DataError, match="dict of columns"):
        ColumnarDataset([1, 2, 3])
    with pytest.raises(DataError, match="strings"):
        ColumnarDataset(pd.DataFrame(np.zeros((2, 2))))
    with pytest.raises(DataError, match="labels"):
        TorchDataset({"a": [1]}, None)


def test_dataframe_input_and_multitask_labels() -> None:
    df = pd.DataFrame({"user": [3, 1, 2], "score": [0.1, 0.2, 0.3]})
    labels = pd.DataFrame({"ctr": [0, 1, 1], "cvr": [0, 0, 1]})
    ds = ColumnarDataset(df, labels.astype("float32"))
    assert ds.columns == ["user", "score"]
    assert ds.y is not None and ds.y.shape == (3, 2)
    x_row, y_row = ds[1]
    assert x_row["user"].item() == 1 and y_row.tolist() == [1.0, 0.0]


def test_getitem_works_with_a_plain_dataloader(columns) -> None:
    x, y = columns
    ds = ColumnarDataset(x, y)
    x_row, y_row = ds[7]
    assert x_row["id"].item() == 7 and x_row["hist"].shape == (5,)
    assert y_row.item() == y[7]
    plain = list(DataLoader(ds, batch_size=10))
    assert len(plain) == 11 and plain[0][0]["hist"].shape == (10, 5)
    assert next(iter(DataLoader(PredictDataset(x), batch_size=10)))["id"].tolist() == list(range(10))


def test_subset_selects_rows_in_order(columns) -> None:
    x, y = columns
    part = TorchDataset(x, y).subset(torch.tensor([5, 2, 9]))
    assert isinstance(part, TorchDataset) and len(part) == 3
    assert part.x["id"].tolist() == [5, 2, 9]
    assert part.y is not None and part.y.tolist() == y[[5, 2, 9]].tolist()


# --- same batches as a DataLoader --------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 10, 32, ROWS, 500])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_batches_equal_a_dataloader_over_torchdataset(columns, batch_size, drop_last):
    x, y = columns
    ours = list(ColumnarLoader(x, y, batch_size=batch_size, drop_last=drop_last))
    theirs = list(DataLoader(TorchDataset(x, y), batch_size=batch_size, drop_last=drop_last))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert_batches_equal(a, b)


def test_shuffled_epoch_is_a_permutation_of_the_rows(columns) -> None:
    x, y = columns
    loader = ColumnarLoader(x, y, batch_size=16, shuffle=True, seed=3)
    for _ in range(3):
        seen = [i for batch in epoch_ids(loader) for i in batch]
        assert sorted(seen) == list(range(ROWS))
        assert seen != list(range(ROWS))
    plain = [int(i) for xb, _ in DataLoader(TorchDataset(x, y), batch_size=16, shuffle=True) for i in xb["id"]]
    assert sorted(plain) == sorted(seen)


def test_shuffled_batches_equal_a_dataloader_with_the_same_permutation(columns) -> None:
    x, y = columns
    loader = ColumnarLoader(x, y, batch_size=16, shuffle=True, seed=11)
    for epoch in range(2):
        order = loader.epoch_indices().tolist()
        theirs = list(DataLoader(TorchDataset(x, y), batch_size=16, sampler=order))
        ours = list(loader)
        assert loader.epoch == epoch + 1
        assert len(ours) == len(theirs) == 7
        for a, b in zip(ours, theirs, strict=True):
            assert_batches_equal(a, b)


def test_order_is_seeded_and_changes_every_epoch(columns) -> None:
    x, y = columns
    first = ColumnarLoader(x, y, batch_size=16, shuffle=True, seed=5)
    second = ColumnarLoader(x, y, batch_size=16, shuffle=True, seed=5)
    other = ColumnarLoader(x, y, batch_size=16, shuffle=True, seed=6)
    torch.manual_seed(123)  # the global RNG must not matter
    runs = [epoch_ids(first) for _ in range(3)]
    torch.manual_seed(999)
    assert [epoch_ids(second) for _ in range(3)] == runs
    assert runs[0] != runs[1] != runs[2]
    assert epoch_ids(other) != runs[0]
    first.set_epoch(1)
    assert epoch_ids(first) == runs[1]


def test_len_and_drop_last() -> None:
    x = {"id": np.arange(10)}
    assert len(ColumnarLoader(x, batch_size=3)) == 4
    assert len(ColumnarLoader(x, batch_size=3, drop_last=True)) == 3
    assert [len(b["id"]) for b in ColumnarLoader(x, batch_size=3, shuffle=True)] == [3, 3, 3, 1]
    assert [len(b["id"]) for b in ColumnarLoader(x, batch_size=3, drop_last=True)] == [3, 3, 3]
    assert len(ColumnarLoader(x, batch_size=20, drop_last=True)) == 0
    assert list(ColumnarLoader(x, batch_size=20, drop_last=True)) == []
    assert len(ColumnarLoader(x, batch_size=3, world_size=3)) == 1


def test_loader_exposes_dataloader_attributes(columns) -> None:
    x, y = columns
    ds = TorchDataset(x, y)
    loader = ColumnarLoader(ds, batch_size=8)
    assert loader.dataset is ds and loader.batch_size == 8
    assert "batch_size=8" in repr(loader)


def test_unlabelled_loader_yields_dicts(columns) -> None:
    x, _ = columns
    batches = list(ColumnarLoader(PredictDataset(x), batch_size=50))
    assert isinstance(batches[0], dict) and [len(b["id"]) for b in batches] == [50, 50, 3]


# --- resume ------------------------------------------------------------------


@pytest.mark.parametrize(("stop_epoch", "stop_batch"), [(0, 0), (1, 3), (1, 6), (2, 7)])
def test_mid_epoch_resume_continues_exactly_like_an_uninterrupted_run(columns, stop_epoch, stop_batch) -> None:
    x, y = columns
    uninterrupted = ColumnarLoader(x, y, batch_size=15, shuffle=True, seed=7)
    reference = [list(uninterrupted) for _ in range(4)]

    loader = ColumnarLoader(x, y, batch_size=15, shuffle=True, seed=7)
    for _ in range(stop_epoch):
        list(loader)
    state = None
    if stop_batch == 0:
        state = loader.state_dict()
    for k, _batch in enumerate(loader, start=1):
        if k == stop_batch:
            state = loader.state_dict()
            break
    assert state == {"epoch": stop_epoch, "batches_yielded": stop_batch, "seed": 7}

    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=True)

    resumed = ColumnarLoader(TorchDataset(x, y), batch_size=15, shuffle=True, seed=0)
    resumed.load_state_dict(restored)
    resumed.set_epoch(stop_epoch)  # the usual per-epoch call must not undo the resume
    assert resumed.state_dict() == state
    rest = list(resumed)
    assert len(rest) == len(reference[stop_epoch]) - stop_batch
    for a, b in zip(rest, reference[stop_epoch][stop_batch:], strict=True):
        assert_batches_equal(a, b)
    for epoch in range(stop_epoch + 1, 4):
        for a, b in zip(list(resumed), reference[epoch], strict=True):
            assert_batches_equal(a, b)


def test_state_counts_batches_during_iteration(columns) -> None:
    x, y = columns
    loader = ColumnarLoader(x, y, batch_size=50)
    states = [loader.state_dict()["batches_yielded"] for _ in loader]
    assert states == [1, 2, 3]
    assert loader.state_dict() == {"epoch": 1, "batches_yielded": 0, "seed": 0}


def test_abandoned_iteration_restarts_the_epoch(columns) -> None:
    x, y = columns
    loader = ColumnarLoader(x, y, batch_size=10, shuffle=True, seed=1)
    full = epoch_ids(ColumnarLoader(x, y, batch_size=10, shuffle=True, seed=1))
    assert ids(next(iter(loader))) == full[0]  # peeking does not consume the epoch
    assert epoch_ids(loader) == full
    assert loader.epoch == 1


def test_resume_without_shuffle_and_with_shards(columns) -> None:
    x, y = columns
    for shuffle in (False, True):
        loader = ColumnarLoader(x, y, batch_size=4, shuffle=shuffle, rank=1, world_size=3)
        reference = epoch_ids(loader.with_shard(1, 3))
        resumed = loader.with_shard(1, 3)
        resumed.load_state_dict({"epoch": 0, "batches_yielded": 5, "seed": 0})
        assert epoch_ids(resumed) == reference[5:]


def test_set_epoch_to_another_epoch_drops_a_restored_position(columns) -> None:
    x, y = columns
    loader = ColumnarLoader(x, y, batch_size=10, shuffle=True)
    loader.load_state_dict({"epoch": 2, "batches_yielded": 4, "seed": 0})
    loader.set_epoch(3)
    assert loader.state_dict() == {"epoch": 3, "batches_yielded": 0, "seed": 0}
    assert len(list(loader)) == 11


@pytest.mark.parametrize(
    "state",
    [
        {"epoch": 0, "seed": 0},
        {"epoch": -1, "batches_yielded": 0, "seed": 0},
        {"epoch": 0, "batches_yielded": 1.5, "seed": 0},
        {"epoch": 0, "batches_yielded": 12, "seed": 0},
    ],
)
def test_bad_states_raise_checkpoint_error(columns, state) -> None:
    x, y = columns
    with pytest.raises(CheckpointError):
        ColumnarLoader(x, y, batch_size=10).load_state_dict(state)


# --- sharding -----------------------------------------------------------------


@pytest.mark.parametrize("world_size", [2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
def test_ranks_k_th_batches_together_equal_one_process_with_a_bigger_batch(world_size, shuffle):
    rows, per_rank = 120, 7
    x, y = make_columns(rows)
    single = ColumnarLoader(x, y, batch_size=per_rank * world_size, shuffle=shuffle, seed=9)
    ranks = [single.with_shard(r, world_size) for r in range(world_size)]
    for loader in ranks:
        loader.batch_size = per_rank
    for _epoch in range(2):
        expected = epoch_ids(single)
        per_rank_batches = [epoch_ids(loader) for loader in ranks]
        assert all(len(b) == len(expected) for b in per_rank_batches)
        for k, batch in enumerate(expected):
            union = sorted(i for r in range(world_size) for i in per_rank_batches[r][k])
            assert union == sorted(batch)


@pytest.mark.parametrize("rows", [100, 101, 103])
def test_ranks_are_disjoint_and_cover_a_multiple_of_world_size(rows) -> None:
    x, y = make_columns(rows)
    loader = ColumnarLoader(x, y, batch_size=8, shuffle=True, seed=2, world_size=4)
    seen = [[i for b in epoch_ids(loader.with_shard(r, 4)) for i in b] for r in range(4)]
    assert all(len(s) == rows // 4 for s in seen)
    flat = [i for s in seen for i in s]
    assert len(set(flat)) == len(flat) == (rows // 4) * 4
    assert len(loader.with_shard(3, 4)) == -(-(rows // 4) // 8)


def test_with_shard_is_a_copy_sharing_the_data(columns) -> None:
    x, y = columns
    loader = ColumnarLoader(x, y, batch_size=10, shuffle=True, seed=4)
    shard = loader.with_shard(1, 2)
    assert (shard.rank, shard.world_size, shard.seed) == (1, 2, 4)
    assert (loader.rank, loader.world_size) == (0, 1)
    assert shard.dataset is loader.dataset
    assert shard.epoch_indices().tolist() == loader.epoch_indices()[: (ROWS // 2) * 2][1::2].tolist()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch_size": 0},
        {"batch_size": 2.0},
        {"world_size": 0},
        {"rank": 2, "world_size": 2},
        {"rank": -1},
        {"seed": "a"},
    ],
)
def test_invalid_loader_arguments_raise_config_error(columns, kwargs) -> None:
    x, y = columns
    with pytest.raises(ConfigError):
        ColumnarLoader(x, y, **kwargs)


def test_loader_rejects_y_next_to_a_dataset_and_foreign_datasets(columns) -> None:
    x, y = columns
    with pytest.raises(ConfigError, match="inside the dataset"):
        ColumnarLoader(TorchDataset(x, y), y)
    with pytest.raises(ConfigError, match="DataLoader"):
        ColumnarLoader(torch.utils.data.TensorDataset(torch.zeros(3)))


# --- real data ------------------------------------------------------------------


def test_real_criteo_sample_round_trips_through_the_loader(criteo) -> None:
    dense = [f"I{i}" for i in range(1, 14)]
    sparse = [f"C{i}" for i in range(1, 27)]
    x = {c: criteo[c].fillna(0).astype("float32") for c in dense}
    x |= {c: pd.factorize(criteo[c].fillna("-996"))[0] for c in sparse}
    ds = TorchDataset(x, criteo["label"])
    assert len(ds) == len(criteo) == 115
    loader = ColumnarLoader(ds, batch_size=32, shuffle=True, seed=1)
    batches = list(loader)
    assert [len(yb) for _, yb in batches] == [32, 32, 32, 19]
    rebuilt = torch.cat([xb["C1"] for xb, _ in batches])
    order = loader.epoch_indices(0)
    assert torch.equal(rebuilt, ds.x["C1"][order])
    assert torch.equal(torch.cat([yb for _, yb in batches]), torch.tensor(criteo["label"].to_numpy())[order])
    with pytest.raises(DataError, match="'C1'"):
        ColumnarDataset(criteo)  # raw hashed categories are strings


# --- batch helpers -----------------------------------------------------------------


def test_move_batch_keeps_structure(columns) -> None:
    x, y = columns
    xb, yb = next(iter(ColumnarLoader(x, y, batch_size=4)))
    moved = move_batch((xb, yb), torch.device("cpu"))
    assert isinstance(moved, tuple) and moved[0].keys() == xb.keys()
    assert torch.equal(moved[1], yb)
    Pair = namedtuple("Pair", "a b")
    nested = move_batch([Pair(torch.ones(2), "text"), {"k": torch.zeros(1)}], "cpu", non_blocking=True)
    assert isinstance(nested[0], Pair) and nested[0].b == "text"
    assert move_batch("label", "cpu") == "label"
    meta = torch.device("meta")
    assert move_batch({"t": torch.ones(3)}, meta)["t"].device == meta


def test_batch_size_of_finds_the_first_tensor(columns) -> None:
    x, y = columns
    loader = ColumnarLoader(x, y, batch_size=40)
    assert [batch_size_of(b) for b in loader] == [40, 40, 23]
    assert batch_size_of({"a": torch.zeros(5, 2)}) == 5
    assert batch_size_of(torch.zeros(7)) == 7
    assert batch_size_of(([], (torch.zeros(2),))) == 2
    with pytest.raises(DataError):
        batch_size_of({"a": "text"})
    with pytest.raises(DataError):
        batch_size_of(torch.tensor(1.0))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_columns_on_cuda_give_the_same_batches(columns) -> None:
    x, y = columns
    cpu = ColumnarLoader(x, y, batch_size=16, shuffle=True, seed=3)
    cuda_x = {name: torch.as_tensor(values).cuda() for name, values in x.items()}
    gpu = ColumnarLoader(cuda_x, torch.as_tensor(y).cuda(), batch_size=16, shuffle=True, seed=3)
    for a, b in zip(cpu, gpu, strict=True):
        assert b[1].is_cuda
        assert_batches_equal(move_batch(a, "cuda"), b)


def test_bucketed_epochs_are_seeded_permutations_of_rows_of_similar_keys_and_resume_exactly():
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 50, (1000,), generator=generator)
    columns = {"row": torch.arange(1000)}

    def loader(**kwargs):
        return ColumnarLoader(columns, batch_size=32, shuffle=True, seed=5, bucket_key=lengths, bucket_batches=8,
                              **kwargs)

    first = [batch["row"] for batch in loader()]
    assert sorted(torch.cat(first).tolist()) == list(range(1000))
    spread = torch.tensor([float(lengths[rows].max() - lengths[rows].min()) for rows in first]).mean()
    plain = [batch["row"] for batch in ColumnarLoader(columns, batch_size=32, shuffle=True, seed=5)]
    plain_spread = torch.tensor([float(lengths[rows].max() - lengths[rows].min()) for rows in plain]).mean()
    assert spread < plain_spread / 4  # batches hold similar lengths
    again = loader()
    assert all(torch.equal(a["row"], b) for a, b in zip(again, first, strict=True))  # same seed, same epoch
    assert not torch.equal(torch.cat([b["row"] for b in again]), torch.cat(first))  # the next epoch differs
    stopped = loader()
    iterator = iter(stopped)
    for _ in range(5):
        next(iterator)
    resumed = loader()
    resumed.load_state_dict(stopped.state_dict())
    assert all(torch.equal(a["row"], b) for a, b in zip(resumed, first[5:], strict=True))
    shards = [loader(rank=r, world_size=2) for r in (0, 1)]
    seen = torch.cat([batch["row"] for shard in shards for batch in shard])
    assert len(seen) == 1000 and len(set(seen.tolist())) == 1000
    with pytest.raises(ConfigError, match="bucket_key has 3 values for 1000 rows"):
        ColumnarLoader(columns, bucket_key=[1, 2, 3])
