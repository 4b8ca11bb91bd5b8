"""``TrainingConfig.prefetch_batches``: host batches packed into one buffer, one copy each, one batch ahead.

Packing and unpacking are plain tensor code and are checked here on the CPU for every kind of
column a batch can hold; the pinned buffers, side stream and events run where CUDA exists.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch

from rec_core import TrainingConfig
from rec_core.data import ColumnarLoader, move_batch
from rec_core.data.prefetch import ALIGN, pack, packed_layout, prefetch_to_device, unpack

from .trainer_fixtures import ClickTrainer, Logistic, loaders, same_weights, settings, snapshot


def _mixed_batch() -> tuple[dict[str, Any], torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = {
        "user": torch.randint(0, 10**9, (7,), generator=gen),  # int64
        "price": torch.rand(7, generator=gen),  # float32, 28 bytes: the next column starts aligned anyway
        "clicked": torch.rand(7, generator=gen) > 0.5,  # bool, 7 bytes
        "history": torch.randint(0, 100, (7, 5), dtype=torch.int32, generator=gen),
        "half": torch.rand(7, 3, generator=gen).half(),
        "transposed": torch.rand(3, 7, generator=gen).t(),  # not contiguous
        "empty": torch.zeros(7, 0),
        "scalar": torch.tensor(3.5, dtype=torch.float64),
        "name": "batch-7",  # not a tensor: kept as it is
        "meta": torch.empty(7, device="meta"),  # not on the host: left alone
    }
    return x, torch.rand(7, generator=gen)


def test_a_packed_batch_unpacks_to_the_same_tensors_and_structure() -> None:
    batch = _mixed_batch()
    layout = packed_layout(batch)
    assert len(layout.slots) == 9  # every host tensor, not the string or the meta tensor
    assert all(offset % ALIGN == 0 for _, offset, _, _, _ in layout.slots)
    assert layout.nbytes >= sum(size for _, _, size, _, _ in layout.slots)
    buffer = torch.full((layout.nbytes + 5,), 255, dtype=torch.uint8)  # larger than needed, as a reused one is
    pack(batch, layout, buffer)
    x, y = unpack(buffer, layout)
    original, labels = batch
    assert torch.equal(y, labels)
    assert x.keys() == original.keys()
    for name, value in original.items():
        if isinstance(value, torch.Tensor) and value.device.type == "cpu":
            assert x[name].dtype == value.dtype and x[name].shape == value.shape, name
            assert torch.equal(x[name], value), name
            assert x[name].untyped_storage().data_ptr() == buffer.untyped_storage().data_ptr(), name  # a view
    assert x["name"] == "batch-7" and x["meta"] is original["meta"]


def test_columns_do_not_overlap_in_the_buffer() -> None:
    batch = _mixed_batch()
    layout = packed_layout(batch)
    spans = sorted((offset, offset + size) for _, offset, size, _, _ in layout.slots)
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
    # Packing a second batch over a used buffer leaves nothing of the first.
    buffer = torch.empty(layout.nbytes, dtype=torch.uint8)
    pack(batch, layout, buffer)
    other = _mixed_batch()
    other[0]["user"] = other[0]["user"] + 1
    pack(other, layout, buffer)
    assert torch.equal(unpack(buffer, layout)[0]["user"], batch[0]["user"] + 1)


def test_a_batch_with_no_host_tensor_has_nothing_to_pack() -> None:
    layout = packed_layout({"a": torch.empty(3, device="meta"), "b": 1})
    assert layout.slots == [] and layout.nbytes == 0


def test_prefetching_is_off_by_default_and_changes_nothing_on_the_cpu(tmp_path) -> None:
    assert TrainingConfig().prefetch_batches is False
    runs = {}
    for prefetch in (False, True):
        torch.manual_seed(0)
        train, val = loaders()
        trainer = ClickTrainer(Logistic(), **settings(tmp_path / str(prefetch), max_epochs=2,
                                                      prefetch_batches=prefetch))
        trainer.fit(train, val)
        runs[prefetch] = snapshot(trainer.model)
    assert same_weights(runs[False], runs[True])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_prefetched_batches_are_the_host_batches_in_order() -> None:
    device = torch.device("cuda", 0)
    gen = torch.Generator().manual_seed(1)
    n = 210
    columns = {"user": torch.randint(0, 10**9, (n,), generator=gen), "price": torch.rand(n, generator=gen),
               "clicked": torch.rand(n, generator=gen) > 0.5,
               "history": torch.randint(0, 100, (n, 5), dtype=torch.int32, generator=gen),
               "half": torch.rand(n, 3, generator=gen).half()}
    loader = ColumnarLoader(columns, torch.rand(n, generator=gen), batch_size=16, shuffle=True, seed=3)
    expected = [move_batch(b, device) for b in loader]
    got = list(prefetch_to_device(enumerate(loader), device))
    assert [i for i, _ in got] == list(range(len(expected)))
    for (_, (gx, gy)), (ex, ey) in zip(got, expected, strict=True):
        assert torch.equal(gy, ey) and gy.device == device
        for name in ex:
            assert torch.equal(gx[name], ex[name]), name


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_a_prefetched_run_trains_like_a_plain_one(tmp_path) -> None:
    runs = {}
    for prefetch in (False, True):
        torch.manual_seed(0)
        train, val = loaders()
        trainer = ClickTrainer(Logistic(), **settings(tmp_path / str(prefetch), max_epochs=2, device="cuda",
                                                      data_on_device=False, prefetch_batches=prefetch))
        trainer.fit(train, val)
        runs[prefetch] = snapshot(trainer.model)
    assert same_weights(runs[False], runs[True])
