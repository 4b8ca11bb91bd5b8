"""torch-rechub's `EarlyStopper`, kept for hand-written training loops.

Scripts written for ``torch_rechub.basic.callback.EarlyStopper`` run unchanged after
importing it from `rec_core.callbacks` instead. Inside `BaseTrainer.fit` use the
`EarlyStopping` callback.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["EarlyStopper"]


class EarlyStopper:
    """Stop a manual training loop when the validation AUC stops improving.

    Higher is better and only a strict increase over `best_auc` (which starts at 0) counts
    as an improvement; NaN never does. On an improvement the weights are copied to the CPU
    and the counter resets. Otherwise the counter grows, and the `patience`-th call in a
    row without improvement returns True (leaving `trial_counter` at ``patience - 1``, as
    torch-rechub does).

    Args:
        patience: Validations in a row without improvement before stopping.

    Attributes:
        best_auc: Best validation AUC seen so far.
        best_weights: CPU copy of the state dict of the best model, or None.
        trial_counter: Validations in a row without improvement (up to ``patience - 1``).

    Example:
        >>> stopper = EarlyStopper(patience=2)
        >>> [stopper.stop_training(auc, {}) for auc in (0.7, 0.6, 0.65)]
        [False, False, True]
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.trial_counter = 0
        self.best_auc: float = 0
        self.best_weights: dict[str, Any] | None = None

    def stop_training(self, val_auc: float, weights: Mapping[str, Any]) -> bool:
        """Record this validation and return whether to stop training.

        Args:
            val_auc: The AUC (or any higher-is-better score) on the validation data.
            weights: The model's current ``state_dict()``.

        Returns:
            True when `patience` validations in a row brought no improvement.
        """
        if val_auc > self.best_auc:
            self.best_auc = float(val_auc)
            self.trial_counter = 0
            self.best_weights = _cpu_copy(weights)
            return False
        if self.trial_counter + 1 < self.patience:
            self.trial_counter += 1
            return False
        return True


def _cpu_copy(weights: Mapping[str, Any]) -> dict[str, Any]:
    """Return a deep copy of `weights` with every tensor cloned onto the CPU."""
    import torch  # lazily: registering the callbacks must not import torch

    copied: OrderedDict[str, Any] = OrderedDict()
    for key, value in weights.items():
        if isinstance(value, torch.Tensor):
            # .to() would return the same tensor when it is already on the CPU.
            copied[key] = value.detach().to("cpu", copy=True)
        else:
            copied[key] = copy.deepcopy(value)
    # load_state_dict reads per-module versions from here (e.g. for BatchNorm).
    metadata = getattr(weights, "_metadata", None)
    if metadata is not None:
        copied._metadata = copy.deepcopy(metadata)  # type: ignore[attr-defined]
    return copied
