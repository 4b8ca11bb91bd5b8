"""``BatchEvaluator``: concatenate ``validation_step`` outputs, then ``compute_metrics``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from rec_core.evaluation.base import Evaluator, evaluation_batches

if TYPE_CHECKING:
    from rec_core.trainer import BaseTrainer

__all__ = ["BatchEvaluator"]


class BatchEvaluator(Evaluator):
    """The default evaluator: metrics over the whole validation set, from per-batch outputs.

    Each batch goes through ``trainer.validation_step`` (under the trainer's autocast);
    the outputs are concatenated per key, gathered from every rank, and handed to
    ``trainer.compute_metrics`` (AUC and log loss over all rows for CTR, the loss by
    default). It reports the names the trainer class declares in ``batch_metrics``.
    """

    def evaluate(self, trainer: BaseTrainer, data: Any, *, description: str = "eval") -> dict[str, float]:
        """Run ``validation_step`` over ``data`` and return ``trainer.compute_metrics`` of it all."""
        outputs: dict[str, list[torch.Tensor]] = {}
        for batch in evaluation_batches(trainer, data, description):
            with torch.no_grad(), trainer.precision.autocast():
                out = trainer.validation_step(batch)
            for key, value in out.items():
                outputs.setdefault(key, []).append(_as_rows(value))
        with torch.no_grad():
            return trainer.compute_metrics(trainer.dist.gather_outputs(outputs))

    def metric_names(self, trainer: BaseTrainer) -> list[str]:
        """Return the trainer's declared ``batch_metrics`` (``["loss"]`` by default)."""
        return list(getattr(trainer, "batch_metrics", ("loss",)))


def _as_rows(value: torch.Tensor) -> torch.Tensor:
    """Detach a validation output, make a scalar one row, and widen low-precision floats."""
    value = value.detach()
    if value.dim() == 0:
        value = value.reshape(1)
    return value.float() if value.is_floating_point() else value
