"""Evaluation, prediction and best-model tracking of :class:`~rec_core.BaseTrainer`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import torch

from rec_core.callbacks import ModelCheckpoint
from rec_core.errors import ConfigError
from rec_core.evaluation import BatchEvaluator, Evaluator
from rec_core.evaluation.base import loader_length

__all__ = ["EvaluationMixin", "loader_length"]


class EvaluationMixin:
    """``evaluate`` / ``test`` / ``predict`` (RecBole's contract) and the best weights.

    Mixed into :class:`~rec_core.BaseTrainer`; relies on its model, device, precision,
    distributed context, callbacks and config. How data becomes metrics is the job of the
    trainer's :class:`~rec_core.evaluation.Evaluator` (``configure_evaluator()``).
    """

    batch_metrics: ClassVar[tuple[str, ...]] = ("loss",)
    """Names ``compute_metrics`` reports (what the default ``BatchEvaluator`` announces)."""
    _evaluator: Evaluator | None = None

    # -- evaluation -----------------------------------------------------------------------
    def configure_evaluator(self) -> Evaluator:
        """Return the evaluator validation, ``evaluate`` and ``test`` use (called once, lazily).

        The default :class:`~rec_core.evaluation.BatchEvaluator` runs ``validation_step``
        and ``compute_metrics``; a retrieval trainer returns a
        :class:`~rec_core.evaluation.RetrievalEvaluator`, a generative one a
        :class:`~rec_core.evaluation.GenerativeEvaluator`.
        """
        return BatchEvaluator()

    @property
    def evaluator(self) -> Evaluator:
        """Return this trainer's evaluator, created by ``configure_evaluator()`` on first use."""
        if self._evaluator is None:
            self._evaluator = self.configure_evaluator()
        return self._evaluator

    @evaluator.setter
    def evaluator(self, evaluator: Evaluator) -> None:
        self._evaluator = evaluator

    def metric_names(self) -> list[str]:
        """Return the metric names evaluation reports (without the ``val/`` prefix)."""
        return self.evaluator.metric_names(self)

    def declared_metric_names(self) -> list[str] | None:
        """Return :meth:`metric_names`, or ``None`` when a subclass reports metrics it did not declare.

        A trainer that overrides ``compute_metrics`` or ``_valid_epoch`` (RecBole's hook)
        without setting ``batch_metrics`` may report anything; its monitored metric can
        then only be checked at the first validation.
        """
        def owner(attribute: str) -> type:
            return next(k for k in type(self).__mro__ if attribute in vars(k))

        def custom(attribute: str) -> bool:
            return not owner(attribute).__module__.startswith("rec_core.trainer")

        declared = custom("batch_metrics")
        if not declared and (custom("_valid_epoch") or (
                isinstance(self.evaluator, BatchEvaluator) and custom("compute_metrics"))):
            return None
        return self.metric_names()

    def _valid_epoch(self, valid_data: Any, show_progress: bool = False) -> tuple[float, dict[str, float]]:
        """Validate and return ``(score, {"val/<metric>": value})`` (RecBole's hook)."""
        metrics = self._evaluate_loader(valid_data, show_progress=show_progress, description="validate")
        result = {f"val/{k}": v for k, v in metrics.items()}
        if self.monitor not in result:
            raise ConfigError(
                f"monitored metric '{self.monitor}' is not computed by {type(self).__name__} "
                f"(available: {', '.join(sorted(result))}); set monitor=..."
            )
        return result[self.monitor], result

    def _evaluate_loader(
        self, loader: Any, *, show_progress: bool = False, description: str = "eval"
    ) -> dict[str, float]:
        """Return ``{metric: value}`` of ``loader`` (this rank's share) from the evaluator."""
        return self.evaluator.evaluate(self, loader, description=description)

    def evaluate(
        self,
        eval_data: Any,
        load_best_model: bool = True,
        model_file: str | Path | None = None,
        show_progress: bool | None = None,
    ) -> dict[str, float]:
        """Evaluate on ``eval_data`` and return ``{metric: value}`` (RecBole contract).

        Args:
            eval_data: the data loader, or what the trainer's evaluator takes (e.g.
                :class:`~rec_core.evaluation.RetrievalQueries`).
            load_best_model: use the best weights found by ``fit`` (if any).
            model_file: evaluate the weights of this checkpoint instead.
            show_progress: progress bar; ``None`` follows the config.
        """
        if model_file is not None:
            self._load_model_weights(Path(model_file))
        elif load_best_model and not self._model_is_best:
            self._load_best_weights()
        loader = self.dist.shard_eval(eval_data)
        return self._evaluate_loader(loader, show_progress=self._progress_wanted(show_progress))

    def test(self, loader: Any) -> dict[str, float]:
        """Evaluate on test data; return ``{"test/<metric>": value}``."""
        return {f"test/{k}": v for k, v in self.evaluate(loader).items()}

    @torch.no_grad()
    def predict(self, data_loader: Any, *, show_progress: bool | None = None) -> torch.Tensor:
        """Return the concatenated ``predict_step`` outputs over ``data_loader`` (on CPU)."""
        was_training = self.model.training
        self.model.eval()
        chunks = []
        try:
            for batch in data_loader:
                with self.precision.autocast():
                    chunks.append(self.predict_step(self.transfer_batch(batch)).float().cpu())
        finally:
            self.model.train(was_training)
        return torch.cat(chunks) if chunks else torch.empty(0)

    # -- best model -----------------------------------------------------------------------
    def _track_best(self, score: float, result: dict[str, float]) -> None:
        if math.isnan(score):
            return
        maximize = self.config.resolved_mode() == "max"
        improved = self.best_result is None or (score > self.best_score if maximize else score < self.best_score)
        if improved:
            self.best_score, self.best_result = score, dict(result)
            if self._checkpoint_callback() is None or self._checkpoint_callback().save_top_k == 0:
                self._best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
            self._model_is_best = True
        else:
            self._model_is_best = False

    def _checkpoint_callback(self) -> ModelCheckpoint | None:
        return next((c for c in self.callbacks if isinstance(c, ModelCheckpoint)), None)

    def _load_best_weights(self) -> None:
        if self.best_result is None or self._model_is_best:
            return
        checkpoint = self._checkpoint_callback()
        best_path = checkpoint.best_model_path if checkpoint is not None else None
        if best_path and Path(best_path).is_file():
            self._load_model_weights(Path(best_path))
        elif self._best_state is not None:
            self.model.load_state_dict(self._best_state)
        self.dist.broadcast_module(self.model)  # only rank 0 is sure to see the checkpoint file
        self._model_is_best = True
