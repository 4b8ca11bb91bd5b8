"""torch-rechub's ``adaptive_params={"method": ..., **options}`` mapped onto rec's weighters."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from rec_core.errors import ConfigError
from rec_core.weighting import BaseLossWeighter
from rec_trainers.weighting.gradnorm import GradNormWeighter
from rec_trainers.weighting.metabalance import MetaBalanceWeighter
from rec_trainers.weighting.uwl import UWLWeighter

__all__ = ["ADAPTIVE_WEIGHTERS", "weighter_from_adaptive_params"]

#: ``adaptive_params["method"]`` -> weighter class (the methods torch-rechub's MTLTrainer knows).
ADAPTIVE_WEIGHTERS: dict[str, type[BaseLossWeighter]] = {
    cls.name: cls for cls in (GradNormWeighter, MetaBalanceWeighter, UWLWeighter)
}

# Constructor arguments filled in by the trainer, not by adaptive_params.
_FROM_TRAINER = ("self", "task_names", "task_types")


def weighter_from_adaptive_params(
    adaptive_params: Mapping[str, Any] | None,
    task_names: Sequence[str],
    task_types: Sequence[str] | None = None,
) -> BaseLossWeighter | None:
    """Build the loss weighter torch-rechub's ``MTLTrainer(adaptive_params=...)`` asks for.

    ``{"method": "uwl"}``, ``{"method": "gradnorm", "alpha": 1.5, "lr": 0.025}`` and
    ``{"method": "metabalance", "relax_factor": 0.7, "beta": 0.9, "main_task": 0}``; the
    other keys are the weighter's constructor options.

    Args:
        adaptive_params: The torch-rechub dictionary, or None for no adaptive weighting.
        task_names: The tasks, in model output order.
        task_types: ``"classification"``/``"regression"`` per task (used by UWL).

    Returns:
        The weighter, or None when ``adaptive_params`` is None.

    Raises:
        ConfigError: ``adaptive_params`` is not a dictionary, has no known ``method``, holds an
            option the method does not take, or an option value is invalid.
    """
    if adaptive_params is None:
        return None
    valid_methods = ", ".join(sorted(ADAPTIVE_WEIGHTERS))
    if not isinstance(adaptive_params, Mapping):
        raise ConfigError(
            f"adaptive_params must be a dict like {{'method': 'uwl'}}, got {type(adaptive_params).__name__}"
        )
    options = dict(adaptive_params)
    if "method" not in options:
        raise ConfigError(f"adaptive_params needs a 'method' (valid: {valid_methods})")
    method = options.pop("method")
    cls = ADAPTIVE_WEIGHTERS.get(method) if isinstance(method, str) else None
    if cls is None:
        raise ConfigError(f"unknown adaptive_params method {method!r} (valid: {valid_methods})")
    accepted = [name for name in inspect.signature(cls.__init__).parameters if name not in _FROM_TRAINER]
    unknown = sorted(str(key) for key in options if key not in accepted)
    if unknown:
        raise ConfigError(
            f"unknown adaptive_params option(s) {unknown} for method {method!r} "
            f"(valid: {', '.join(sorted(accepted)) or 'none'})"
        )
    if "task_types" in inspect.signature(cls.__init__).parameters:
        options["task_types"] = task_types
    return cls(task_names, **options)
