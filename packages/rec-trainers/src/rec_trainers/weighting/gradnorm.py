"""GradNorm: task weights that equalise gradient norms on the last shared layer (Chen et al., 2018)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from rec_core.errors import ConfigError
from rec_core.weighting import BaseLossWeighter
from rec_trainers.weighting._grads import task_gradients
from rec_trainers.weighting._options import check_number

__all__ = ["GradNormWeighter"]

_BETAS = (0.9, 0.999)  # Adam's defaults, for the weights' own update
_EPS = 1e-8
_MIN_WEIGHT = 1e-4  # a weight never reaches 0 (or flips sign, which would ascend that task's loss)


class GradNormWeighter(BaseLossWeighter):
    """Learn task weights that balance the tasks' gradient norms (Chen et al., ICML 2018).

    The combined loss is ``Σ_i w_i·L_i`` with the current weights held constant; the model's
    gradients come from its backward pass. Then, on ``W`` (the last shared layer's parameters,
    the trainer's ``last_shared_parameters()``), :meth:`after_backward` computes

    - ``G_i = w_i·‖∇_W L_i‖₂``, with the per-task gradients averaged over DDP ranks;
    - ``L̃_i = L_i / L_i(0)`` (``L_i(0)``: the losses of the first step, averaged over ranks)
      and the relative inverse training rate ``r_i = L̃_i / mean(L̃)``;
    - the target ``mean(G)·r_i^α``, held constant, and ``L_grad = Σ_i |G_i − target_i|``;
    - ``∂L_grad/∂w_i = sign(G_i − target_i)·‖∇_W L_i‖₂`` (exact: ``G_i`` is linear in ``w_i``),
      one Adam step on ``w`` with learning rate ``lr`` (moments in buffers), and the
      renormalisation ``Σ_i w_i = T`` (the number of tasks).

    Everything lives in buffers (weights, initial losses, Adam moments, step count), so the
    trainer's optimizer leaves the weights alone and a checkpoint restores the exact state.
    Every rank computes the same update from the averaged gradients and losses.

    Args:
        task_names: The tasks, in model output order.
        alpha: The asymmetry ``α``; 0 pulls all gradient norms to their mean, larger values
            favour tasks that train slower. The paper's default, 1.5.
        lr: Learning rate of the weights' Adam update (0.025, the paper's value).

    Raises:
        ConfigError: ``alpha`` is negative or ``lr`` not positive.
    """

    name: ClassVar[str] = "gradnorm"
    retain_graph: ClassVar[bool] = True
    parameter_scope: ClassVar[str] = "last_shared"

    weights: Tensor
    initial_losses: Tensor
    exp_avg: Tensor
    exp_avg_sq: Tensor
    step: Tensor

    def __init__(self, task_names: Sequence[str], alpha: float = 1.5, lr: float = 0.025) -> None:
        super().__init__(task_names)
        owner = type(self).__name__
        self.alpha = check_number(owner, "alpha", alpha, lambda x: x >= 0.0, ">= 0")
        self.lr = check_number(owner, "lr", lr, lambda x: x > 0.0, "> 0")
        count = len(self.task_names)
        self.register_buffer("weights", torch.ones(count))
        self.register_buffer("initial_losses", torch.zeros(count))
        self.register_buffer("exp_avg", torch.zeros(count))
        self.register_buffer("exp_avg_sq", torch.zeros(count))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def combine(self, losses: Mapping[str, Tensor]) -> Tensor:
        """Return ``Σ w_i·L_i`` with the current weights (no gradient flows into them)."""
        stacked = torch.stack(self.ordered_losses(losses))
        return (self.weights.to(stacked.dtype) * stacked).sum()

    def after_backward(
        self,
        losses: Mapping[str, Tensor],
        shared_parameters: Sequence[nn.Parameter],
        *,
        loss_scale: float = 1.0,
    ) -> None:
        """Update the task weights by one GradNorm step; model gradients are left as they are.

        Args:
            losses: The task losses :meth:`combine` received, graph still alive.
            shared_parameters: ``W``, the last shared layer. Parameters that some task's loss
                does not reach (task-specific ones) are ignored.
            loss_scale: Accepted for a uniform signature; GradNorm reads its own gradients.

        Raises:
            ConfigError: No parameter is reached by every task's loss.
        """
        params = [p for p in shared_parameters if p.requires_grad]
        values = self.ordered_losses(losses)
        grads, reached = task_gradients(values, params, type(self).__name__)
        current = torch.stack([v.detach().float() for v in values]).to(reached.device)
        self.all_reduce_mean([g for row in grads for g in row] + [reached, current])
        shared = (reached > 0).all(dim=1).tolist()
        if not any(shared):
            raise ConfigError(
                f"{type(self).__name__} found no parameter reached by every task's loss among the "
                f"{len(params)} it was given; pass the last shared layer's parameters"
            )
        norms = torch.stack(
            [torch.sqrt(sum(g.float().pow(2).sum() for g, s in zip(row, shared, strict=True) if s)) for row in grads]
        )
        with torch.no_grad():
            self._update(norms.to(self.weights.device), current.to(self.weights.device))

    def _update(self, norms: Tensor, current: Tensor) -> None:
        if int(self.step) == 0:
            self.initial_losses.copy_(current)
        self.step += 1
        ratios = current / self.initial_losses.clamp_min(torch.finfo(current.dtype).tiny)
        rates = ratios / ratios.mean()
        grad_norms = self.weights * norms
        target = grad_norms.mean() * rates.pow(self.alpha)
        grad = torch.sign(grad_norms - target) * norms
        beta1, beta2 = _BETAS
        self.exp_avg.mul_(beta1).add_(grad, alpha=1.0 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
        t = int(self.step)
        denom = (self.exp_avg_sq / (1.0 - beta2**t)).sqrt_().add_(_EPS)
        self.weights.addcdiv_(self.exp_avg, denom, value=-self.lr / (1.0 - beta1**t))
        self.weights.clamp_(min=_MIN_WEIGHT)
        self.weights.mul_(len(self.task_names) / self.weights.sum())

    def loss_weights(self) -> dict[str, float]:
        """Return the current task weights ``w_i`` (they sum to the number of tasks)."""
        return {name: float(w) for name, w in zip(self.task_names, self.weights, strict=True)}

    def extra_repr(self) -> str:
        return f"task_names={list(self.task_names)}, alpha={self.alpha}, lr={self.lr}"
