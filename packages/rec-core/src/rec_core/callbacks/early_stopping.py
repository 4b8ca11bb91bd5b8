"""Stop training when a monitored validation metric stops improving."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, ClassVar

from rec_core.callbacks.base import (
    Callback,
    TrainerLike,
    _check_mode,
    _missing_metric,
    _resolve_monitor,
)
from rec_core.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["EarlyStopping"]

log = logging.getLogger(__name__)


class EarlyStopping(Callback):
    """Stop training after `patience` validations without improvement.

    After every validation the callback reads ``trainer.callback_metrics[monitor]``. A value
    improves when it beats the best so far by more than `min_delta` (higher for mode
    ``"max"``, lower for ``"min"``); NaN never improves. After `patience` validations in a row
    without improvement it sets ``trainer.should_stop = True``.

    Args:
        monitor: Metric to watch, e.g. ``"val/auc"``; None uses ``trainer.config.monitor``.
        mode: ``"max"`` or ``"min"``; None uses ``trainer.config.mode`` for the config's
            monitor, else derives it from the metric name (``max`` for auc, ``min`` for loss).
        min_delta: Smallest change (>= 0) that counts as an improvement.
        patience: Validations without improvement before stopping.
        strict: Raise if `monitor` is missing from the metrics; otherwise skip that check.

    Raises:
        ConfigError: If `mode`, `min_delta` or `patience` is invalid.

    Example:
        >>> EarlyStopping(monitor="val/auc", mode="max", patience=5)
        EarlyStopping(monitor='val/auc', mode='max', min_delta=0.0, patience=5)
    """

    name: ClassVar[str] = "early-stopping"

    def __init__(
        self,
        monitor: str | None = None,
        mode: str | None = None,
        min_delta: float = 0.0,
        patience: int = 3,
        strict: bool = True,
    ) -> None:
        _check_mode("EarlyStopping", mode)
        if not min_delta >= 0:
            raise ConfigError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        if patience < 0:
            raise ConfigError(f"EarlyStopping: patience must be >= 0, got {patience!r}")
        self._state_key = self._generate_state_key(monitor=monitor, mode=mode)
        self.monitor = monitor
        self.mode = mode
        self.min_delta = float(min_delta)
        self.patience = patience
        self.strict = strict
        self.best_score: float | None = None
        self.wait_count = 0
        self.stopped_epoch: int | None = None
        self._resolved = False

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, mode={self.mode!r}, "
            f"min_delta={self.min_delta!r}, patience={self.patience!r})"
        )

    @property
    def state_key(self) -> str:
        """Return ``EarlyStopping{'monitor': ..., 'mode': ...}`` from the init arguments."""
        return self._state_key

    def on_fit_start(self, trainer: TrainerLike) -> None:
        """Fill in `monitor` and `mode` from the trainer's config where not given."""
        self._resolve(trainer)

    def on_validation_end(self, trainer: TrainerLike) -> None:
        """Compare the monitored metric with the best so far; stop when patience runs out."""
        self._resolve(trainer)
        monitor = self.monitor
        if monitor is None:  # _resolve guarantees a name; this narrows the type
            return
        metrics = trainer.callback_metrics
        if monitor not in metrics:
            if self.strict:
                raise _missing_metric("EarlyStopping", monitor, metrics)
            log.debug("EarlyStopping: metric %r not logged, skipping this check", monitor)
            return
        current = float(metrics[monitor])
        if self._improved(current):
            self.best_score = current
            self.wait_count = 0
            return
        self.wait_count += 1
        if self.wait_count >= self.patience:
            self.stopped_epoch = trainer.current_epoch
            trainer.should_stop = True
            log.info(
                "EarlyStopping: %s did not improve for %d validations (best %s); stopping at "
                "epoch %d",
                monitor,
                self.wait_count,
                self.best_score,
                trainer.current_epoch,
            )

    def state_dict(self) -> dict[str, Any]:
        """Return the best score, the wait count and the stopped epoch."""
        return {
            "best_score": self.best_score,
            "wait_count": self.wait_count,
            "stopped_epoch": self.stopped_epoch,
            "patience": self.patience,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the state returned by `state_dict`; missing keys keep their value."""
        self.best_score = state.get("best_score", self.best_score)
        self.wait_count = int(state.get("wait_count", self.wait_count))
        self.stopped_epoch = state.get("stopped_epoch", self.stopped_epoch)

    def _resolve(self, trainer: TrainerLike) -> None:
        if self._resolved:
            return
        monitor, self.mode = _resolve_monitor("EarlyStopping", trainer, self.monitor, self.mode)
        if monitor is None:
            raise ConfigError(
                "EarlyStopping needs a metric to monitor: pass monitor=... "
                "or set the config's monitor"
            )
        self.monitor = monitor
        self._resolved = True

    def _improved(self, current: float) -> bool:
        if math.isnan(current):
            return False
        if self.best_score is None:
            return True
        if self.mode == "max":
            return current > self.best_score + self.min_delta
        return current < self.best_score - self.min_delta
