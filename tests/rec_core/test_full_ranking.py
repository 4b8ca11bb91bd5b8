"""Tests for rec_core.metrics.full_ranking and ranked_list_metrics.

The reference below implements the definition row by row in plain Python: sort the
non-excluded items by score descending, tied items non-targets first, and read each
target's 1-based position. Scores are small integers, so ties are everywhere.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from rec_core.errors import ConfigError, DataError
from rec_core.metrics import ItemLists, full_ranking, ranked_list_metrics, ranking_metric_names

KS = (1, 3, 5, 10, 40)


def _order(scores: np.ndarray, targets: set[int], excluded: set[int]) -> list[int]:
    """Return the row's ranked items: score descending, non-targets first among ties."""
    items = [i for i in range(len(scores)) if i not in excluded]
    return sorted(items, key=lambda i: (-scores[i], i in targets))


def _reference(scores, targets, exclude, ks) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in ranking_metric_names(ks)}
    for row in range(len(scores)):
        wanted = set(targets[row])
        order = _order(scores[row], wanted, set(exclude[row]))
        ranks = sorted(p + 1 for p, item in enumerate(order) if item in wanted)
        for k in ks:
            top = [r for r in ranks if r <= k]
            ideal = sum(1 / math.log2(p + 1) for p in range(1, min(len(wanted), k) + 1))
            out[f"recall@{k}"].append(len(top) / len(wanted))
            out[f"ndcg@{k}"].append(sum(1 / math.log2(r + 1) for r in top) / ideal)
            out[f"hit@{k}"].append(float(bool(top)))
            out[f"mrr@{k}"].append(1 / top[0] if top else 0.0)
        out["mrr"].append(1 / ranks[0] if ranks else 0.0)
    return out


def _random_case(seed: int, rows: int = 48, items: int = 30, max_targets: int = 1, levels: int = 4):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, (rows, items)).astype(np.float32)
    targets = [rng.choice(items, rng.integers(1, max_targets + 1), replace=False).tolist() for _ in range(rows)]
    exclude = [rng.choice(items, rng.integers(0, 6), replace=False).tolist() for _ in range(rows)]
    return scores, targets, exclude


def _assert_matches(got: dict[str, torch.Tensor], expected: dict[str, list[float]]) -> None:
    assert list(got) == list(expected)
    for name, values in expected.items():
        torch.testing.assert_close(got[name], torch.tensor(values, dtype=torch.float64), msg=name)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_targets", [1, 6])
def test_matches_the_reference_with_ties_and_history(seed: int, max_targets: int) -> None:
    scores, targets, exclude = _random_case(seed, max_targets=max_targets)
    expected = _reference(scores, targets, exclude, KS)
    lists = [torch.tensor(t) for t in targets]
    mask = torch.zeros(scores.shape, dtype=torch.bool)
    for row, items in enumerate(exclude):
        mask[row, items] = True
    by_list = full_ranking(torch.tensor(scores), lists, [torch.tensor(e) for e in exclude], KS, reduction="none")
    by_mask = full_ranking(torch.tensor(scores), lists, mask, KS, reduction="none")
    _assert_matches(by_list, expected)
    _assert_matches(by_mask, expected)
    if max_targets == 1:  # the 1-D form of one target per row
        column = torch.tensor([t[0] for t in targets])
        _assert_matches(full_ranking(torch.tensor(scores), column, mask, KS, reduction="none"), expected)
    # some targets are excluded in this case: misses that still count
    assert any(set(t) & set(e) for t, e in zip(targets, exclude, strict=True))


def test_many_targets_per_row_match_the_reference() -> None:
    scores, targets, exclude = _random_case(3, rows=16, items=60, max_targets=45, levels=6)
    expected = _reference(scores, targets, exclude, KS)
    lists, known = ItemLists.from_lists(targets), ItemLists.from_lists(exclude)
    got = full_ranking(torch.tensor(scores), lists, known, KS, reduction="none")
    _assert_matches(got, expected)


def test_mean_reduction_gives_python_floats() -> None:
    scores, targets, exclude = _random_case(4, max_targets=3)
    expected = _reference(scores, targets, exclude, (5, 10))
    got = full_ranking(torch.tensor(scores), [torch.tensor(t) for t in targets], [torch.tensor(e) for e in exclude],
                       ks=(5, 10))
    assert list(got) == ["recall@5", "recall@10", "ndcg@5", "ndcg@10", "hit@5", "hit@10", "mrr@5", "mrr@10", "mrr"]
    for name, value in got.items():
        assert isinstance(value, float)
        assert value == pytest.approx(float(np.mean(expected[name])), abs=1e-12)


def test_a_constant_model_ranks_each_target_last() -> None:
    n_items = 50
    scores = torch.full((4, n_items), 0.25)
    exclude = [torch.tensor([1, 2, 3]), torch.tensor([], dtype=torch.long), torch.tensor([7]), torch.arange(10, 20)]
    got = full_ranking(scores, torch.tensor([0, 5, 9, 49]), exclude, ks=(1, 10, 40), reduction="none")
    ranked = torch.tensor([47.0, 50.0, 49.0, 40.0], dtype=torch.float64)  # the catalogue minus the excluded
    torch.testing.assert_close(got["mrr"], 1 / ranked)
    torch.testing.assert_close(got["hit@40"], (ranked <= 40).double())
    assert got["hit@10"].sum() == 0 and got["recall@1"].sum() == 0
    # a catalogue wider than the 255-column groups the core counts in
    wide = full_ranking(torch.zeros(2, 1000), torch.tensor([0, 999]), [torch.arange(1, 4), torch.tensor([5])])
    assert wide["mrr"] == pytest.approx((1 / 997 + 1 / 999) / 2)


def test_hand_computed_case() -> None:
    # row 0 order: item 2 (0.9), then the 0.5 tie: items 0 and 4 (non-targets) before item 1; item 3 is excluded
    # row 1 order: 3 (0.8), 0 (0.4), 1 (0.4, target after the tie), 4 (0.1), 2 (0.0, target)
    scores = torch.tensor([[0.5, 0.5, 0.9, 0.7, 0.5], [0.4, 0.4, 0.0, 0.8, 0.1]])
    got = full_ranking(scores, [torch.tensor([1]), torch.tensor([2, 1])], [torch.tensor([3]), torch.tensor([])],
                       ks=(2, 3), reduction="none")
    torch.testing.assert_close(got["mrr"], torch.tensor([1 / 4, 1 / 3], dtype=torch.float64))
    torch.testing.assert_close(got["hit@3"], torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(got["recall@3"], torch.tensor([0.0, 0.5], dtype=torch.float64))
    torch.testing.assert_close(got["mrr@2"], torch.tensor([0.0, 0.0], dtype=torch.float64))
    ideal = 1 + 1 / math.log2(3)
    torch.testing.assert_close(got["ndcg@3"], torch.tensor([0.0, 0.5 / ideal], dtype=torch.float64))


def test_an_excluded_target_is_a_miss_that_still_counts() -> None:
    scores = torch.tensor([[0.9, 0.8, 0.1, 0.0]])
    got = full_ranking(scores, [torch.tensor([0, 3])], [torch.tensor([0])], ks=(1, 3))
    assert got["recall@3"] == 0.5  # item 3 is found at rank 3, item 0 is never ranked
    assert got["mrr"] == pytest.approx(1 / 3)
    assert got["ndcg@3"] == pytest.approx((1 / 2) / (1 + 1 / math.log2(3)))


def test_repeated_targets_count_once_and_k_may_exceed_the_catalogue() -> None:
    scores = torch.tensor([[0.3, 0.2, 0.1]])
    got = full_ranking(scores, [torch.tensor([1, 1, 2])], ks=(2, 100))
    assert got["recall@2"] == 0.5 and got["recall@100"] == 1.0
    assert got["ndcg@100"] == pytest.approx((1 / math.log2(3) + 1 / 2) / (1 + 1 / math.log2(3)))


def test_infinite_scores_rank_like_numbers() -> None:
    scores = torch.tensor([[-math.inf, -math.inf, 1.0, math.inf]])
    assert full_ranking(scores, torch.tensor([0]), ks=(1,))["mrr"] == pytest.approx(1 / 4)
    assert full_ranking(scores, torch.tensor([3]), ks=(1,))["mrr"] == 1.0


def test_memory_stays_per_row_for_many_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    # every (rows, items)-sized tensor the core allocates is counted; many targets must not multiply them
    scores = torch.rand(8, 500)
    targets = [torch.randperm(500)[:200] for _ in range(8)]
    calls: list[int] = []
    original = torch.ge

    def counting_ge(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "ge", counting_ge)
    full_ranking(scores, targets, ks=(5, 10))
    assert len(calls) == 10  # one pass per target that can still reach the top max(ks), not 200


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((torch.zeros(5), torch.tensor([0])), r"\(batch, items\) matrix"),
        ((torch.zeros(2, 5), torch.tensor([0, 1, 2])), "targets has 3 rows but there are 2"),
        ((torch.zeros(2, 5), torch.tensor([0, 5])), r"targets item index 5 in row 1 is outside \[0, 5\)"),
        ((torch.zeros(2, 5), [torch.tensor([0]), torch.tensor([2, -1])]), "index -1 in row 1"),
        ((torch.zeros(2, 5), torch.tensor([0.0, 1.0])), "integer item indices"),
        ((torch.zeros(2, 5), torch.zeros(2, 5, dtype=torch.long)), r"got shape \(2, 5\)"),
        ((torch.zeros(2, 5), [torch.tensor([0]), torch.tensor([], dtype=torch.long)]), "row 1 of targets has no"),
        ((torch.tensor([[0.0, math.nan], [0.0, 1.0]]), torch.tensor([0, 1])), r"NaN \(first in row 0\)"),
        ((torch.zeros(2, 5), torch.tensor([0, 1]), torch.zeros(2, 4, dtype=torch.bool)), r"exclude mask has shape"),
        ((torch.zeros(2, 5), torch.tensor([0, 1]), torch.zeros(2, 5)), "must be a bool tensor"),
        ((torch.zeros(2, 5), torch.tensor([0, 1]), [torch.tensor([9]), torch.tensor([0])]), "exclude item index 9"),
    ],
)
def test_rejects_bad_inputs_in_one_line(args, match: str) -> None:
    with pytest.raises(DataError, match=match) as info:
        full_ranking(*args)
    assert "\n" not in str(info.value)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="positive integers"):
        full_ranking(torch.zeros(1, 3), torch.tensor([0]), ks=(0,))
    with pytest.raises(ConfigError, match="reduction"):
        full_ranking(torch.zeros(1, 3), torch.tensor([0]), reduction="sum")


def test_no_rows_give_nan_means() -> None:
    got = full_ranking(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), ks=(2,))
    assert all(math.isnan(v) for v in got.values())


# ---------------------------------------------------------------------------- ranked lists


@pytest.mark.parametrize("max_targets", [1, 5])
def test_ranked_lists_from_the_pessimistic_order_agree_with_full_ranking(max_targets: int) -> None:
    scores, targets, exclude = _random_case(7, max_targets=max_targets)
    length = 12
    ranked = torch.tensor([_order(scores[r], set(targets[r]), set(exclude[r]))[:length] for r in range(len(scores))])
    ks = (1, 5, 12)
    lists = [torch.tensor(t) for t in targets]
    got = ranked_list_metrics(ranked, lists, ks, reduction="none")
    full = full_ranking(torch.tensor(scores), lists, [torch.tensor(e) for e in exclude], ks, reduction="none")
    for name in ranking_metric_names(ks)[:-1]:
        torch.testing.assert_close(got[name], full[name], msg=name)
    torch.testing.assert_close(got["mrr"], full["mrr@12"])  # a list knows nothing beyond its end


def test_ranked_lists_hand_case_with_repeats_and_padding() -> None:
    ranked = torch.tensor([[4, 4, 2, -1], [7, 8, 9, 1]])
    got = ranked_list_metrics(ranked, [torch.tensor([4, 2]), torch.tensor([5])], ks=(2, 4), reduction="none")
    torch.testing.assert_close(got["recall@2"], torch.tensor([0.5, 0.0], dtype=torch.float64))  # a repeat is no hit
    torch.testing.assert_close(got["recall@4"], torch.tensor([1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(got["mrr"], torch.tensor([1.0, 0.0], dtype=torch.float64))
    ndcg = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    torch.testing.assert_close(got["ndcg@4"], torch.tensor([ndcg, 0.0], dtype=torch.float64))
    assert ranked_list_metrics(ranked, torch.tensor([2, 1]), ks=(3,))["hit@3"] == 0.5


def test_ranked_lists_reject_bad_inputs() -> None:
    with pytest.raises(DataError, match=r"\(rows, L\) integer tensor"):
        ranked_list_metrics(torch.zeros(2, 3), torch.tensor([0, 1]))
    with pytest.raises(DataError, match="targets has 1 rows but there are 2"):
        ranked_list_metrics(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0]))
    with pytest.raises(DataError, match="negative item id"):
        ranked_list_metrics(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, -2]))


def test_names_module_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import rec_core.metrics.names as names\n"
        "from rec_core import TrainingConfig\n"
        "assert names.monitor_mode('val/ndcg@10') == 'max'\n"
        "assert TrainingConfig(monitor='val/logloss').resolved_mode() == 'min'\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_item_lists_take_rows_of_csr_arrays_in_the_order_asked():
    lists = ItemLists.from_csr_rows([0, 2, 2, 5], [1, 2, 3, 4, 5], [2, 0, 1, 2])
    assert lists.offsets.tolist() == [0, 3, 5, 5, 8]
    assert lists.items.tolist() == [3, 4, 5, 1, 2, 3, 4, 5]
    empty = ItemLists.from_csr_rows([0, 2], [7, 8], [])
    assert len(empty) == 0 and empty.items.numel() == 0
