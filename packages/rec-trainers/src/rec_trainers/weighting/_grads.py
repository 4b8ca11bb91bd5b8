"""Per-task gradients on a list of parameters, the common step of gradient-balancing weighters."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rec_core.errors import ConfigError

__all__ = ["task_gradients"]


def task_gradients(losses: Sequence[Tensor], params: Sequence[Tensor], owner: str) -> tuple[list[list[Tensor]], Tensor]:
    """Return each task's gradient on ``params`` and which parameters each task's loss reaches.

    The graph must still be alive (the weighter's ``retain_graph`` is true); it is released
    by the last task's differentiation, since nothing needs it after ``after_backward``.

    Args:
        losses: One scalar loss per task.
        params: The parameters to differentiate with respect to.
        owner: The weighter's class name, for error messages.

    Returns:
        ``grads[i][k]``, the gradient of task ``i`` on parameter ``k`` (zeros where the loss
        does not reach the parameter), and a ``(len(params), len(losses))`` float mask, 1.0
        where task ``i`` reaches parameter ``k``.

    Raises:
        ConfigError: A gradient is sparse (e.g. ``nn.Embedding(sparse=True)`` in a shared layer).
    """
    grads: list[list[Tensor]] = []
    device = params[0].device if params else None
    reached = torch.zeros(len(params), len(losses), device=device)
    last = max((i for i, loss in enumerate(losses) if loss.requires_grad), default=-1)
    for i, loss in enumerate(losses):
        found: Sequence[Tensor | None] = (
            torch.autograd.grad(loss, params, retain_graph=i != last, allow_unused=True)
            if loss.requires_grad
            else [None] * len(params)
        )
        row = []
        for k, (param, grad) in enumerate(zip(params, found, strict=True)):
            if grad is None:
                row.append(torch.zeros_like(param))
                continue
            if grad.is_sparse:
                raise ConfigError(
                    f"{owner} cannot balance sparse gradients (shared parameter #{k}, shape "
                    f"{tuple(param.shape)}); build shared embeddings with sparse=False"
                )
            reached[k, i] = 1.0
            row.append(grad)
        grads.append(row)
    return grads, reached
