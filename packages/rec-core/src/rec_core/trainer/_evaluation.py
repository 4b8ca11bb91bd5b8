"""Evaluation, prediction and best-model tracking of :class:`~rec_core.BaseTrainer`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from rec_core.callbacks import ModelCheckpoint
from rec_core.data import batch_size_of
from rec_core.errors import ConfigError

__all__ = ["EvaluationMixin", "loader_length"]


class EvaluationMixin:
    """``evaluate`` / ``test`` / ``predict`` (RecBole's contract) and the best weights.

    Mixed into :class:`~rec_core.BaseTrainer`; relies on its model, device, precision,
    distributed context, callbacks and config.
    """

    # -- evaluation -----------------------------------------------------------------------
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

    @torch.no_grad()
    def _evaluate_loader(
        self, loader: Any, *, show_progress: bool = False, description: str = "eval"
    ) -> dict[str, float]:
        was_training = self.model.training
        self.model.eval()
        outputs: dict[str, list[torch.Tensor]] = {}
        self._progress.start(description, loader_length(loader))
        try:
            for batch in loader:
                batch = self.transfer_batch(batch)
                with self.precision.autocast():
                    out = self.validation_step(batch)
                for key, value in out.items():
                    outputs.setdefault(key, []).append(_as_rows(value))
                self._progress.advance(batch_size_of(batch))
        finally:
            self._progress.stop()
            self.model.train(was_training)
        merged = self.dist.gather_outputs(outputs)
        return self.compute_metrics(merged)

    def evaluate(
        self,
        eval_data: Any,
        load_best_model: bool = True,
        model_file: str | Path | None = None,
        show_progress: bool | None = None,
    ) -> dict[str, float]:
        """Evaluate on ``eval_data`` and return ``{metric: value}`` (RecBole contract).

        Args:
            eval_data: the data loader.
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


def _as_rows(value: torch.Tensor) -> torch.Tensor:
    """Detach a validation output, make a scalar one row, and widen low-precision floats."""
    value = value.detach()
    if value.dim() == 0:
        value = value.reshape(1)
    return value.float() if value.is_floating_point() else value


def loader_length(loader: Any) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


