"""Tests for rec_core.metrics: whole arrays against scikit-learn, ranking by hand.

Ranking follows the pessimistic tie rule of :mod:`rec_core.metrics.ranking`: items that
tie with a relevant item are placed before it, so a model cannot gain from ties (a
constant model ranks the relevant item last). ``test_full_ranking.py`` checks the
full-ranking API against a brute-force reference.
"""

from __future__ import annotations

import doctest
import importlib
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from rec_core import metrics
from rec_core.errors import ConfigError, DataError, UnknownNameError
from rec_core.metrics import (
    accuracy,
    auc,
    get_metric,
    hit_rate_at_k,
    is_higher_better,
    log_loss,
    monitor_mode,
    mrr_at_k,
    mse,
    ndcg_at_k,
    ranking_metrics,
    recall_at_k,
    rmse,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("REC_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
CRITEO = DATA_DIR / "rechub-samples" / "criteo" / "criteo_sample.csv"


@pytest.mark.parametrize("module", ["classification", "ranking", "names", "_lookup", "_item_lists"])
def test_module_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"rec_core.metrics.{module}"))
    assert result.attempted > 0
    assert result.failed == 0


def test_package_exports_resolve_lazily() -> None:
    for name in metrics.__all__:
        assert callable(getattr(metrics, name)), name
    assert set(metrics.__all__) <= set(dir(metrics))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        metrics.nope  # noqa: B018


# --------------------------------------------------------------------- whole arrays


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_levels", [3, 20, None])  # None: continuous, no ties
def test_auc_matches_sklearn_with_ties(seed: int, n_levels: int | None) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 5_000)
    noise = rng.normal(size=5_000) + y
    if n_levels is None:
        score = noise
    else:
        score = np.digitize(noise, np.linspace(-2, 3, n_levels))
    assert auc(y, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)


def test_auc_accepts_tensors_lists_and_column_vectors() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    score = rng.integers(0, 10, 300).astype(np.float32)
    expected = skm.roc_auc_score(y, score)
    assert auc(torch.tensor(y), torch.tensor(score)) == pytest.approx(expected, abs=1e-12)
    assert auc(y.tolist(), score.tolist()) == pytest.approx(expected, abs=1e-12)
    assert auc(torch.tensor(y)[:, None].bool(), torch.tensor(score)[:, None]) == (pytest.approx(expected, abs=1e-12))
    assert isinstance(auc(y, score), float)


def test_auc_large_input_matches_sklearn() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300_000)
    score = np.round(rng.random(300_000) + 0.1 * y, 2)  # many ties
    assert auc(y, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)


def test_auc_hand_cases() -> None:
    assert auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0
    assert auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    # (pos, neg) pairs: 0.8>0.2, 0.8>0.5, 0.5=0.5 (counts 1/2), 0.5>0.2 -> 3.5 / 4
    assert auc([1, 0, 1, 0], [0.8, 0.5, 0.5, 0.2]) == 0.875


@pytest.mark.skipif(not CRITEO.exists(), reason="shared data not available")
def test_auc_and_log_loss_on_real_criteo_slice() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(CRITEO)
    y = frame["label"].to_numpy()
    assert 0 < y.sum() < len(y)
    for column in ("I1", "I2", "I3", "I5", "I6", "I13"):  # integer counts: heavy ties
        score = frame[column].fillna(-1).to_numpy()
        assert auc(y, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
    counts = np.log1p(frame["I6"].fillna(0).clip(lower=0).to_numpy())
    prob = 1.0 / (1.0 + np.exp(3.0 - counts))  # stays far from 0 and 1: no clipping
    assert prob.min() > 1e-3 and prob.max() < 1 - 1e-3
    assert log_loss(y, prob) == pytest.approx(skm.log_loss(y, prob), rel=1e-9)


@pytest.mark.parametrize("label", [0, 1])
def test_auc_single_class_is_nan(label: int) -> None:
    assert math.isnan(auc([label] * 4, [0.1, 0.2, 0.3, 0.4]))


def test_auc_nan_score_is_nan() -> None:
    assert math.isnan(auc([0, 1, 0], [0.1, float("nan"), 0.3]))


@pytest.mark.parametrize("function", [auc, log_loss, accuracy])
def test_binary_metrics_reject_non_binary_labels(function) -> None:
    with pytest.raises(DataError, match="0/1"):
        function([0, 2, 1], [0.1, 0.2, 0.3])


def test_log_loss_matches_sklearn() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 2_000)
    prob = rng.uniform(1e-3, 1 - 1e-3, 2_000)
    assert log_loss(y, prob) == pytest.approx(skm.log_loss(y, prob), rel=1e-12)
    assert log_loss(torch.tensor(y), torch.tensor(prob)) == (pytest.approx(skm.log_loss(y, prob), rel=1e-12))


def test_log_loss_clips_probabilities() -> None:
    assert log_loss([1, 0], [0.0, 1.0]) == pytest.approx(-math.log(1e-7), rel=1e-9)
    assert log_loss([1, 0], [0.0, 1.0], eps=1e-3) == pytest.approx(-math.log(1e-3))
    assert log_loss([1, 0], [1.0, 0.0]) == pytest.approx(-math.log(1 - 1e-7), rel=1e-6)


def test_accuracy_binary_matches_sklearn() -> None:
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 1_000)
    prob = rng.random(1_000)
    expected = skm.accuracy_score(y, prob > 0.5)
    assert accuracy(y, prob) == pytest.approx(expected)
    assert accuracy(torch.tensor(y), torch.tensor(prob)[:, None]) == pytest.approx(expected)
    assert accuracy(y, prob, threshold=0.8) == pytest.approx(skm.accuracy_score(y, prob > 0.8))


def test_accuracy_threshold_is_strict() -> None:
    assert accuracy([0, 1, 1], [0.5, 0.51, 0.49]) == pytest.approx(2 / 3)


def test_accuracy_multiclass_uses_argmax() -> None:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 4, 500)
    logits = rng.normal(size=(500, 4))
    expected = skm.accuracy_score(y, logits.argmax(axis=1))
    assert accuracy(y, logits) == pytest.approx(expected)
    assert accuracy(torch.tensor(y), torch.tensor(logits)) == pytest.approx(expected)
    assert accuracy([2, 0], [[0.1, 0.2, 0.7], [0.3, 0.6, 0.1]]) == 0.5


def test_mse_and_rmse_match_sklearn() -> None:
    rng = np.random.default_rng(8)
    y, pred = rng.normal(size=1_000), rng.normal(size=1_000)
    assert mse(y, pred) == pytest.approx(skm.mean_squared_error(y, pred), rel=1e-12)
    assert rmse(torch.tensor(y), torch.tensor(pred)) == pytest.approx(
        math.sqrt(skm.mean_squared_error(y, pred)), rel=1e-12
    )
    assert mse([1.0, 2.0], [2.0, 4.0]) == 2.5
    assert isinstance(rmse([1.0], [1.0]), float)


@pytest.mark.parametrize("function", [auc, log_loss, accuracy, mse, rmse])
def test_mismatched_lengths_name_both(function) -> None:
    with pytest.raises(DataError, match=r"y_true has 3 rows but y_\w+ has 4"):
        function([0, 1, 0], [0.1, 0.2, 0.3, 0.4])


def test_multiclass_accuracy_length_mismatch_names_both() -> None:
    with pytest.raises(DataError, match="y_true has 2 rows but y_pred has 3"):
        accuracy([0, 1], np.zeros((3, 4)))


@pytest.mark.parametrize("function", [auc, log_loss, mse])
def test_rejects_empty_and_badly_shaped_input(function) -> None:
    with pytest.raises(DataError, match="empty"):
        function([], [])
    with pytest.raises(DataError, match=r"shape \(2, 2, 1\)"):
        function([0, 1], np.zeros((2, 2, 1)))


# --------------------------------------------------------------------------- top-K

# Row 0 ranks items 1, 3, 4, 2, 0; row 1 ranks items 0, 2, 3, 1, 4.
SCORES = torch.tensor([[0.1, 0.9, 0.3, 0.7, 0.5], [0.8, 0.2, 0.6, 0.4, 0.0]])
SINGLE = torch.tensor([4, 1])  # ranks 3 and 4
# relevant items sit at ranks 1 and 4 (row 0) and 2, 3 and 5 (row 1)
MASK = torch.tensor([[0, 1, 1, 0, 0], [0, 0, 1, 1, 1]], dtype=torch.bool)
L2, L3, L4, L5 = (math.log2(x) for x in (2, 3, 4, 5))


def test_single_target_hand_worked() -> None:
    assert hit_rate_at_k(SCORES, SINGLE, 3) == pytest.approx(0.5)
    assert recall_at_k(SCORES, SINGLE, 3) == pytest.approx(0.5)
    assert mrr_at_k(SCORES, SINGLE, 3) == pytest.approx((1 / 3 + 0) / 2)
    assert ndcg_at_k(SCORES, SINGLE, 3) == pytest.approx((1 / L4 + 0) / 2)
    assert hit_rate_at_k(SCORES, SINGLE, 2) == 0.0
    assert mrr_at_k(SCORES, SINGLE, 5) == pytest.approx((1 / 3 + 1 / 4) / 2)
    assert ndcg_at_k(SCORES, SINGLE, 5) == pytest.approx((1 / L4 + 1 / L5) / 2)


def test_multi_target_hand_worked() -> None:
    per_row = ranking_metrics(SCORES, MASK, ks=(3,), reduction="none")
    torch.testing.assert_close(per_row["recall@3"], torch.tensor([1 / 2, 2 / 3]))
    torch.testing.assert_close(per_row["hit@3"], torch.tensor([1.0, 1.0]))
    torch.testing.assert_close(per_row["mrr@3"], torch.tensor([1.0, 1 / 2]))
    ndcg_row0 = (1 / L2) / (1 / L2 + 1 / L3)  # ideal DCG over min(2, 3) items
    ndcg_row1 = (1 / L3 + 1 / L4) / (1 / L2 + 1 / L3 + 1 / L4)
    torch.testing.assert_close(per_row["ndcg@3"], torch.tensor([ndcg_row0, ndcg_row1]))
    # at K=1 row 0's second relevant item is out of reach: IDCG counts one item only
    assert ndcg_at_k(SCORES, MASK, 1) == pytest.approx((1.0 + 0.0) / 2)
    assert recall_at_k(SCORES, MASK, 5) == pytest.approx(1.0)
    ndcg5_row0 = (1 / L2 + 1 / L5) / (1 / L2 + 1 / L3)  # ranks 1 and 4
    ndcg5_row1 = (1 / L3 + 1 / L4 + 1 / math.log2(6)) / (1 / L2 + 1 / L3 + 1 / L4)
    assert ndcg_at_k(SCORES, MASK, 5) == pytest.approx((ndcg5_row0 + ndcg5_row1) / 2)


def test_float_and_int_masks_equal_bool_mask() -> None:
    expected = ranking_metrics(SCORES, MASK, ks=(1, 3))
    assert ranking_metrics(SCORES, MASK.float(), ks=(1, 3)) == expected
    assert ranking_metrics(SCORES, MASK.int(), ks=(1, 3)) == expected


def test_ties_count_against_relevant_items() -> None:
    scores = torch.tensor([[0.5, 0.5, 0.5, 0.5, 0.5, 0.1]])
    # item 4 ties with four other items: it is placed after all of them, at rank 5
    assert hit_rate_at_k(scores, torch.tensor([4]), 4) == 0.0
    assert hit_rate_at_k(scores, torch.tensor([4]), 5) == 1.0
    assert mrr_at_k(scores, torch.tensor([4]), 5) == pytest.approx(1 / 5)
    assert mrr_at_k(scores, torch.tensor([4]), None) == pytest.approx(1 / 5)
    # two relevant items tied with three others take ranks 4 and 5
    mask = torch.tensor([[0, 0, 0, 1, 1, 0]])
    assert hit_rate_at_k(scores, mask, 3) == 0.0
    assert recall_at_k(scores, mask, 4) == 0.5
    assert recall_at_k(scores, mask, 5) == 1.0
    assert ndcg_at_k(scores, mask, 5) == pytest.approx((1 / L5 + 1 / math.log2(6)) / (1 + 1 / L3))
    # a tie above the cut-off: relevant item 2 shares the top score with items 0 and 1
    above = torch.tensor([[0.9, 0.9, 0.9, 0.2, 0.1]])
    assert mrr_at_k(above, torch.tensor([[0, 0, 1, 0, 1]]), 5) == pytest.approx(1 / 3)
    assert ndcg_at_k(above, torch.tensor([[0, 0, 1, 0, 1]]), 5) == pytest.approx(
        (1 / L4 + 1 / math.log2(6)) / (1 + 1 / L3)  # ranks 3 and 5
    )
    # the target ranks behind strictly higher and tied items
    assert mrr_at_k(torch.tensor([[0.9, 0.5, 0.5]]), torch.tensor([2]), 3) == pytest.approx(1 / 3)


def test_a_constant_model_ranks_the_target_last() -> None:
    scores = torch.zeros(3, 7)
    targets = torch.tensor([0, 3, 6])
    assert mrr_at_k(scores, targets, None) == pytest.approx(1 / 7)
    assert hit_rate_at_k(scores, targets, 6) == 0.0
    assert ndcg_at_k(scores, targets, 7) == pytest.approx(1 / math.log2(8))


def test_rows_without_relevant_items_score_zero_and_count() -> None:
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.9, 0.1, 0.5]])
    mask = torch.tensor([[1, 0, 0], [0, 0, 0]])
    per_row = ranking_metrics(scores, mask, ks=(2,), reduction="none")
    for name, values in per_row.items():
        assert values.tolist() == [1.0, 0.0], name
    assert ranking_metrics(scores, mask, ks=(2,)) == {
        "recall@2": 0.5,
        "ndcg@2": 0.5,
        "hit@2": 0.5,
        "mrr@2": 0.5,
    }


def test_k_larger_than_catalog() -> None:
    assert recall_at_k(SCORES, MASK, 100) == pytest.approx(1.0)
    assert hit_rate_at_k(SCORES, SINGLE, 100) == 1.0
    assert ndcg_at_k(SCORES, SINGLE, 100) == pytest.approx(ndcg_at_k(SCORES, SINGLE, 5))


def _reference(scores: torch.Tensor, mask: torch.Tensor, k: int) -> dict[str, list]:
    """Rank row by row with Python's sort: score descending, relevant last on ties."""
    out: dict[str, list] = {"recall": [], "ndcg": [], "hit": [], "mrr": []}
    for row, rel in zip(scores.tolist(), mask.bool().tolist(), strict=True):
        order = sorted(range(len(row)), key=lambda i: (-row[i], rel[i]))
        ranks = [r + 1 for r, i in enumerate(order) if rel[i]]
        top = [r for r in ranks if r <= k]
        n_rel = len(ranks)
        ideal = sum(1 / math.log2(r + 1) for r in range(1, min(n_rel, k) + 1))
        out["recall"].append(len(top) / n_rel if n_rel else 0.0)
        out["hit"].append(float(bool(top)))
        out["mrr"].append(1 / top[0] if top else 0.0)
        dcg = sum(1 / math.log2(r + 1) for r in top)
        out["ndcg"].append(dcg / ideal if top else 0.0)
    return out


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("tied", [False, True])
def test_mask_form_matches_reference_ranking(seed: int, tied: bool) -> None:
    gen = torch.Generator().manual_seed(seed)
    scores = torch.rand(64, 30, generator=gen)
    if tied:
        scores = torch.randint(0, 4, (64, 30), generator=gen).float()
    mask = torch.rand(64, 30, generator=gen) < 0.15
    mask[0] = False  # a row without relevant items
    got = ranking_metrics(scores, mask, ks=(1, 5, 10), reduction="none")
    for k in (1, 5, 10):
        for name, values in _reference(scores, mask, k).items():
            torch.testing.assert_close(got[f"{name}@{k}"], torch.tensor(values))


@pytest.mark.parametrize("tied", [False, True])
def test_index_form_equals_one_hot_form(tied: bool) -> None:
    gen = torch.Generator().manual_seed(11)
    scores = torch.randn(200, 50, generator=gen)
    if tied:
        scores = torch.randint(0, 12, (200, 50), generator=gen).float()
    targets = torch.randint(0, 50, (200,), generator=gen)
    one_hot = torch.nn.functional.one_hot(targets, 50)
    ks = (1, 3, 10, 50)
    by_index = ranking_metrics(scores, targets, ks=ks, reduction="none")
    by_mask = ranking_metrics(scores, one_hot, ks=ks, reduction="none")
    assert by_index.keys() == by_mask.keys()
    for key in by_index:
        torch.testing.assert_close(by_index[key], by_mask[key], msg=key)
    # a metric that ignored the targets could not match both forms and also vary by row
    assert 0 < float(by_index["hit@10"].mean()) < 1


def test_reduction_none_shapes_and_chunk_accumulation() -> None:
    gen = torch.Generator().manual_seed(12)
    scores = torch.randn(90, 40, generator=gen)
    targets = torch.randint(0, 40, (90,), generator=gen)
    for function in (recall_at_k, ndcg_at_k, hit_rate_at_k, mrr_at_k):
        per_row = function(scores, targets, 10, reduction="none")
        assert isinstance(per_row, torch.Tensor)
        assert per_row.shape == (90,)
        assert per_row.dtype == torch.float32
        pairs = zip(scores.split(25), targets.split(25), strict=True)
        chunks = torch.cat([function(s, t, 10, reduction="none") for s, t in pairs])
        torch.testing.assert_close(chunks, per_row)
        assert function(scores, targets, 10) == pytest.approx(float(per_row.mean()))
        assert isinstance(function(scores, targets, 10), float)


def test_ranking_metrics_keys_in_order() -> None:
    result = ranking_metrics(SCORES, MASK, ks=(1, 3), metrics=("ndcg", "mrr"))
    assert list(result) == ["ndcg@1", "ndcg@3", "mrr@1", "mrr@3"]
    assert all(isinstance(value, float) for value in result.values())
    assert result["mrr@3"] == pytest.approx(mrr_at_k(SCORES, MASK, 3))


@pytest.mark.parametrize(
    ("scores", "targets", "match"),
    [
        (torch.zeros(5), torch.tensor([0]), r"\(batch, items\) matrix"),
        (torch.zeros(2, 5), torch.zeros(2, 4), r"mask has shape \(2, 4\)"),
        (torch.zeros(2, 5), torch.tensor([0, 1, 2]), "2 rows but targets has 3"),
        (torch.zeros(2, 5), torch.tensor([0, 5]), r"lie in \[0, 5\)"),
        (torch.zeros(2, 5), torch.tensor([0, -1]), r"lie in \[0, 5\)"),
        (torch.zeros(2, 5), torch.tensor([0.0, 1.0]), "integer item ids"),
    ],
)
def test_ranking_rejects_bad_inputs(scores, targets, match: str) -> None:
    with pytest.raises(DataError, match=match):
        ranking_metrics(scores, targets)


def test_ranking_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="reduction"):
        ranking_metrics(SCORES, SINGLE, reduction="sum")
    with pytest.raises(ConfigError, match="positive"):
        recall_at_k(SCORES, SINGLE, 0)
    with pytest.raises(UnknownNameError, match="did you mean 'ndcg'"):
        ranking_metrics(SCORES, SINGLE, metrics=("ndgc",))


# -------------------------------------------------------------------------- lookup


@pytest.mark.parametrize(
    ("name", "function"),
    [
        ("auc", auc),
        ("AUC", auc),
        ("val/auc", auc),
        ("logloss", log_loss),
        ("log_loss", log_loss),
        ("accuracy", accuracy),
        ("mse", mse),
        ("test/rmse", rmse),
    ],
)
def test_get_metric_whole_array(name: str, function) -> None:
    assert get_metric(name) is function


@pytest.mark.parametrize(
    ("name", "function", "k"),
    [
        ("recall@3", recall_at_k, 3),
        ("ndcg@1", ndcg_at_k, 1),
        ("hit@2", hit_rate_at_k, 2),
        ("hitrate@2", hit_rate_at_k, 2),
        ("val/mrr@5", mrr_at_k, 5),
    ],
)
def test_get_metric_ranking_binds_k(name: str, function, k: int) -> None:
    metric = get_metric(name)
    assert metric(SCORES, MASK) == function(SCORES, MASK, k)
    torch.testing.assert_close(metric(SCORES, SINGLE, reduction="none"), function(SCORES, SINGLE, k, "none"))


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("ndgc@10", "ndcg@10"),
        ("aucc", "auc"),
        ("val/rmsee", "rmse"),
        ("recall", "recall@K"),
    ],
)
def test_get_metric_unknown_name_suggests(name: str, suggestion: str) -> None:
    with pytest.raises(UnknownNameError) as info:
        get_metric(name)
    message = str(info.value)
    assert f"unknown metric {name!r}; did you mean {suggestion!r}?" in message
    assert "(available: accuracy, auc, hit@K, hitrate@K, log_loss, logloss" in message


def test_get_metric_rejects_k_zero() -> None:
    with pytest.raises(ConfigError, match="positive"):
        get_metric("ndcg@0")


@pytest.mark.parametrize(
    ("name", "higher"),
    [
        ("auc", True),
        ("val/auc", True),
        ("test/accuracy", True),
        ("val/ndcg@10", True),
        ("recall@20", True),
        ("hitrate@5", True),
        ("mrr@10", True),
        ("val/mrr", True),
        ("val/logloss", False),
        ("log_loss", False),
        ("val/mse", False),
        ("test/rmse", False),
        ("loss", False),
        ("train/loss", False),
        ("val/bce_loss", False),
        ("test/mae", False),
    ],
)
def test_is_higher_better(name: str, higher: bool) -> None:
    assert is_higher_better(name) is higher


def test_is_higher_better_unknown_name() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'auc'"):
        is_higher_better("val/acu")
    with pytest.raises(ConfigError, match="set mode='max' or mode='min'"):
        monitor_mode("val/acu")


def test_is_higher_better_default_only_for_unknown_names() -> None:
    assert is_higher_better("val/custom_score", default=True) is True
    assert is_higher_better("val/custom_score", default=False) is False
    assert is_higher_better("val/loss", default=True) is False
    assert is_higher_better("val/ndcg@10", default=False) is True
    assert monitor_mode("val/recall@20") == "max"
    assert monitor_mode("train/loss") == "min"


def test_get_metric_mrr_has_no_cut_off() -> None:
    scores = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.9]])
    assert get_metric("val/mrr")(scores, torch.tensor([0])) == pytest.approx(1 / 5)
    assert get_metric("mrr@4")(scores, torch.tensor([0])) == 0.0


def test_per_task_metric_names_go_the_way_of_their_metric() -> None:
    from rec_core.metrics.names import is_higher_better, monitor_mode

    assert is_higher_better("val/task_1_auc") and is_higher_better("val/click_recall@10")
    assert not is_higher_better("val/task_0_logloss") and not is_higher_better("test/task_2_mse")
    assert monitor_mode("val/income_auc") == "max"
    with pytest.raises(ConfigError, match="set mode="):
        monitor_mode("val/task_0_score")  # a score could be an AUC or an MSE: the trainer must say
