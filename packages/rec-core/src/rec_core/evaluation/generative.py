"""``GenerativeEvaluator``: metrics of ranked lists a trainer generates (e.g. beam search).

The trainer contract (a generative retrieval trainer such as TIGER implements it):

* ``generate(batch, k) -> Tensor`` — the (B, k) LongTensor of item ids the model ranks
  best for each row of ``batch``, best first (``-1`` pads a row with fewer results);
  run under the trainer's autocast. Use ``self.model``, not the DDP wrapper.
* ``generation_targets(batch)`` — the rows' target items: a LongTensor (B,) or a list of
  per-row tensors (several targets), as :func:`rec_core.metrics.ranked_list_metrics` takes.

A target's rank is its position in the generated list; one missing from the list is a
miss, so ``mrr`` is MRR within the ``max(ks)`` generated items.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch

from rec_core.errors import ConfigError, DataError
from rec_core.evaluation.base import Evaluator, evaluation_batches, require_methods
from rec_core.metrics.names import ranking_metric_names
from rec_core.metrics.ranking import _check_ks, ranked_list_metrics

if TYPE_CHECKING:
    from rec_core.trainer import BaseTrainer

__all__ = ["GenerativeEvaluator"]


class GenerativeEvaluator(Evaluator):
    """Evaluate by generation: ``trainer.generate(batch, max(ks))`` against ``trainer.generation_targets(batch)``.

    Args:
        ks: Cut-offs; the trainer generates ``max(ks)`` items per row.

    Raises:
        ConfigError: If ``ks`` are not distinct positive integers.
    """

    def __init__(self, ks: Iterable[int] = (5, 10, 20)) -> None:
        self.ks = _check_ks(ks)
        if len(set(self.ks)) != len(self.ks):
            raise ConfigError(f"GenerativeEvaluator ks must be distinct, got {self.ks!r}")

    def metric_names(self, trainer: BaseTrainer | None = None) -> list[str]:
        """Return ``recall@k``, ``ndcg@k``, ``hit@k``, ``mrr@k`` for each k, then ``mrr``."""
        return ranking_metric_names(self.ks)

    def evaluate(self, trainer: BaseTrainer, data: Any, *, description: str = "eval") -> dict[str, float]:
        """Generate for every batch of ``data`` (this rank's share) and return the global means."""
        require_methods(trainer, type(self).__name__, "generate", "generation_targets")
        names, k = self.metric_names(), max(self.ks)
        sums = torch.zeros(len(names) + 1, dtype=torch.float64, device=trainer.device)  # the last one counts rows
        for batch in evaluation_batches(trainer, data, description):
            with torch.no_grad(), trainer.precision.autocast():
                ranked = trainer.generate(batch, k)
            per_row = ranked_list_metrics(ranked, trainer.generation_targets(batch), self.ks, reduction="none")
            sums[:-1] += torch.stack([per_row[name].sum() for name in names]).to(sums.device)
            sums[-1] += len(ranked)
        totals = trainer.dist.all_reduce_sum(sums).cpu()
        if totals[-1] == 0:
            raise DataError("GenerativeEvaluator: the evaluation data held no rows")
        return {name: float(totals[i] / totals[-1]) for i, name in enumerate(names)}
