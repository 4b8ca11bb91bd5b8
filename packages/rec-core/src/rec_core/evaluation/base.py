"""The ``Evaluator`` contract and the pieces every evaluator shares."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from rec_core.errors import ConfigError

if TYPE_CHECKING:
    from rec_core.trainer import BaseTrainer

__all__ = ["Evaluator", "evaluation_batches", "evaluation_mode", "loader_length", "require_methods"]


class Evaluator(ABC):
    """Turn a trained model and evaluation data into metrics.

    A trainer picks its evaluator in ``configure_evaluator()``; ``fit`` (validation),
    ``evaluate`` and ``test`` all go through it. Under DDP every rank calls
    :meth:`evaluate` with its own share of the data (an evaluator whose data shards
    itself takes the share itself) and every rank returns the same, global metrics.
    """

    @abstractmethod
    def evaluate(self, trainer: BaseTrainer, data: Any, *, description: str = "eval") -> dict[str, float]:
        """Evaluate ``trainer``'s model on ``data``.

        Args:
            trainer: The trainer (its model, device, precision, ``dist`` and progress bar).
            data: What the evaluator understands (a loader, :class:`RetrievalQueries`, …).
            description: The progress bar's label.

        Returns:
            ``{metric: value}``, names without a ``val/`` or ``test/`` prefix.
        """

    @abstractmethod
    def metric_names(self, trainer: BaseTrainer) -> list[str]:
        """Return the names :meth:`evaluate` reports, so a run can check ``monitor`` up front."""


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[None]:
    """Run the block with ``model`` in eval mode and without autograd; restore its mode after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def evaluation_batches(trainer: BaseTrainer, data: Any, description: str) -> Iterator[Any]:
    """Yield ``data``'s batches on the trainer's device, model in eval mode, with a progress bar.

    The progress bar advances by each batch's size once the caller is done with it.
    """
    from rec_core.data import batch_size_of

    progress = trainer._progress
    progress.start(description, loader_length(data))
    try:
        with evaluation_mode(trainer.model):
            for batch in data:
                batch = trainer.transfer_batch(batch)
                yield batch
                progress.advance(batch_size_of(batch))
    finally:
        progress.stop()


def require_methods(trainer: Any, evaluator: str, *names: str) -> None:
    """Raise ``ConfigError`` naming the methods ``evaluator`` needs that ``trainer`` lacks."""
    missing = [name for name in names if not callable(getattr(trainer, name, None))]
    if missing:
        listed = ", ".join(f"{name}()" for name in missing)
        raise ConfigError(f"{evaluator} needs {type(trainer).__name__} to implement {listed}")


def loader_length(loader: Any) -> int | None:
    """Return ``len(loader)``, or ``None`` for a loader without a length."""
    try:
        return len(loader)
    except TypeError:
        return None
