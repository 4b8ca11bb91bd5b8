"""``get_metric``: a metric function by name."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from rec_core.errors import ConfigError, UnknownNameError
from rec_core.metrics.classification import accuracy, auc, log_loss, mse, rmse
from rec_core.metrics.names import AT_K_METRICS, WHOLE_ARRAY_METRICS, base_name, unknown_metric_message
from rec_core.metrics.ranking import MetricResult, hit_rate_at_k, mrr_at_k, ndcg_at_k, recall_at_k

__all__ = ["get_metric"]

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
assert set(_WHOLE_ARRAY) == set(WHOLE_ARRAY_METRICS) and set(_AT_K) == set(AT_K_METRICS)  # one list of names


def get_metric(name: str) -> Callable[..., MetricResult]:
    """Look a metric function up by name.

    Args:
        name: A metric name such as ``"auc"``, ``"logloss"``, ``"ndcg@10"`` or ``"mrr"``;
            case and a ``split/`` prefix (``"val/auc"``) are ignored.

    Returns:
        The function; for ``"<metric>@K"`` names it has K bound, so it is called as
        ``fn(scores, targets, reduction="mean")``; ``"mrr"`` is MRR without a cut-off.

    Raises:
        UnknownNameError: If the name is unknown; the message suggests the closest name.
        ConfigError: If K is 0.

    Example:
        >>> import torch
        >>> recall_at_2 = get_metric("val/recall@2")
        >>> recall_at_2(torch.tensor([[0.9, 0.1, 0.5]]), torch.tensor([2]))
        1.0
    """
    base = base_name(name)
    if base in _WHOLE_ARRAY:
        return _WHOLE_ARRAY[base]
    if base == "mrr":
        return functools.partial(mrr_at_k, k=None)
    match = _AT_K_NAME.match(base)
    if match and match.group(1) in _AT_K:
        k = int(match.group(2))
        if k < 1:
            raise ConfigError(f"metric {name!r}: K must be a positive integer")
        return functools.partial(_AT_K[match.group(1)], k=k)
    # suggest with the caller's own K: 'ndgc@10' -> 'ndcg@10'
    suffix = base.partition("@")[2] if "@" in base else "K"
    candidates = [*_WHOLE_ARRAY, "mrr", *(f"{metric}@{suffix}" for metric in _AT_K)]
    available = [*_WHOLE_ARRAY, "mrr", *(f"{metric}@K" for metric in _AT_K)]
    raise UnknownNameError(unknown_metric_message(name, candidates, available))
