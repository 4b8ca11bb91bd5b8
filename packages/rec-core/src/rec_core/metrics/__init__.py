"""Evaluation metrics shared by every trainer.

* :mod:`rec_core.metrics.classification` — whole-array metrics (:func:`auc`,
  :func:`log_loss`, :func:`accuracy`, :func:`mse`, :func:`rmse`) returning a ``float``;
* :mod:`rec_core.metrics.ranking` — :func:`full_ranking` (users × items scores, history
  excluded, one or several targets), :func:`ranked_list_metrics` (generated lists) and
  the top-K helpers (:func:`ranking_metrics`, :func:`recall_at_k`, …). Ties count against
  the target: a model that scores every item alike ranks it last, never first;
* :mod:`rec_core.metrics.names` — metric names and their directions
  (:func:`is_higher_better`, :func:`monitor_mode`), without importing torch.

Names are resolved on first access, so ``import rec_core.metrics.names`` (the config and
``rec runs`` do) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rec_core.metrics._item_lists import ItemLists
    from rec_core.metrics._lookup import get_metric
    from rec_core.metrics.classification import accuracy, auc, log_loss, mse, rmse
    from rec_core.metrics.names import is_higher_better, monitor_mode, ranking_metric_names
    from rec_core.metrics.ranking import (
        full_ranking,
        hit_rate_at_k,
        mrr_at_k,
        ndcg_at_k,
        ranked_list_metrics,
        ranking_metrics,
        recall_at_k,
    )

__all__ = [
    "ItemLists",
    "accuracy",
    "auc",
    "full_ranking",
    "get_metric",
    "hit_rate_at_k",
    "is_higher_better",
    "log_loss",
    "monitor_mode",
    "mrr_at_k",
    "mse",
    "ndcg_at_k",
    "ranked_list_metrics",
    "ranking_metric_names",
    "ranking_metrics",
    "recall_at_k",
    "rmse",
]

_LAZY = {
    "ItemLists": "_item_lists",
    "accuracy": "classification",
    "auc": "classification",
    "full_ranking": "ranking",
    "get_metric": "_lookup",
    "hit_rate_at_k": "ranking",
    "is_higher_better": "names",
    "log_loss": "classification",
    "monitor_mode": "names",
    "mrr_at_k": "ranking",
    "mse": "classification",
    "ndcg_at_k": "ranking",
    "ranked_list_metrics": "ranking",
    "ranking_metric_names": "names",
    "ranking_metrics": "ranking",
    "recall_at_k": "ranking",
    "rmse": "classification",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
