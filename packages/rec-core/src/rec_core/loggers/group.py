"""Fan one stream of hyperparameters and metrics out to several loggers."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from rec_core.errors import ConfigError
from rec_core.loggers.base import FINISH_STATUSES

__all__ = ["LoggerGroup", "LoggerLike"]

_REQUIRED_METHODS = ("log_hyperparams", "log_metrics", "finish")


class LoggerLike(Protocol):
    """Anything with the three logger methods; :class:`BaseLogger` need not be a base."""

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None: ...

    def log_hyperparams(self, params: dict[str, Any]) -> None: ...

    def finish(self) -> None: ...


class LoggerGroup:
    """Dispatch logging calls to zero, one or many loggers without ever stopping training.

    ``LoggerGroup(None)`` is falsy and its methods return at once, so a trainer can hold
    a group unconditionally and a run without loggers pays nothing. A logger whose
    ``log_metrics`` or ``log_hyperparams`` raises is reported once as a
    :class:`RuntimeWarning` and keeps receiving calls (the error may be transient).
    :meth:`finish` finishes every logger exactly once, however often it is called.

    Args:
        loggers: ``None``, one logger, or an iterable of loggers (``None`` entries are
            skipped), as torch-rechub's ``model_logger`` accepts. A logger is any object
            with ``log_hyperparams``, ``log_metrics`` and ``finish``.

    Raises:
        ConfigError: An entry lacks one of the three logger methods.
    """

    __slots__ = ("_finish_takes_status", "_finished", "_loggers", "_reported")

    def __init__(self, loggers: LoggerLike | Iterable[LoggerLike | None] | None = None) -> None:
        self._loggers: tuple[LoggerLike, ...] = _normalise(loggers)
        # Inspected once here: seed-style loggers define ``finish(self)`` with no status.
        self._finish_takes_status = tuple(_accepts_status(lg.finish) for lg in self._loggers)
        self._reported: set[int] = set()
        self._finished = False

    @property
    def loggers(self) -> tuple[LoggerLike, ...]:
        """The loggers of the group, in the order they are called."""
        return self._loggers

    @property
    def finished(self) -> bool:
        """Whether :meth:`finish` has run."""
        return self._finished

    def __bool__(self) -> bool:
        return bool(self._loggers)

    def __len__(self) -> int:
        return len(self._loggers)

    def __iter__(self) -> Iterator[LoggerLike]:
        return iter(self._loggers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._loggers)!r})"

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        """Send hyperparameters to every logger."""
        for index, logger in enumerate(self._loggers):
            try:
                logger.log_hyperparams(params)
            except Exception as exc:  # a tracker must not end the run
                self._report(index, "log_hyperparams", exc)

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Send metrics to every logger."""
        for index, logger in enumerate(self._loggers):
            try:
                logger.log_metrics(metrics, step=step)
            except Exception as exc:  # a tracker must not end the run
                self._report(index, "log_metrics", exc)

    def finish(self, status: str = "success") -> None:
        """Finish every logger once; later calls do nothing.

        Each logger gets ``status=`` only if its ``finish`` accepts it. An exception is
        reported as a :class:`RuntimeWarning` and the remaining loggers are still
        finished.

        Args:
            status: ``"success"``, ``"failed"`` or ``"interrupted"``.

        Raises:
            ValueError: ``status`` is not one of the three values.
        """
        if status not in FINISH_STATUSES:
            raise ValueError(f"finish status must be one of {FINISH_STATUSES}, got {status!r}")
        if self._finished:
            return
        self._finished = True
        for logger, takes_status in zip(self._loggers, self._finish_takes_status, strict=True):
            try:
                if takes_status:
                    logger.finish(status=status)  # type: ignore[call-arg]
                else:
                    logger.finish()
            except Exception as exc:  # finish the others regardless
                warnings.warn(
                    f"logger {type(logger).__name__}.finish(status={status!r}) failed: "
                    f"{type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )

    def _report(self, index: int, method: str, exc: Exception) -> None:
        if index in self._reported:
            return
        self._reported.add(index)
        name = type(self._loggers[index]).__name__
        warnings.warn(
            f"logger {name}.{method} failed: {type(exc).__name__}: {exc}; training goes on "
            f"and further errors from {name} are not reported",
            RuntimeWarning,
            stacklevel=3,
        )


def _normalise(loggers: LoggerLike | Iterable[LoggerLike | None] | None) -> tuple[LoggerLike, ...]:
    if loggers is None:
        return ()
    if isinstance(loggers, LoggerGroup):
        return loggers.loggers
    if all(hasattr(loggers, method) for method in _REQUIRED_METHODS):
        return (loggers,)  # type: ignore[return-value]
    if not isinstance(loggers, Iterable) or isinstance(loggers, (str, bytes)):
        raise ConfigError(_not_a_logger(loggers))
    result = []
    for logger in loggers:
        if logger is None:
            continue
        if not all(hasattr(logger, method) for method in _REQUIRED_METHODS):
            raise ConfigError(_not_a_logger(logger))
        result.append(logger)
    return tuple(result)


def _not_a_logger(obj: object) -> str:
    missing = [method for method in _REQUIRED_METHODS if not hasattr(obj, method)]
    return (
        f"model_logger entry {obj!r} ({type(obj).__name__}) is not a logger: "
        f"it lacks {', '.join(missing)}"
    )


def _accepts_status(finish: Any) -> bool:
    try:
        parameters = inspect.signature(finish).parameters.values()
    except (TypeError, ValueError):  # no introspectable signature: call it plainly
        return False
    return any(
        parameter.kind is inspect.Parameter.VAR_KEYWORD
        or (parameter.name == "status" and parameter.kind is not inspect.Parameter.POSITIONAL_ONLY)
        for parameter in parameters
    )
