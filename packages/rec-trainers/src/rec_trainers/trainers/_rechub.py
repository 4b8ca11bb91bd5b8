"""What the torch-rechub-style trainers share: keyword mapping and the ``(model, loader)`` forms.

torch-rechub's trainers take their settings as keyword arguments (``None`` meaning "not
given") and offer ``evaluate(model, data_loader)`` / ``predict(model, data_loader)``, which
run a given model over a loader outside the engine's evaluators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["collect_outputs", "rechub_overrides", "write_best_weights"]


def rechub_overrides(regularization_params: dict[str, float] | None = None, **named: Any) -> dict[str, Any]:
    """Return a torch-rechub trainer's keyword arguments that were given, as config overrides.

    ``None`` means "not given" (the trainer's default applies); ``regularization_params``
    expands into its four fields.
    """
    return {k: v for k, v in {**named, **(regularization_params or {})}.items() if v is not None}


@torch.no_grad()
def collect_outputs(
    trainer: Any, model: nn.Module, loader: Any, outputs: Callable[[nn.Module, Any], torch.Tensor], *,
    with_target: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run ``outputs(model, x)`` over ``loader`` (eval mode, the trainer's device and autocast).

    Returns:
        ``(predictions, targets)`` concatenated on the CPU; ``targets`` (each batch's second
        element, shaped like its predictions) is ``None`` when ``with_target`` is false.
    """
    was_training = model.training
    model.eval()
    preds, targets = [], []
    try:
        for batch in loader:
            batch = trainer.transfer_batch(batch)
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            with trainer.precision.autocast():
                preds.append(outputs(model, x).float().cpu())
            if with_target:
                targets.append(batch[1].float().reshape(preds[-1].shape).cpu())
    finally:
        model.train(was_training)
    pred = torch.cat(preds) if preds else torch.empty(0)
    return pred, (torch.cat(targets) if targets else torch.empty(0)) if with_target else None


def write_best_weights(trainer: Any, file_name: str = "model.pth", **fit_kwargs: Any) -> None:
    """Write the model's (best) weights, unwrapped, to ``file_name`` in the checkpoint folder, as torch-rechub does.

    Only rank 0 writes, and nothing is written for ``fit(..., saved=False)``.
    """
    if not fit_kwargs.get("saved", True) or not trainer.is_global_zero:
        return
    from pathlib import Path

    from rec_core.checkpoint import atomic_torch_save, strip_module_prefix

    atomic_torch_save(strip_module_prefix(trainer.model.state_dict()), Path(trainer.config.checkpoint_dir) / file_name)
