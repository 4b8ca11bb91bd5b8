"""The sampled evaluation protocol's candidates (``sample_candidates``): valid, distributed as said, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rec_core import ConfigError
from rec_core.metrics import ItemLists
from rec_trainers.trainers import _seq_data
from rec_trainers.trainers._seq_data import sample_candidates


def _known(rows: list[list[int]]) -> ItemLists:
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    items = np.array([i for r in rows for i in r], dtype=np.int64)
    return ItemLists(torch.from_numpy(offsets), torch.from_numpy(items))


def _check_valid(out: np.ndarray, targets: np.ndarray, rows: list[list[int]], n: int) -> None:
    assert out.shape == (len(targets), n + 1) and (out[:, 0] == targets).all()
    for row, known in enumerate(rows):
        negatives = out[row, 1:].tolist()
        assert len(set(negatives)) == n, row
        assert not set(negatives) & ({0, int(targets[row])} | set(known)), row


def test_every_query_gets_its_target_and_distinct_unseen_negatives_even_when_it_has_seen_most_items(
        monkeypatch) -> None:
    alone = []
    original = _seq_data._draw_one
    monkeypatch.setattr(_seq_data, "_draw_one", lambda seen, *args: alone.append(len(seen)) or original(seen, *args))
    gen = np.random.default_rng(1)
    n_items = 60
    rows = [gen.choice(np.arange(1, n_items), size=int(k), replace=False).tolist() for k in gen.integers(0, 10, 300)]
    rows[7] = list(range(1, n_items - 7))  # all but 6 real items seen, the target among the rest
    targets = np.array([n_items - 1 if r == 7 else int(gen.integers(1, n_items)) for r in range(300)])
    for row, known in enumerate(rows):
        rows[row] = [i for i in known if i != targets[row]]
    popularity = np.zeros(n_items)
    popularity[1:n_items - 7] = 1_000.0  # the seen items hold nearly all the weight: query 7 draws on alone
    out = sample_candidates(targets, _known(rows), n_items, 5, popularity, seed=3, block=64)
    _check_valid(out, targets, rows, 5)
    assert alone == [52 + 2]  # query 7 alone drew on by itself (its 52 items, its target and padding)
    assert set(out[7, 1:].tolist()) <= set(range(n_items - 7, n_items - 1))  # 5 of its 6 unseen items


def test_negatives_follow_popularity_or_are_uniform() -> None:
    n_items, queries, n = 42, 4_000, 4
    targets = np.full(queries, n_items - 1)
    known = _known([[] for _ in range(queries)])
    popularity = np.zeros(n_items)
    popularity[1] = 400.0  # item 1 weighs 401 against 1 for every other item
    weighted = sample_candidates(targets, known, n_items, n, popularity, seed=0)
    uniform = sample_candidates(targets, known, n_items, n, None, seed=0)
    share = lambda out, item: float((out[:, 1:] == item).any(axis=1).mean())  # noqa: E731
    assert share(weighted, 1) > 0.95  # drawn first almost every time
    assert share(uniform, 1) == pytest.approx(n / (n_items - 2), abs=0.03)  # 40 eligible items
    counts = np.bincount(uniform[:, 1:].ravel(), minlength=n_items)[1:n_items - 1]
    assert counts.min() > 0.7 * counts.mean() and counts.max() < 1.3 * counts.mean()


def test_candidates_are_seeded() -> None:
    targets = np.arange(1, 30)
    known = _known([[] for _ in targets])
    first = sample_candidates(targets, known, 50, 8, None, seed=5)
    assert np.array_equal(first, sample_candidates(targets, known, 50, 8, None, seed=5))
    assert not np.array_equal(first, sample_candidates(targets, known, 50, 8, None, seed=6))


def test_too_many_negatives_are_one_line_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"eval_negatives must be between 1 and 8 for 9 items, got 9"):
        sample_candidates(np.array([1]), _known([[]]), 10, 9, None, seed=0)
    with pytest.raises(ConfigError, match=r"query 1 has seen all but 4 items; eval_negatives=5 is too many"):
        # items 0..11: padding, the target 2 and six known items leave 1, 9, 10 and 11
        sample_candidates(np.array([1, 2]), _known([[], [3, 4, 5, 6, 7, 8]]), 12, 5, None, seed=0)
