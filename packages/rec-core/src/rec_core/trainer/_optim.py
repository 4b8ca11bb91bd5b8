"""Build optimizers and learning-rate schedulers from config names or classes."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch

from rec_core.config import TrainingConfig
from rec_core.errors import ConfigError

__all__ = ["build_optimizer", "build_scheduler", "resolve_class"]


def resolve_class(spec: str | type, namespace: Any, what: str) -> type:
    """Return a class from ``namespace`` by (case-insensitive) name, or by dotted path.

    Args:
        spec: a class, a name in ``namespace`` ("adam", "StepLR") or "package.module.Class".
        namespace: the module searched first (``torch.optim``, ``torch.optim.lr_scheduler``).
        what: "optimizer" or "scheduler", for error messages.
    """
    if not isinstance(spec, str):
        return spec
    members = {name.lower(): obj for name, obj in vars(namespace).items() if inspect.isclass(obj)}
    if spec.lower() in members:
        return members[spec.lower()]
    module_name, _, attr = spec.rpartition(".")
    if module_name:
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError):
            pass
    public = sorted(name for name, obj in vars(namespace).items() if inspect.isclass(obj) and not name.startswith("_"))
    raise ConfigError(f"unknown {what} {spec!r} (use a {namespace.__name__} class: {', '.join(public)})")


def build_optimizer(
    params: Iterable[torch.nn.Parameter] | list[dict[str, Any]],
    config: TrainingConfig,
    optimizer_fn: Callable[..., torch.optim.Optimizer] | None = None,
) -> torch.optim.Optimizer:
    """Build the optimizer named by ``config`` (or ``optimizer_fn``) over ``params``."""
    cls = optimizer_fn or resolve_class(config.optimizer, torch.optim, "optimizer")
    kwargs = {"lr": config.learning_rate, **config.optimizer_params}
    if config.weight_decay:
        kwargs.setdefault("weight_decay", config.weight_decay)
    params = list(params)
    if cls in (torch.optim.Adam, torch.optim.AdamW) and not {"fused", "foreach"} & kwargs.keys():
        # One fused kernel per step instead of a loop over parameters: ~40% faster steps on
        # CPU for embedding-heavy models (see notes); fall back where it is unsupported.
        try:
            return cls(params, **kwargs, fused=True)
        except (RuntimeError, ValueError, TypeError):
            pass
    try:
        return cls(params, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"optimizer {config.optimizer}: bad optimizer_params {kwargs}: {exc}") from None


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    config: TrainingConfig,
    scheduler_fn: Callable[..., Any] | None = None,
) -> Any | None:
    """Build the learning-rate scheduler named by ``config`` (or ``scheduler_fn``), if any."""
    if scheduler_fn is None and config.scheduler is None:
        return None
    cls = scheduler_fn or resolve_class(config.scheduler, torch.optim.lr_scheduler, "scheduler")  # type: ignore[arg-type]
    params = dict(config.scheduler_params)
    if cls is torch.optim.lr_scheduler.ReduceLROnPlateau:
        params.setdefault("mode", config.resolved_mode())  # follow the monitored metric's direction
    try:
        return cls(optimizer, **params)
    except TypeError as exc:
        raise ConfigError(
            f"scheduler {config.scheduler}: bad scheduler_params {config.scheduler_params}: {exc}"
        ) from None


def is_plateau(scheduler: Any) -> bool:
    """Return whether ``scheduler`` must be stepped with a metric (ReduceLROnPlateau)."""
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
