"""Optimizers for embedding tables with sparse gradients.

:class:`RowAdam` is "lazy" Adam for ``nn.Embedding(sparse=True)`` weights: each step reads
and writes only the rows the batch looked up (their moments, their weights), with a
handful of whole-tensor ops per table. ``torch.optim.SparseAdam`` computes the same
update through sparse-tensor arithmetic that costs several times more on CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["RowAdam"]


class RowAdam(torch.optim.Optimizer):
    """Adam that updates only the rows present in a sparse gradient (lazy Adam).

    Rows not looked up in a step keep their weights and moments, exactly as with
    ``torch.optim.SparseAdam``; bias correction uses the per-table step count. Dense
    gradients are accepted too (every row is then updated, as in plain Adam).

    Args:
        params: embedding weights (or parameter groups).
        lr: learning rate.
        betas: coefficients of the running averages of the gradient and its square.
        eps: term added to the denominator.
    """

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        if lr <= 0 or eps <= 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"invalid RowAdam settings: lr={lr}, betas={betas}, eps={eps}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Take one optimization step; return the closure's loss if one is given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                state["step"] += 1
                step = float(state["step"])
                grad = param.grad
                if grad.is_sparse:
                    grad = grad.coalesce()
                    rows, values = grad.indices()[0], grad.values()
                else:
                    rows, values = None, grad
                _update(param, state["exp_avg"], state["exp_avg_sq"], rows, values, group, beta1, beta2, step)
        return loss


def _update(
    param: torch.Tensor,
    exp_avg: torch.Tensor,
    exp_avg_sq: torch.Tensor,
    rows: torch.Tensor | None,
    grad: torch.Tensor,
    group: dict[str, Any],
    beta1: float,
    beta2: float,
    step: float,
) -> None:
    if rows is None:
        m, v = exp_avg, exp_avg_sq
        m.lerp_(grad, 1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    else:
        m = exp_avg.index_select(0, rows).lerp_(grad, 1 - beta1)
        v = exp_avg_sq.index_select(0, rows).mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        exp_avg.index_copy_(0, rows, m)
        exp_avg_sq.index_copy_(0, rows, v)
    bias1 = 1 - beta1**step
    bias2 = 1 - beta2**step
    denom = (v / bias2).sqrt_().add_(group["eps"])
    update = (m / denom).mul_(-group["lr"] / bias1)
    if rows is None:
        param.add_(update)
    else:
        param.index_add_(0, rows, update)
