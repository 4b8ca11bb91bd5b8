"""The logger contract: what a training run reports to an experiment tracker.

A logger is anything with ``log_hyperparams``, ``log_metrics`` and ``finish``;
:class:`BaseLogger` spells that contract out with no-op defaults, so a backend overrides
only what it needs. A torch-rechub logger written as::

    class MyLogger(BaseLogger):
        def log_metrics(self, metrics, step=None): ...
        def log_hyperparams(self, params): ...
        def finish(self): ...

works unchanged: :class:`~rec_core.loggers.LoggerGroup` passes ``status`` to ``finish``
only when its signature accepts it.

This module must stay cheap to import (the command line loads it without torch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = ["FINISH_STATUSES", "BaseLogger", "flatten_params", "plain_params", "to_number"]

#: The values :meth:`BaseLogger.finish` accepts as ``status``.
FINISH_STATUSES: tuple[str, ...] = ("success", "failed", "interrupted")


class BaseLogger:
    """Receive hyperparameters and metrics of one training run.

    Subclasses register under :attr:`name` (lowercase ``[a-z0-9-]``) through the
    ``rec_register_loggers`` hook. All methods are no-ops here. The trainer calls them on
    rank 0 only, through a :class:`~rec_core.loggers.LoggerGroup`, which turns a
    backend's exceptions into warnings so that a tracking hiccup never stops training.
    """

    #: Registry name; empty for a logger that is used directly and never registered.
    name: ClassVar[str] = ""

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Record metric values, e.g. ``{"train/loss": 0.41, "val/auc": 0.78}``.

        Args:
            metrics: Metric name to value (Python numbers, or tensor/numpy scalars).
            step: Global step the values belong to; ``None`` lets the backend decide.
        """

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        """Record the hyperparameters of the run (called once, before training).

        Args:
            params: Possibly nested parameter names and values; backends that accept
                only flat scalar values can pass them through :func:`flatten_params`.
        """

    def finish(self, status: str = "success") -> None:
        """Flush and close the backend; called once at the end of the run.

        Args:
            status: How the run ended: ``"success"``, ``"failed"`` or ``"interrupted"``.
        """


def flatten_params(params: Mapping[str, Any], sep: str = "/") -> dict[str, Any]:
    """Flatten nested hyperparameters into one level of scalar values.

    Nested mappings become joined keys (``{"optim": {"lr": 0.1}}`` ->
    ``{"optim/lr": 0.1}``); ``bool``, ``int``, ``float`` and ``str`` values are kept,
    tensor/numpy scalars become Python numbers, and everything else (lists, tuples,
    ``None``, objects) becomes its ``str()``, which backends that drop non-scalar values
    still show.

    Args:
        params: The hyperparameters, possibly nested.
        sep: Separator placed between the keys of nested levels.

    Returns:
        A new flat dictionary; ``params`` is not modified.
    """
    flat: dict[str, Any] = {}
    _flatten_into(flat, params, prefix="", sep=sep)
    return flat


def _flatten_into(flat: dict[str, Any], params: Mapping[Any, Any], prefix: str, sep: str) -> None:
    for key, value in params.items():
        full_key = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten_into(flat, value, prefix=f"{full_key}{sep}", sep=sep)
        else:
            flat[full_key] = _scalar_or_str(value)


def _scalar_or_str(value: Any) -> bool | int | float | str:
    if isinstance(value, (bool, int, float, str)):
        return value
    number = to_number(value)
    return str(value) if number is None else number


def to_number(value: Any) -> bool | int | float | None:
    """Return ``value`` as a Python number (one-element tensors/arrays too), else ``None``.

    Duck-typed on ``.item()`` so that neither torch nor numpy is imported here.
    """
    if isinstance(value, (bool, int, float)):
        return value
    item = getattr(value, "item", None)
    if not callable(item) or isinstance(value, (str, bytes)):
        return None
    try:
        number = item()
    except (TypeError, ValueError, RuntimeError):  # more than one element, or no .item()
        return None
    return number if isinstance(number, (bool, int, float)) else None


def plain_params(value: Any, *, none: Any = None) -> Any:
    """Return ``value`` as nested dicts, lists and JSON scalars, keeping the nesting.

    Tensor/numpy scalars become numbers, other objects their ``str()``, and ``None``
    becomes ``none`` (SwanLab, for one, would store ``None`` as an empty mapping).
    """
    if value is None:
        return none
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(key): plain_params(item, none=none) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_params(item, none=none) for item in value]
    number = to_number(value)
    return str(value) if number is None else number
