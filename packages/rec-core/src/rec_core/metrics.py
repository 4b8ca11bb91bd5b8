"""Evaluation metrics shared by every trainer.

Two families live here:

* whole-array binary and regression metrics (:func:`auc`, :func:`log_loss`,
  :func:`accuracy`, :func:`mse`, :func:`rmse`) that accept torch tensors, numpy arrays
  or lists and return a Python ``float``;
* top-K ranking metrics (:func:`recall_at_k`, :func:`ndcg_at_k`, :func:`hit_rate_at_k`,
  :func:`mrr_at_k`, or all at once with :func:`ranking_metrics`) computed on a batch of
  score rows without a Python loop over the rows.

Ranking conventions (all four metrics and both target forms follow them):

* **Ties** are broken in favour of relevant items: an item's rank is one plus the number
  of items with a strictly higher score plus the number of relevant items tied with it
  that are placed before it. With a single relevant item this is the usual
  ``rank = 1 + #(items scoring strictly higher)``. The result never depends on the order
  in which ``torch.topk`` returns tied items, and the index form and its one-hot mask
  give identical values.
* **Rows without a relevant item** score 0 on every metric and still count in the mean;
  drop such rows beforehand if they should not count.
* ``k`` larger than the number of items is treated as the number of items.
* Scores must not contain NaN (the ranking of a NaN is undefined).

Metric names understood by :func:`get_metric` and :func:`is_higher_better`: ``auc``,
``logloss`` / ``log_loss``, ``accuracy``, ``mse``, ``rmse``, ``recall@K``, ``ndcg@K``,
``hit@K`` / ``hitrate@K``, ``mrr@K``; a ``split/`` prefix such as ``val/`` is ignored.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeAlias

import numpy as np
import torch

from rec_core.errors import ConfigError, DataError, UnknownNameError

__all__ = [
    "accuracy",
    "auc",
    "get_metric",
    "hit_rate_at_k",
    "is_higher_better",
    "log_loss",
    "monitor_mode",
    "mrr_at_k",
    "mse",
    "ndcg_at_k",
    "ranking_metrics",
    "recall_at_k",
    "rmse",
]

ArrayLike: TypeAlias = "torch.Tensor | np.ndarray | Sequence[float]"
MetricResult: TypeAlias = "float | torch.Tensor"

_RANKING = ("recall", "ndcg", "hit", "mrr")
_REDUCTIONS = ("mean", "none")


# --------------------------------------------------------------------- whole arrays


def _to_numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        # float64 first: numpy has no bfloat16, and the sums below need the precision
        return x.detach().to(device="cpu", dtype=torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _vector(x: ArrayLike, name: str) -> np.ndarray:
    array = _to_numpy(x)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DataError(f"{name} must be 1-D or (N, 1), got shape {tuple(array.shape)}")
    return array


def _check_pair(y_true: np.ndarray, y_pred: np.ndarray, pred_name: str) -> None:
    if len(y_true) != len(y_pred):
        raise DataError(f"y_true has {len(y_true)} rows but {pred_name} has {len(y_pred)}")
    if len(y_true) == 0:
        raise DataError("cannot compute a metric on empty arrays")


def _check_binary(y_true: np.ndarray) -> None:
    bad = (y_true != 0) & (y_true != 1)
    if bad.any():
        raise DataError(f"y_true must hold binary labels 0/1, found {y_true[bad][0]!r}")


def auc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Compute the exact area under the ROC curve of binary labels.

    Tied scores get their average rank, which gives the same value as
    ``sklearn.metrics.roc_auc_score``. Runs in O(N log N) and is vectorised.

    Args:
        y_true: Binary labels (0/1 or bool), shape (N,) or (N, 1).
        y_score: Scores or probabilities, higher meaning more likely positive.

    Returns:
        The ROC-AUC, or ``nan`` (without a warning) when only one class is present or a
        score is NaN.

    Raises:
        DataError: If the lengths differ, the input is empty or a label is not 0/1.
    """
    y, s = _vector(y_true, "y_true"), _vector(y_score, "y_score")
    _check_pair(y, s, "y_score")
    _check_binary(y)
    n_pos = float(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0 or np.isnan(s).any():
        return float("nan")
    order = np.argsort(s, kind="stable")
    s_sorted = s[order]
    starts_group = np.empty(len(s), dtype=bool)
    starts_group[0] = True
    np.not_equal(s_sorted[1:], s_sorted[:-1], out=starts_group[1:])
    starts = np.flatnonzero(starts_group)
    ends = np.append(starts[1:], len(s))
    # ranks start..end-1 (0-based) share the 1-based average rank (start + end + 1) / 2
    average_rank = (starts + ends + 1) / 2.0
    ranks = average_rank[np.cumsum(starts_group) - 1]
    positive_rank_sum = float(ranks[y[order] == 1].sum())
    return (positive_rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def log_loss(y_true: ArrayLike, y_prob: ArrayLike, eps: float = 1e-7) -> float:
    """Compute the mean binary cross-entropy of predicted probabilities.

    Args:
        y_true: Binary labels (0/1 or bool).
        y_prob: Predicted probabilities of the positive class; clipped to
            ``[eps, 1 - eps]`` so a confident mistake costs ``-log(eps)``, not infinity.
        eps: Clipping bound.

    Returns:
        The mean negative log-likelihood (natural log).

    Raises:
        DataError: If the lengths differ, the input is empty or a label is not 0/1.
    """
    y, p = _vector(y_true, "y_true"), _vector(y_prob, "y_prob")
    _check_pair(y, p, "y_prob")
    _check_binary(y)
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def accuracy(y_true: ArrayLike, y_pred: ArrayLike, threshold: float = 0.5) -> float:
    """Compute the fraction of correct predictions.

    Args:
        y_true: Binary labels, or class indices when ``y_pred`` is (N, C).
        y_pred: Probabilities of the positive class, shape (N,) or (N, 1), predicted
            positive when strictly greater than ``threshold``; or (N, C) class scores,
            whose argmax is the predicted class.
        threshold: Decision threshold for binary predictions.

    Returns:
        The accuracy in [0, 1].

    Raises:
        DataError: If the lengths differ, the input is empty, the shapes are not
            supported or a binary label is not 0/1.
    """
    y, p = _vector(y_true, "y_true"), _to_numpy(y_pred)
    if p.ndim == 2 and p.shape[1] > 1:
        _check_pair(y, p, "y_pred")
        return float(np.mean(p.argmax(axis=1) == y))
    p = _vector(p, "y_pred")
    _check_pair(y, p, "y_pred")
    _check_binary(y)
    return float(np.mean((p > threshold) == (y == 1)))


def mse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Compute the mean squared error.

    Raises:
        DataError: If the lengths differ or the input is empty.
    """
    y, p = _vector(y_true, "y_true"), _vector(y_pred, "y_pred")
    _check_pair(y, p, "y_pred")
    return float(np.mean(np.square(y - p)))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Compute the root mean squared error.

    Raises:
        DataError: If the lengths differ or the input is empty.
    """
    return math.sqrt(mse(y_true, y_pred))


# --------------------------------------------------------------------------- top-K


def _relevance_at_ranks(scores: torch.Tensor, targets: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``hits`` (B, k), True where rank i+1 is relevant, and ``n_rel`` (B,)."""
    positions = torch.arange(k, device=scores.device)
    if targets.ndim == 1:
        target_scores = scores.gather(1, targets[:, None])
        rank0 = (scores > target_scores).sum(dim=1)
        return positions == rank0[:, None], torch.ones_like(rank0)
    mask = targets != 0
    values, index = scores.topk(k, dim=1)
    relevant = mask.gather(1, index)
    # Within each run of equal values put the relevant items first; the run at the
    # boundary may continue past position k, so count its relevant items over the row.
    new_run = torch.ones_like(relevant)
    new_run[:, 1:] = values[:, 1:] != values[:, :-1]
    run = new_run.long().cumsum(dim=1) - 1
    run_start = torch.where(new_run, positions, 0).cummax(dim=1).values
    in_run = torch.zeros_like(run).scatter_add_(1, run, relevant.long()).gather(1, run)
    boundary = values[:, -1:]
    at_boundary = (mask & (scores == boundary)).sum(dim=1, keepdim=True)
    in_run = torch.where(values == boundary, at_boundary, in_run)
    return positions - run_start < in_run, mask.sum(dim=1)


def _check_ranking_inputs(scores: torch.Tensor, targets: torch.Tensor) -> None:
    if scores.ndim != 2 or scores.shape[1] == 0:
        shape = tuple(scores.shape)
        raise DataError(f"scores must be a (batch, items) matrix, got shape {shape}")
    batch, n_items = scores.shape
    if targets.ndim == 2:
        if targets.shape != scores.shape:
            raise DataError(
                f"relevance mask has shape {tuple(targets.shape)} but scores have shape {tuple(scores.shape)}"
            )
        return
    if targets.ndim != 1:
        raise DataError(f"targets must be (B,) or (B, N), got {tuple(targets.shape)}")
    if len(targets) != batch:
        raise DataError(f"scores have {batch} rows but targets has {len(targets)}")
    if targets.dtype.is_floating_point or targets.dtype == torch.bool:
        raise DataError(f"1-D targets must be integer item ids, got {targets.dtype}")
    if batch and (targets.min() < 0 or targets.max() >= n_items):
        raise DataError(f"target item indices must lie in [0, {n_items})")


def ranking_metrics(
    scores: torch.Tensor,
    targets: torch.Tensor,
    ks: Iterable[int] = (10,),
    metrics: Iterable[str] = _RANKING,
    reduction: str = "mean",
) -> dict[str, MetricResult]:
    """Compute several top-K metrics with a single ``topk`` call.

    Args:
        scores: Float tensor (B, N) of item scores, higher is better.
        targets: LongTensor (B,) with the one relevant item per row (leave-one-out),
            or a bool / 0-1 tensor (B, N) marking the relevant items (non-zero is
            relevant).
        ks: Cut-offs.
        metrics: Any of ``"recall"``, ``"ndcg"``, ``"hit"``, ``"mrr"``.
        reduction: ``"mean"`` for floats, ``"none"`` for (B,) float tensors to
            accumulate over chunks.

    Returns:
        A dict keyed ``"<metric>@<k>"``, metrics in the given order, then each k.
        The mean over an empty batch is ``nan``.

    Raises:
        DataError: If the shapes, dtypes or target indices are invalid.
        ConfigError: If a k is not positive or ``reduction`` is unknown.
        UnknownNameError: If a metric name is unknown.
    """
    ks, metrics = tuple(ks), tuple(metrics)
    if reduction not in _REDUCTIONS:
        raise ConfigError(f"unknown reduction {reduction!r} (available: mean, none)")
    if not ks or not all(type(k) is int and k > 0 for k in ks):
        raise ConfigError(f"ks must be positive integers, got {ks!r}")
    for name in metrics:
        if name not in _RANKING:
            raise UnknownNameError(_unknown_message(name, _RANKING, _RANKING))
    scores, targets = torch.as_tensor(scores), torch.as_tensor(targets)
    _check_ranking_inputs(scores, targets)
    top = min(max(ks), scores.shape[1])
    hits, n_rel = _relevance_at_ranks(scores, targets.to(scores.device), top)

    hits = hits.float()
    cum_hits = hits.cumsum(dim=1)
    discount = 1.0 / torch.log2(torch.arange(2, top + 2, device=hits.device).float())
    dcg = (hits * discount).cumsum(dim=1)
    ideal_dcg = discount.cumsum(dim=0)
    first_hit = torch.where(hits.any(dim=1), hits.argmax(dim=1) + 1, top + 1).float()

    rows: dict[str, torch.Tensor] = {}
    for name in metrics:
        for k in ks:
            cut = min(k, top)
            found = cum_hits[:, cut - 1]
            if name == "recall":
                value = found / n_rel.clamp(min=1)
            elif name == "hit":
                value = (found > 0).float()
            elif name == "ndcg":
                value = dcg[:, cut - 1] / ideal_dcg[n_rel.clamp(1, cut) - 1]
            else:
                value = torch.where(first_hit <= cut, 1.0 / first_hit, 0.0)
            rows[f"{name}@{k}"] = value
    if reduction == "none":
        return dict(rows)
    return {key: float(value.mean()) for key, value in rows.items()}


def recall_at_k(scores: torch.Tensor, targets: torch.Tensor, k: int, reduction: str = "mean") -> MetricResult:
    """Compute Recall@K = |relevant ∩ top-K| / |relevant| (rows with none score 0)."""
    return ranking_metrics(scores, targets, (k,), ("recall",), reduction)[f"recall@{k}"]


def ndcg_at_k(scores: torch.Tensor, targets: torch.Tensor, k: int, reduction: str = "mean") -> MetricResult:
    """Compute NDCG@K with binary gains and ideal DCG over min(|relevant|, K) items."""
    return ranking_metrics(scores, targets, (k,), ("ndcg",), reduction)[f"ndcg@{k}"]


def hit_rate_at_k(scores: torch.Tensor, targets: torch.Tensor, k: int, reduction: str = "mean") -> MetricResult:
    """Compute HitRate@K: 1 if any relevant item is in the top K, else 0."""
    return ranking_metrics(scores, targets, (k,), ("hit",), reduction)[f"hit@{k}"]


def mrr_at_k(scores: torch.Tensor, targets: torch.Tensor, k: int, reduction: str = "mean") -> MetricResult:
    """Compute MRR@K: 1 / rank of the first relevant item within the top K, else 0."""
    return ranking_metrics(scores, targets, (k,), ("mrr",), reduction)[f"mrr@{k}"]


# -------------------------------------------------------------------------- lookup

_WHOLE_ARRAY: dict[str, Callable[..., float]] = {
    "accuracy": accuracy,
    "auc": auc,
    "log_loss": log_loss,
    "logloss": log_loss,
    "mse": mse,
    "rmse": rmse,
}
_AT_K: dict[str, Callable[..., MetricResult]] = {
    "hit": hit_rate_at_k,
    "hitrate": hit_rate_at_k,
    "mrr": mrr_at_k,
    "ndcg": ndcg_at_k,
    "recall": recall_at_k,
}
_AT_K_NAME = re.compile(r"^([a-z]+)@(\d+)$")


def _unknown_message(name: str, candidates: Iterable[str], available: Iterable[str]) -> str:
    close = difflib.get_close_matches(_base_name(name), list(candidates), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown metric {name!r}{hint} (available: {', '.join(sorted(available))})"


def _base_name(name: str) -> str:
    return name.rsplit("/", 1)[-1].strip().lower()


def get_metric(name: str) -> Callable[..., MetricResult]:
    """Look a metric function up by name.

    Args:
        name: A metric name such as ``"auc"``, ``"logloss"`` or ``"ndcg@10"``; case
            and a ``split/`` prefix (``"val/auc"``) are ignored.

    Returns:
        The function; for ``"<metric>@K"`` names it has K bound, so it is called as
        ``fn(scores, targets, reduction="mean")``.

    Raises:
        UnknownNameError: If the name is unknown; the message suggests the closest name.
        ConfigError: If K is 0.

    Example:
        >>> recall_at_2 = get_metric("val/recall@2")
        >>> recall_at_2(torch.tensor([[0.9, 0.1, 0.5]]), torch.tensor([2]))
        1.0
    """
    base = _base_name(name)
    if base in _WHOLE_ARRAY:
        return _WHOLE_ARRAY[base]
    match = _AT_K_NAME.match(base)
    if match and match.group(1) in _AT_K:
        k = int(match.group(2))
        if k < 1:
            raise ConfigError(f"metric {name!r}: K must be a positive integer")
        return functools.partial(_AT_K[match.group(1)], k=k)
    # suggest with the caller's own K: 'ndgc@10' -> 'ndcg@10'
    suffix = base.partition("@")[2] if "@" in base else "K"
    candidates = [*_WHOLE_ARRAY, *(f"{metric}@{suffix}" for metric in _AT_K)]
    available = [*_WHOLE_ARRAY, *(f"{metric}@K" for metric in _AT_K)]
    raise UnknownNameError(_unknown_message(name, candidates, available))


def is_higher_better(name: str) -> bool:
    """Tell whether a larger value of a monitored metric is an improvement.

    Args:
        name: A metric name, optionally prefixed (``"val/auc"``, ``"test/logloss"``);
            any name ending in ``loss`` counts as a loss.

    Returns:
        True for auc, accuracy and the ranking metrics; False for losses and errors.

    Raises:
        UnknownNameError: If the name is not a known metric.
    """
    base = _base_name(name)
    if base.endswith("loss") or base in ("mse", "rmse"):
        return False
    get_metric(name)  # raises for an unknown name
    return True


def monitor_mode(name: str) -> str:
    """Return ``"max"`` or ``"min"``: the direction in which metric ``name`` improves.

    Raises:
        ConfigError: the name is not a known metric, so the caller must say ``mode=``.
    """
    try:
        return "max" if is_higher_better(name) else "min"
    except UnknownNameError:
        raise ConfigError(
            f"cannot tell whether {name!r} should rise or fall: set mode='max' or mode='min'"
        ) from None
