"""The `Callback` base class, the trainer contract it sees, and `CallbackList`.

Per-batch and per-epoch behaviour (early stopping, checkpointing, progress, profiling)
lives in callbacks rather than in pluggy hooks. The trainer owns one `CallbackList` and
calls each hook with a single line::

    self.callbacks.call("on_train_batch_end", self, loss, batch, batch_idx)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, overload

from rec_core.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    import torch

__all__ = ["Callback", "CallbackList", "TrainerLike"]


class TrainerLike(Protocol):
    """Describe what a callback may read from (and set on) the trainer.

    `rec_core.BaseTrainer` provides all of it; tests may pass any object that does.
    """

    should_stop: bool
    """Set to True to stop after the current epoch."""

    @property
    def current_epoch(self) -> int:
        """The 0-based epoch being trained or just validated."""

    @property
    def global_step(self) -> int:
        """The number of optimizer steps taken so far."""

    @property
    def callback_metrics(self) -> Mapping[str, float]:
        """The latest logged metrics, e.g. ``{"train/loss": 0.4, "val/auc": 0.78}``."""

    @property
    def is_global_zero(self) -> bool:
        """Whether this process is rank 0, the only one that writes files."""

    @property
    def config(self) -> Any:
        """The `TrainingConfig` (``monitor``, ``mode``, ``checkpoint_dir``, ...)."""

    @property
    def model(self) -> torch.nn.Module:
        """The (unwrapped) model being trained."""

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write the full training state atomically to `path` and return it."""


class Callback:
    """Base class of training callbacks: every hook is a no-op to override.

    Hooks receive the trainer first. A callback with state to resume overrides
    `state_dict` / `load_state_dict`; the trainer stores that state in the checkpoint under
    `state_key`, so two instances of one class configured differently do not collide.

    Example:
        >>> class PrintEpoch(Callback):
        ...     name = "print-epoch"
        ...     def on_train_epoch_end(self, trainer):
        ...         print(trainer.current_epoch)
    """

    name: ClassVar[str] = ""
    """Registry name used by ``rec_register_callbacks`` (lowercase ``[a-z0-9-]``)."""

    HOOKS: ClassVar[tuple[str, ...]] = (
        "on_exception",
        "on_fit_end",
        "on_fit_start",
        "on_save_checkpoint",
        "on_train_batch_end",
        "on_train_batch_start",
        "on_train_epoch_end",
        "on_train_epoch_start",
        "on_validation_end",
        "on_validation_start",
    )
    """Names of all hooks, the ones `CallbackList.call` accepts."""

    saves_checkpoints: ClassVar[bool] = False
    """True for callbacks that write checkpoints; `CallbackList` runs them after the others
    so that a checkpoint holds every other callback's state after the same hook."""

    @property
    def state_key(self) -> str:
        """Return the key under which this callback's state is saved in a checkpoint."""
        return type(self).__qualname__

    def _generate_state_key(self, **kwargs: Any) -> str:
        """Return the class name followed by the distinguishing init arguments."""
        return f"{type(self).__qualname__}{kwargs!r}"

    def on_fit_start(self, trainer: TrainerLike) -> None:
        """Run once when `fit` starts, before the first epoch (after resuming)."""

    def on_fit_end(self, trainer: TrainerLike) -> None:
        """Run once when `fit` finishes normally."""

    def on_train_epoch_start(self, trainer: TrainerLike) -> None:
        """Run before the first batch of every training epoch."""

    def on_train_epoch_end(self, trainer: TrainerLike) -> None:
        """Run after the last batch of every training epoch."""

    def on_train_batch_start(self, trainer: TrainerLike, batch: Any, batch_idx: int) -> None:
        """Run before the training step on `batch`."""

    def on_train_batch_end(
        self, trainer: TrainerLike, outputs: torch.Tensor, batch: Any, batch_idx: int
    ) -> None:
        """Run after the training step; `outputs` is the step's loss tensor."""

    def on_validation_start(self, trainer: TrainerLike) -> None:
        """Run before a validation pass."""

    def on_validation_end(self, trainer: TrainerLike) -> None:
        """Run after a validation pass, once its metrics are in `trainer.callback_metrics`."""

    def on_exception(self, trainer: TrainerLike, exception: BaseException) -> None:
        """Run when `fit` raises, before the exception propagates."""

    def on_save_checkpoint(self, trainer: TrainerLike, checkpoint: dict[str, Any]) -> None:
        """Run while a checkpoint is being built; may add entries to `checkpoint`."""

    def state_dict(self) -> dict[str, Any]:
        """Return the state to save in a checkpoint (tensors, numbers, strings only)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the state returned by `state_dict`."""


class CallbackList(Sequence[Callback]):
    """Hold the trainer's callbacks, call hooks on all of them and gather their state.

    Callbacks are called in the given order, except that checkpoint writers
    (``saves_checkpoints = True``, e.g. `ModelCheckpoint`) come after all others, so the
    state they save already reflects, say, `EarlyStopping`'s update for this validation.

    Args:
        callbacks: The callbacks.
    """

    def __init__(self, callbacks: Iterable[Callback] | None = None) -> None:
        self._callbacks: list[Callback] = []
        for callback in callbacks or ():
            self.append(callback)

    def __repr__(self) -> str:
        return f"CallbackList({self._callbacks!r})"

    @overload
    def __getitem__(self, index: int) -> Callback: ...

    @overload
    def __getitem__(self, index: slice) -> list[Callback]: ...

    def __getitem__(self, index: int | slice) -> Callback | list[Callback]:
        return self._callbacks[index]

    def __iter__(self) -> Iterator[Callback]:
        return iter(self._callbacks)

    def __len__(self) -> int:
        return len(self._callbacks)

    def append(self, callback: Callback) -> None:
        """Add `callback` after the others (checkpoint writers stay last)."""
        self._callbacks.append(callback)
        # Stable: keeps the given order within each group.
        self._callbacks.sort(key=lambda c: c.saves_checkpoints)

    def call(self, hook: str, trainer: TrainerLike, *args: Any, **kwargs: Any) -> None:
        """Call `hook` on every callback in order.

        Args:
            hook: A hook name from `Callback.HOOKS`, e.g. ``"on_fit_start"``.
            trainer: The trainer, passed first to the hook.
            *args: Further positional arguments of the hook.
            **kwargs: Further keyword arguments of the hook.

        Raises:
            ValueError: If `hook` is not a callback hook.
        """
        if hook not in Callback.HOOKS:
            hooks = ", ".join(Callback.HOOKS)
            raise ValueError(f"unknown callback hook {hook!r} (hooks: {hooks})")
        for callback in self._callbacks:
            getattr(callback, hook)(trainer, *args, **kwargs)

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """Return every stateful callback's state, keyed by its `state_key`.

        Raises:
            ConfigError: If two stateful callbacks share a `state_key`.
        """
        states: dict[str, dict[str, Any]] = {}
        for callback in self._callbacks:
            state = callback.state_dict()
            if not state:
                continue
            key = callback.state_key
            if key in states:
                raise ConfigError(
                    f"two callbacks share the checkpoint state key {key!r}; "
                    "configure them differently or keep only one"
                )
            states[key] = state
        return states

    def load_state_dict(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        """Restore callback states saved by `state_dict`.

        States whose key matches no callback are ignored; callbacks without a saved state
        keep their current (default) state.
        """
        for callback in self._callbacks:
            state = states.get(callback.state_key)
            if state is not None:
                callback.load_state_dict(state)


_MODES = ("max", "min")


def _check_mode(owner: str, mode: str | None) -> None:
    """Raise `ConfigError` unless `mode` is None, ``"min"`` or ``"max"``."""
    if mode is not None and mode not in _MODES:
        raise ConfigError(f"{owner}: mode must be 'min' or 'max', got {mode!r}")


def _resolve_monitor(
    owner: str, trainer: TrainerLike, monitor: str | None, mode: str | None
) -> tuple[str | None, str | None]:
    """Return `monitor` and `mode`, falling back to ``trainer.config.monitor`` / ``.mode``.

    The config's mode is used only for the config's monitor: a mode that is not given for
    the monitored metric is derived from its name (``max`` for auc and the ranking metrics,
    ``min`` for losses). Without a monitor the mode is None.
    """
    config = trainer.config
    config_monitor = getattr(config, "monitor", None)
    if mode is None and (monitor is None or monitor == config_monitor):
        mode = getattr(config, "mode", None)
    monitor = monitor if monitor is not None else config_monitor
    if mode is None and monitor:
        from rec_core.metrics import monitor_mode

        try:
            mode = monitor_mode(monitor)
        except ConfigError as exc:
            raise ConfigError(f"{owner}: {exc}") from None
    _check_mode(owner, mode)
    return monitor or None, mode


def _missing_metric(owner: str, key: str, metrics: Mapping[str, Any]) -> ConfigError:
    """Build the error for a monitored metric absent from ``trainer.callback_metrics``."""
    available = ", ".join(sorted(metrics)) or "none"
    return ConfigError(
        f"{owner} monitors metric {key!r}, which was not logged (available metrics: {available})"
    )
