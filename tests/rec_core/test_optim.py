"""RowAdam: lazy Adam for sparse embedding gradients."""

from __future__ import annotations

import copy

import pytest
import torch

from rec_core.optim import RowAdam


def _train(optimizer_cls, *, sparse=True, steps=25, **kwargs):
    torch.manual_seed(0)
    table = torch.nn.Embedding(200, 6, sparse=sparse)
    optimizer = optimizer_cls(table.parameters(), lr=0.05, **kwargs)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        ids = torch.randint(0, 150, (32,), generator=gen)  # rows 150.. are never looked up
        optimizer.zero_grad()
        (table(ids) - 1.0).pow(2).sum().backward()
        optimizer.step()
    return table.weight.detach().clone(), optimizer


def test_matches_sparse_adam():
    ours, _ = _train(RowAdam)
    reference, _ = _train(torch.optim.SparseAdam)
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-5)


def test_rows_never_looked_up_are_untouched():
    torch.manual_seed(0)
    initial = torch.nn.Embedding(200, 6).weight.detach().clone()
    trained, optimizer = _train(RowAdam)
    assert torch.equal(trained[150:], initial[150:])
    assert not torch.equal(trained[:150], initial[:150])
    state = optimizer.state[next(iter(optimizer.state))]
    assert torch.count_nonzero(state["exp_avg"][150:]) == 0


def test_dense_gradients_follow_plain_adam():
    ours, _ = _train(RowAdam, sparse=False)
    reference, _ = _train(torch.optim.Adam, sparse=False)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)


def test_state_dict_round_trip_continues_identically():
    torch.manual_seed(0)
    table = torch.nn.Embedding(50, 4, sparse=True)
    optimizer = RowAdam(table.parameters(), lr=0.1)
    ids = torch.tensor([1, 2, 3, 3])

    def step(opt, tab):
        opt.zero_grad()
        tab(ids).sum().backward()
        opt.step()

    step(optimizer, table)
    clone = torch.nn.Embedding(50, 4, sparse=True)
    clone.load_state_dict(table.state_dict())
    restored = RowAdam(clone.parameters(), lr=0.1)
    restored.load_state_dict(copy.deepcopy(optimizer.state_dict()))  # as after torch.save/load
    step(optimizer, table)
    step(restored, clone)
    assert torch.equal(table.weight, clone.weight)


@pytest.mark.parametrize("kwargs", [{"lr": 0.0}, {"betas": (1.0, 0.9)}, {"eps": -1.0}])
def test_rejects_invalid_settings(kwargs):
    with pytest.raises(ValueError, match="invalid RowAdam settings"):
        RowAdam(torch.nn.Embedding(3, 2).parameters(), **kwargs)
