"""``TimeLimit``: stop training once a wall-clock budget is spent, at the end of an epoch."""

from __future__ import annotations

import time
from typing import Any

from rec_core.callbacks.base import Callback, TrainerLike
from rec_core.errors import ConfigError

__all__ = ["TimeLimit"]


class TimeLimit(Callback):
    """Stop ``fit`` after the first epoch that ends ``seconds`` of training time after the start.

    The epoch in progress is finished and validated, so the best checkpoint stays a
    validated one. The time spent is kept in checkpoints: a resumed run gets only what is
    left of the budget.

    Args:
        seconds: The training budget in seconds (validation included).

    Raises:
        ConfigError: ``seconds`` is not a positive number.
    """

    def __init__(self, seconds: float = 1800.0) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
            raise ConfigError(f"TimeLimit seconds must be a positive number, got {seconds!r}")
        self.seconds = float(seconds)
        self.spent = 0.0
        self._started: float | None = None

    @property
    def state_key(self) -> str:
        return self._generate_state_key(seconds=self.seconds)

    def on_fit_start(self, trainer: TrainerLike) -> None:
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: TrainerLike) -> None:
        if self._elapsed() >= self.seconds:
            trainer.should_stop = True

    def on_fit_end(self, trainer: TrainerLike) -> None:
        self.spent = self._elapsed()
        self._started = None

    def _elapsed(self) -> float:
        return self.spent + (time.perf_counter() - self._started if self._started is not None else 0.0)

    def state_dict(self) -> dict[str, Any]:
        return {"spent": self._elapsed()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.spent = float(state["spent"])
