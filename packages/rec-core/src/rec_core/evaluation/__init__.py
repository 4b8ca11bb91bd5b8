"""Pluggable evaluators: how a trainer turns a model and evaluation data into metrics.

* :class:`BatchEvaluator` — the default: ``validation_step`` outputs over every batch and
  rank, then ``compute_metrics`` (CTR's AUC and log loss, the loss);
* :class:`RetrievalEvaluator` — full ranking of the catalogue for :class:`RetrievalQueries`,
  in chunks, known items excluded, ties counted against the target (match, seq);
* :class:`GenerativeEvaluator` — ranked lists from ``trainer.generate`` (TIGER).

A trainer picks one by overriding ``configure_evaluator()``; see :class:`Evaluator`.
"""

from __future__ import annotations

from rec_core.evaluation.base import Evaluator, evaluation_mode
from rec_core.evaluation.batch import BatchEvaluator
from rec_core.evaluation.generative import GenerativeEvaluator
from rec_core.evaluation.queries import RetrievalQueries
from rec_core.evaluation.retrieval import RetrievalEvaluator, RetrievalResult
from rec_core.metrics._item_lists import ItemLists

__all__ = [
    "BatchEvaluator",
    "Evaluator",
    "GenerativeEvaluator",
    "ItemLists",
    "RetrievalEvaluator",
    "RetrievalQueries",
    "RetrievalResult",
    "evaluation_mode",
]
