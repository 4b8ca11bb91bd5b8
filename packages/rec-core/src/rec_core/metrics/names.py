"""Metric names and the direction in which each improves; imports no torch.

The configuration (``TrainingConfig.resolved_mode``), the callbacks and ``rec runs``
ask this module whether a monitored metric should rise or fall, so reading a config or
a run folder never pulls in the tensor library.

Known names: ``auc``, ``accuracy``, ``recall@K``, ``ndcg@K``, ``hit@K`` / ``hitrate@K``,
``mrr@K`` and ``mrr`` improve upwards; ``logloss`` / ``log_loss``, ``mse``, ``rmse``,
``mae`` and any name ending in ``loss`` (``loss``, ``bce_loss``) improve downwards. A
per-task name ``<prefix>_<metric>`` (``task_1_auc``, ``click_mse``) goes the way of its
metric. Case and a ``split/`` prefix (``val/``, ``test/``) are ignored.

Example:
    >>> is_higher_better("val/ndcg@10"), is_higher_better("train/loss")
    (True, False)
    >>> monitor_mode("test/rmse")
    'min'
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from rec_core.errors import ConfigError, UnknownNameError

__all__ = [
    "AT_K_METRICS",
    "LOWER_IS_BETTER",
    "WHOLE_ARRAY_METRICS",
    "base_name",
    "is_higher_better",
    "is_known_metric",
    "monitor_mode",
    "ranking_metric_names",
    "unknown_metric_message",
]

WHOLE_ARRAY_METRICS = ("accuracy", "auc", "log_loss", "logloss", "mse", "rmse")
"""Whole-array metrics :func:`rec_core.metrics.get_metric` computes."""
AT_K_METRICS = ("hit", "hitrate", "mrr", "ndcg", "recall")
"""Metrics with a cut-off, written ``<metric>@K``."""
LOWER_IS_BETTER = frozenset({"log_loss", "logloss", "mse", "rmse", "mae"})
"""Names (besides ``*loss``) whose smaller values are better."""
_HIGHER_IS_BETTER = frozenset({"accuracy", "auc", "mrr"})
_AT_K_NAME = re.compile(r"^([a-z]+)@(\d+)$")
_RANKING_ORDER = ("recall", "ndcg", "hit", "mrr")


def base_name(name: str) -> str:
    """Return ``name`` lower-cased without its ``split/`` prefix (``"val/AUC"`` -> ``"auc"``)."""
    return name.rsplit("/", 1)[-1].strip().lower()


def ranking_metric_names(ks: Iterable[int]) -> list[str]:
    """Return the names full-ranking evaluation reports for cut-offs ``ks``.

    Example:
        >>> ranking_metric_names((5, 10))
        ['recall@5', 'recall@10', 'ndcg@5', 'ndcg@10', 'hit@5', 'hit@10', 'mrr@5', 'mrr@10', 'mrr']
    """
    ks = tuple(ks)
    return [f"{metric}@{k}" for metric in _RANKING_ORDER for k in ks] + ["mrr"]


def _known(base: str) -> bool:
    if base.endswith("loss") or base in LOWER_IS_BETTER or base in _HIGHER_IS_BETTER:
        return True
    match = _AT_K_NAME.match(base)
    return bool(match) and match.group(1) in AT_K_METRICS


def _metric_part(base: str) -> str | None:
    """Return the known metric ``base`` names: itself, or the known suffix of ``<prefix>_<metric>``.

    ``task_1_auc`` is an AUC and ``click_logloss`` a log loss (per-task metrics of multi-task
    training); ``task_0_score`` is not a known metric.
    """
    if _known(base):
        return base
    parts = base.split("_")
    for start in range(1, len(parts)):
        suffix = "_".join(parts[start:])
        if _known(suffix):
            return suffix
    return None


def is_known_metric(name: str) -> bool:
    """Return whether rec knows the direction of metric ``name`` (also ``<prefix>_<known metric>``)."""
    return _metric_part(base_name(name)) is not None


def is_higher_better(name: str, *, default: bool | None = None) -> bool:
    """Tell whether a larger value of metric ``name`` is an improvement.

    Args:
        name: A metric name, optionally prefixed (``"val/auc"``, ``"test/logloss"``).
        default: The answer for a name rec does not know; ``None`` makes it an error.

    Returns:
        True for auc, accuracy and the ranking metrics; False for losses and errors.

    Raises:
        UnknownNameError: If the name is unknown and no ``default`` is given.
    """
    metric = _metric_part(base_name(name))
    if metric is not None:
        return not (metric.endswith("loss") or metric in LOWER_IS_BETTER)
    if default is not None:
        return default
    raise UnknownNameError(unknown_metric_message(name))


def monitor_mode(name: str) -> str:
    """Return ``"max"`` or ``"min"``: the direction in which metric ``name`` improves.

    Raises:
        ConfigError: the name is not a known metric, so the caller must say ``mode=``.
    """
    try:
        return "max" if is_higher_better(name) else "min"
    except UnknownNameError:
        raise ConfigError(f"cannot tell whether {name!r} should rise or fall: set mode='max' or mode='min'") from None


def unknown_metric_message(
    name: str, candidates: Iterable[str] | None = None, available: Iterable[str] | None = None
) -> str:
    """Return the one-line "unknown metric" message, with the closest known name.

    Args:
        name: The name asked for.
        candidates: Names to suggest from; by default every known name, with the
            caller's own K for ``@K`` names (``"ndgc@10"`` suggests ``"ndcg@10"``).
        available: Names listed after the suggestion; by default the known names.
    """
    base = base_name(name)
    suffix = base.partition("@")[2] if "@" in base else "K"
    plain = sorted({*WHOLE_ARRAY_METRICS, *_HIGHER_IS_BETTER, *LOWER_IS_BETTER, "loss"})
    if candidates is None:
        candidates = [*plain, *(f"{metric}@{suffix}" for metric in AT_K_METRICS)]
    if available is None:
        available = [*plain, *(f"{metric}@K" for metric in AT_K_METRICS)]
    close = difflib.get_close_matches(base, list(candidates), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown metric {name!r}{hint} (available: {', '.join(sorted(available))})"
