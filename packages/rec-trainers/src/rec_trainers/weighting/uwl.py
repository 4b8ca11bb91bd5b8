"""Uncertainty weighting: learned homoscedastic task uncertainties (Kendall, Gal and Cipolla, 2018)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from rec_core.errors import ConfigError
from rec_core.weighting import BaseLossWeighter

__all__ = ["TASK_TYPES", "UWLWeighter", "check_task_types"]

#: The factor c in ``c * exp(-s) * L``: Gaussian likelihood (regression) 1/(2σ²), softmax
#: likelihood with a temperature (classification) 1/σ².
TASK_TYPES: dict[str, float] = {"classification": 1.0, "regression": 0.5}


def check_task_types(owner: str, task_names: Sequence[str], task_types: Sequence[str] | None) -> tuple[str, ...]:
    """Return ``task_types`` as a tuple aligned with ``task_names`` (all classification when None).

    Raises:
        ConfigError: The lengths differ or a type is neither classification nor regression.
    """
    if task_types is None:
        return ("classification",) * len(task_names)
    types = (task_types,) if isinstance(task_types, str) else tuple(task_types)
    if len(types) != len(task_names):
        raise ConfigError(
            f"{owner} got {len(types)} task types {list(types)} for {len(task_names)} tasks {list(task_names)}"
        )
    for name, kind in zip(task_names, types, strict=True):
        if kind not in TASK_TYPES:
            raise ConfigError(
                f"{owner}: task type {kind!r} of task {name!r} must be one of {', '.join(sorted(TASK_TYPES))}"
            )
    return types


class UWLWeighter(BaseLossWeighter):
    """Weight each task by a learned uncertainty (Kendall et al., CVPR 2018).

    Each task ``i`` learns ``s_i = log σ_i²`` (initialised to 0, optimised with the model)
    and the combined loss is::

        Σ_i  c_i · exp(-s_i) · L_i  +  s_i / 2

    with ``c_i = 1/2`` for a regression task (``L/(2σ²) + log σ``, the Gaussian likelihood,
    eq. 7 of the paper) and ``c_i = 1`` for a classification task (``L/σ² + log σ``, the
    approximation of eq. 10). Learning ``log σ²`` rather than ``σ`` keeps the weight positive
    and the optimisation stable, as the paper recommends.

    Args:
        task_names: The tasks, in model output order.
        task_types: ``"classification"`` or ``"regression"`` per task (default: all
            classification).

    Raises:
        ConfigError: ``task_types`` does not match ``task_names``.
    """

    name: ClassVar[str] = "uwl"

    def __init__(self, task_names: Sequence[str], task_types: Sequence[str] | None = None) -> None:
        super().__init__(task_names)
        self.task_types = check_task_types(type(self).__name__, self.task_names, task_types)
        self.log_vars = nn.Parameter(torch.zeros(len(self.task_names)))
        self.register_buffer(
            "coefficients", torch.tensor([TASK_TYPES[kind] for kind in self.task_types]), persistent=False
        )

    def combine(self, losses: Mapping[str, Tensor]) -> Tensor:
        """Return ``Σ c_i·exp(-s_i)·L_i + s_i/2``; its gradient also trains ``log_vars``."""
        stacked = torch.stack(self.ordered_losses(losses))
        log_vars = self.log_vars.to(stacked.dtype)
        return (self.coefficients.to(stacked.dtype) * torch.exp(-log_vars) * stacked + 0.5 * log_vars).sum()

    def loss_weights(self) -> dict[str, float]:
        """Return each task's effective multiplier ``c_i·exp(-s_i)``."""
        weights = self.coefficients * torch.exp(-self.log_vars.detach())
        return {name: float(w) for name, w in zip(self.task_names, weights, strict=True)}

    def extra_repr(self) -> str:
        return f"task_names={list(self.task_names)}, task_types={list(self.task_types)}"
