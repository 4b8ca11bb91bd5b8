"""Ranking metrics: full ranking of a catalogue, top-K helpers and ranked candidate lists.

One core ranks the targets of every row at once (no Python loop over rows) and turns
their 1-based positions into Recall@K, NDCG@K, HitRate@K, MRR@K and MRR. Every public
function here is a thin wrapper over it:

* :func:`full_ranking` — users × items scores, one or several targets per row, known
  items excluded;
* :func:`ranked_list_metrics` — (rows, L) ranked item ids, e.g. from beam search;
* :func:`ranking_metrics` and :func:`recall_at_k` / :func:`ndcg_at_k` /
  :func:`hit_rate_at_k` / :func:`mrr_at_k` — the older top-K API (index or mask targets).

Conventions:

* **Ties count against the target.** The items of a row that are not excluded are sorted
  by score, descending; items with equal scores are ordered non-targets first. A target's
  rank is its 1-based position in that order. A model that scores every item alike ranks
  a single target last (rank = number of ranked items, MRR = 1 / that), never first, so
  a constant model cannot look good.
* **Excluded targets** (a target that is also in the row's ``exclude``) are never ranked:
  they are misses that still count in the row's number of targets.
* **Several targets** are a set: a repeated index counts once. Recall@K divides the hits
  in the top K by the number of targets (RecBole's convention); NDCG@K uses binary gains
  ``1 / log2(position + 1)`` over an ideal DCG of ``min(#targets, K)`` positions; MRR@K
  and MRR use the best-ranked target.
* ``K`` may exceed the number of items. Scores must not contain NaN.
* :func:`full_ranking` rejects rows without a target; the older :func:`ranking_metrics`
  scores such rows 0 on every metric and counts them in the mean.

Example:
    >>> scores = torch.tensor([[0.9, 0.5, 0.5, 0.1], [0.2, 0.2, 0.2, 0.2]])
    >>> full_ranking(scores, torch.tensor([1, 3]), ks=(2,))["mrr"]  # ranks 3 and 4
    0.29166666666666663
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

import torch

from rec_core.errors import ConfigError, DataError, UnknownNameError
from rec_core.metrics._item_lists import ItemLists
from rec_core.metrics.names import unknown_metric_message

__all__ = [
    "ItemLists",
    "full_ranking",
    "hit_rate_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "ranked_list_metrics",
    "ranking_metrics",
    "recall_at_k",
]

MetricResult: TypeAlias = "float | torch.Tensor"
Targets: TypeAlias = "torch.Tensor | Sequence[torch.Tensor] | ItemLists"

_RANKING = ("recall", "ndcg", "hit", "mrr")
_REDUCTIONS = ("mean", "none")
_GROUP = 255  # columns counted at once in uint8


# --------------------------------------------------------------------------- public API


def full_ranking(
    scores: torch.Tensor,
    targets: Targets,
    exclude: torch.Tensor | Sequence[torch.Tensor] | ItemLists | None = None,
    ks: Iterable[int] = (5, 10, 20),
    *,
    reduction: str = "mean",
) -> dict[str, MetricResult]:
    """Rank every item of each row and score the rows' targets (ties count against them).

    Args:
        scores: Float tensor (rows, items), higher is better.
        targets: A LongTensor (rows,) with one target item per row; or a list with one
            tensor of target items per row (several targets); or :class:`ItemLists`.
        exclude: Items never ranked (e.g. the user's training history): a bool mask
            shaped like ``scores`` (True = excluded), a list of per-row item tensors, or
            :class:`ItemLists`. An excluded target is a miss that still counts.
        ks: Cut-offs.
        reduction: ``"mean"`` for floats averaged over the rows; ``"none"`` for (rows,)
            float64 tensors, to accumulate over chunks.

    Returns:
        ``recall@k``, ``ndcg@k``, ``hit@k``, ``mrr@k`` for each k (in that order), then
        ``mrr`` (no cut-off). Means over zero rows are ``nan``.

    Raises:
        DataError: If the shapes disagree, an index lies outside the catalogue, a score
            is NaN, or a row has no target.
        ConfigError: If a k is not a positive integer or ``reduction`` is unknown.
    """
    ks = _check_ks(ks)
    _check_reduction(reduction)
    scores = _check_scores(scores)
    n_rows, n_items = scores.shape
    lists = ItemLists.coerce(targets, n_rows, what="targets")
    lists.check_range(n_items, what="targets")
    empty = lists.lengths == 0
    if bool(empty.any()):
        row = int(empty.nonzero()[0, 0])
        raise DataError(f"row {row} of targets has no target item; drop rows without targets before ranking")
    index, valid = lists.padded(scores.device)
    rows = _ranking_rows(scores, index, valid, _exclude_mask(exclude, scores), ks)
    return _reduce(rows, reduction)


def ranked_list_metrics(
    ranked: torch.Tensor, targets: Targets, ks: Iterable[int] = (5, 10, 20), *, reduction: str = "mean"
) -> dict[str, MetricResult]:
    """Score ranked candidate lists (e.g. generated by beam search) against the targets.

    A target's rank is the position of its first occurrence in the row's list; a target
    missing from the list is a miss, so ``mrr`` equals ``mrr@L`` for lists of length L.
    Negative ids (padding of a short list) match nothing.

    Args:
        ranked: LongTensor (rows, L) of item ids, best first.
        targets: As in :func:`full_ranking` (one per row, a list per row, or ItemLists).
        ks: Cut-offs; a k above L counts the whole list.
        reduction: ``"mean"`` or ``"none"`` as in :func:`full_ranking`.

    Returns:
        The same names as :func:`full_ranking`.

    Raises:
        DataError: If the shapes disagree, an id is not an integer, a target is negative
            or a row has no target.
        ConfigError: If a k is not a positive integer or ``reduction`` is unknown.
    """
    ks = _check_ks(ks)
    _check_reduction(reduction)
    ranked = torch.as_tensor(ranked)
    if ranked.ndim != 2 or ranked.dtype == torch.bool or ranked.is_floating_point():
        shape = tuple(ranked.shape)
        raise DataError(f"ranked must be a (rows, L) integer tensor of item ids, got {ranked.dtype} {shape}")
    lists = ItemLists.coerce(targets, ranked.shape[0], what="targets")
    if bool((lists.items < 0).any()):
        raise DataError(f"targets hold a negative item id ({int(lists.items.min())}); item ids start at 0")
    empty = lists.lengths == 0
    if bool(empty.any()):
        row = int(empty.nonzero()[0, 0])
        raise DataError(f"row {row} of targets has no target item; drop rows without targets before ranking")
    index, valid = lists.padded(ranked.device)
    return _reduce(_list_rows(ranked.long(), index, valid, ks), reduction)


def ranking_metrics(
    scores: torch.Tensor,
    targets: torch.Tensor,
    ks: Iterable[int] = (10,),
    metrics: Iterable[str] = _RANKING,
    reduction: str = "mean",
) -> dict[str, MetricResult]:
    """Compute several top-K metrics at once (the full-ranking rule, nothing excluded).

    Args:
        scores: Float tensor (B, N) of item scores, higher is better.
        targets: LongTensor (B,) with the one relevant item per row (leave-one-out),
            or a bool / 0-1 tensor (B, N) marking the relevant items (non-zero is
            relevant); rows without a relevant item score 0 and count in the mean.
        ks: Cut-offs.
        metrics: Any of ``"recall"``, ``"ndcg"``, ``"hit"``, ``"mrr"``.
        reduction: ``"mean"`` for floats, ``"none"`` for (B,) float32 tensors.

    Returns:
        A dict keyed ``"<metric>@<k>"``, metrics in the given order, then each k.
        The mean over an empty batch is ``nan``.

    Raises:
        DataError: If the shapes, dtypes or target indices are invalid.
        ConfigError: If a k is not positive or ``reduction`` is unknown.
        UnknownNameError: If a metric name is unknown.
    """
    ks, metrics = _check_ks(ks), tuple(metrics)
    _check_reduction(reduction)
    for name in metrics:
        if name not in _RANKING:
            raise UnknownNameError(unknown_metric_message(name, _RANKING, _RANKING))
    rows = _legacy_rows(scores, targets, ks)
    return _legacy_reduce({f"{name}@{k}": rows[f"{name}@{k}"] for name in metrics for k in ks}, reduction)


def recall_at_k(scores: torch.Tensor, targets: torch.Tensor, k: int, reduction: str = "mean") -> MetricResult:
    """Compute Recall@K = |targets ∩ top-K| / |targets| (rows without targets score 0)."""
    return ranking_metrics(scores, targets, (k,), ("recall",), reduction)[f"recall@{k}"]


def ndcg_at_k(scores: torch.Tensor, targets: torch.Tensor, k: int, reduction: str = "mean") -> MetricResult:
    """Compute NDCG@K with binary gains and ideal DCG over min(|targets|, K) items."""
    return ranking_metrics(scores, targets, (k,), ("ndcg",), reduction)[f"ndcg@{k}"]


def hit_rate_at_k(scores: torch.Tensor, targets: torch.Tensor, k: int, reduction: str = "mean") -> MetricResult:
    """Compute HitRate@K: 1 if any target is in the top K, else 0."""
    return ranking_metrics(scores, targets, (k,), ("hit",), reduction)[f"hit@{k}"]


def mrr_at_k(scores: torch.Tensor, targets: torch.Tensor, k: int | None, reduction: str = "mean") -> MetricResult:
    """Compute MRR@K: 1 / rank of the best-ranked target if within the top K, else 0.

    ``k=None`` means no cut-off (plain MRR).
    """
    if k is None:
        _check_reduction(reduction)
        return _legacy_reduce({"mrr": _legacy_rows(scores, targets, (1,))["mrr"]}, reduction)["mrr"]
    return ranking_metrics(scores, targets, (k,), ("mrr",), reduction)[f"mrr@{k}"]


# ----------------------------------------------------------------------------- the core


def _ranking_rows(
    scores: torch.Tensor,
    index: torch.Tensor,
    valid: torch.Tensor,
    exclude: torch.Tensor | None,
    ks: tuple[int, ...],
) -> dict[str, torch.Tensor]:
    """Return per-row (float64) full-ranking metrics; the inputs are already validated.

    Args:
        scores: (B, N) scores without NaN.
        index: (B, T) target item indices in ``[0, N)`` where ``valid``.
        valid: (B, T) bool, which entries of ``index`` are real targets.
        exclude: (B, N) bool mask of items never ranked, or ``None``.
        ks: Positive cut-offs.

    Memory: two (B, N) bool masks besides the inputs (about 2 bytes per score). Time: one
    pass over the scores per target among each row's best ``max(ks)``, since a target
    behind ``i`` better-scored targets can only reach position ``i + 1`` or worse.
    """
    index, valid = _dedupe(index, valid)
    n_targets = valid.sum(dim=1)
    safe = torch.where(valid, index, 0)
    ranked = valid if exclude is None else valid & ~exclude.gather(1, safe)
    target_scores = scores.gather(1, safe)
    # best score first, then targets that are ranked before excluded/padding ones
    order = target_scores.argsort(dim=1, descending=True, stable=True)
    order = order.gather(1, ranked.gather(1, order).to(torch.uint8).argsort(dim=1, descending=True, stable=True))
    order = order[:, : max(ks)]
    best_scores, best_ranked = target_scores.gather(1, order), ranked.gather(1, order)

    others = torch.ones_like(scores, dtype=torch.bool) if exclude is None else ~exclude
    rows, cols = valid.nonzero(as_tuple=True)
    others[rows, index[rows, cols]] = False  # ranked non-targets: what ties count against
    n_rows, n_items = scores.shape
    groups = -(-n_items // _GROUP)
    padded = torch.zeros((n_rows, groups * _GROUP), dtype=torch.bool, device=scores.device)
    ahead_mask = padded[:, :n_items]
    positions = torch.full(order.shape, math.inf, dtype=torch.float64, device=scores.device)
    for i in range(order.shape[1]):
        torch.ge(scores, best_scores[:, i : i + 1], out=ahead_mask)
        ahead_mask &= others
        # Count in uint8 per group of 255 columns: summing bools directly would first copy
        # them to int64 (8 bytes per score) and take ten times longer.
        counts = padded.view(torch.uint8).view(n_rows, groups, _GROUP).sum(dim=2, dtype=torch.uint8)
        ahead = counts.sum(dim=1, dtype=torch.float64)
        positions[:, i] = torch.where(best_ranked[:, i], ahead + (i + 1), math.inf)
    return _from_positions(positions, n_targets, ks)


def _list_rows(
    ranked: torch.Tensor, index: torch.Tensor, valid: torch.Tensor, ks: tuple[int, ...]
) -> dict[str, torch.Tensor]:
    """Return per-row (float64) metrics of ranked lists (B, L) against padded targets (B, T)."""
    index, valid = _dedupe(index, valid)
    positions = torch.full(ranked.shape, math.inf, dtype=torch.float64, device=ranked.device)
    for slot in range(ranked.shape[1]):  # L is a cut-off (tens), not the catalogue
        item = ranked[:, slot : slot + 1]
        hit = ((index == item) & valid).any(dim=1)
        if slot:
            hit &= ~(ranked[:, :slot] == item).any(dim=1)  # a repeated id is not a second hit
        positions[:, slot] = torch.where(hit, float(slot + 1), math.inf)
    return _from_positions(positions, valid.sum(dim=1), ks)


def _from_positions(positions: torch.Tensor, n_targets: torch.Tensor, ks: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """Turn target positions (B, P; inf = not ranked) into the metrics of :func:`full_ranking`."""
    device = positions.device
    first = positions.min(dim=1).values
    gains = 1.0 / torch.log2(positions + 1.0)  # 0 for inf
    discounts = 1.0 / torch.log2(torch.arange(2, max(ks) + 2, device=device, dtype=torch.float64))
    ideal = torch.cat([torch.zeros(1, dtype=torch.float64, device=device), discounts.cumsum(0)])
    count = n_targets.to(torch.float64).clamp(min=1.0)
    columns: dict[str, dict[str, torch.Tensor]] = {name: {} for name in _RANKING}
    for k in ks:
        inside = positions <= k
        found = inside.sum(dim=1, dtype=torch.float64)
        ideal_dcg = ideal[n_targets.clamp(max=k)]
        dcg = torch.where(inside, gains, 0.0).sum(dim=1)
        columns["recall"][f"recall@{k}"] = found / count
        columns["ndcg"][f"ndcg@{k}"] = torch.where(ideal_dcg > 0, dcg / ideal_dcg.clamp(min=1e-12), 0.0)
        columns["hit"][f"hit@{k}"] = (found > 0).to(torch.float64)
        columns["mrr"][f"mrr@{k}"] = torch.where(first <= k, 1.0 / first, 0.0)
    out = {key: value for name in _RANKING for key, value in columns[name].items()}
    out["mrr"] = 1.0 / first  # 0 when no target was ranked
    return out


# -------------------------------------------------------------------------- validation


def _legacy_rows(scores: torch.Tensor, targets: torch.Tensor, ks: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """Per-row metrics for :func:`ranking_metrics`' two target forms (index or relevance mask)."""
    scores, targets = _check_scores(scores), torch.as_tensor(targets)
    batch, n_items = scores.shape
    if targets.ndim == 2:
        if targets.shape != scores.shape:
            shape = tuple(targets.shape)
            raise DataError(f"relevance mask has shape {shape} but scores have shape {tuple(scores.shape)}")
        rows, cols = (targets != 0).nonzero(as_tuple=True)
        lengths = torch.bincount(rows, minlength=batch).cpu()
        lists = ItemLists(torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)]), cols.cpu())
    elif targets.ndim == 1:
        if len(targets) != batch:
            raise DataError(f"scores have {batch} rows but targets has {len(targets)}")
        if targets.dtype.is_floating_point or targets.dtype == torch.bool:
            raise DataError(f"1-D targets must be integer item ids, got {targets.dtype}")
        if batch and (targets.min() < 0 or targets.max() >= n_items):
            raise DataError(f"target item indices must lie in [0, {n_items})")
        lists = ItemLists.from_column(targets)
    else:
        raise DataError(f"targets must be (B,) or (B, N), got {tuple(targets.shape)}")
    index, valid = lists.padded(scores.device)
    return _ranking_rows(scores, index, valid, None, ks)


def _check_scores(scores: Any) -> torch.Tensor:
    scores = torch.as_tensor(scores)
    if scores.ndim != 2 or scores.shape[1] == 0:
        raise DataError(f"scores must be a (batch, items) matrix, got shape {tuple(scores.shape)}")
    if scores.dtype == torch.bool or scores.is_complex():
        raise DataError(f"scores must be real numbers, got {scores.dtype}")
    if scores.is_floating_point() and scores.numel():
        nan_rows = scores.amax(dim=1).isnan()  # max propagates NaN: no (rows, items) temporary
        if bool(nan_rows.any()):
            raise DataError(f"scores contain NaN (first in row {int(nan_rows.nonzero()[0, 0])})")
    return scores


def _exclude_mask(exclude: Any, scores: torch.Tensor) -> torch.Tensor | None:
    if exclude is None:
        return None
    if isinstance(exclude, torch.Tensor) and exclude.ndim == 2:
        if exclude.dtype != torch.bool:
            raise DataError(f"exclude mask must be a bool tensor (True = never ranked), got {exclude.dtype}")
        if exclude.shape != scores.shape:
            raise DataError(f"exclude mask has shape {tuple(exclude.shape)} but scores have {tuple(scores.shape)}")
        return exclude.to(scores.device)
    lists = ItemLists.coerce(exclude, scores.shape[0], what="exclude")
    lists.check_range(scores.shape[1], what="exclude")
    return lists.mask(scores.shape[1], scores.device)


def _dedupe(index: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort each row's targets and drop repeats, so several targets behave as a set."""
    if index.shape[1] < 2:
        return index, valid
    keyed = torch.where(valid, index, torch.iinfo(torch.long).max)
    keyed, _ = keyed.sort(dim=1)
    valid = keyed != torch.iinfo(torch.long).max
    valid[:, 1:] &= keyed[:, 1:] != keyed[:, :-1]
    return torch.where(valid, keyed, 0), valid


def _check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    ks = tuple(ks)
    if not ks or not all(type(k) is int and k > 0 for k in ks):
        raise ConfigError(f"ks must be positive integers, got {ks!r}")
    return ks


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ConfigError(f"unknown reduction {reduction!r} (available: mean, none)")


def _legacy_reduce(rows: dict[str, torch.Tensor], reduction: str) -> dict[str, MetricResult]:
    """Reduce like :func:`_reduce`, but per-row values in float32 (the older API's dtype)."""
    if reduction == "none":
        return {key: value.float() for key, value in rows.items()}
    return _reduce(rows, reduction)


def _reduce(rows: dict[str, torch.Tensor], reduction: str) -> dict[str, MetricResult]:
    if reduction == "none":
        return dict(rows)
    return {key: float(value.mean()) if value.numel() else math.nan for key, value in rows.items()}
