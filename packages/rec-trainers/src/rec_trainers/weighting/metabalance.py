"""MetaBalance: auxiliary-task gradients rescaled toward the main task's magnitude (He et al., 2022)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from rec_core.errors import ConfigError
from rec_core.weighting import BaseLossWeighter
from rec_trainers.weighting._grads import task_gradients
from rec_trainers.weighting._options import check_number

__all__ = ["MetaBalanceWeighter"]


class MetaBalanceWeighter(BaseLossWeighter):
    """Bring each auxiliary task's shared gradients closer to the main task's (He et al., WWW 2022).

    The combined loss is the plain sum ``Σ_i L_i``. After its backward pass,
    :meth:`after_backward` computes each task's gradient ``G_i`` on every shared parameter
    tensor ``θ`` (averaged over DDP ranks) and, per tensor ("adaptively for each part of the
    network", Algorithm 1 of the paper):

    - the moving averages ``m_i ← β·m_i + (1−β)·‖G_i‖₂`` (in a buffer, one per tensor and task);
    - for each auxiliary task, ``G_aux ← G_aux·(m_main/m_aux)·r + G_aux·(1−r)`` with the relax
      factor ``r``: ``r = 1`` matches the magnitudes exactly, ``r = 0`` leaves them alone;
    - the shared gradient ``G_main + Σ_aux G_aux``.

    The shared ``.grad`` is changed by the difference between the rescaled and the original
    sum, so gradient accumulation and DDP stay right and every rank ends with the same
    shared gradients. A tensor that the main task's loss has never reached (``m_main = 0``:
    a task-specific layer) is left untouched, as is every gradient of the main task.

    Args:
        task_names: The tasks, in model output order.
        relax_factor: ``r`` in ``[0, 1]`` (0.7, the paper's most frequent best value).
        beta: Moving-average coefficient ``β`` in ``[0, 1)`` (0.9).
        main_task: The main (target) task, by index or name (default: the first).

    Raises:
        ConfigError: An option is out of range or ``main_task`` names no task.
    """

    name: ClassVar[str] = "metabalance"
    retain_graph: ClassVar[bool] = True
    parameter_scope: ClassVar[str] = "shared"

    running_norms: Tensor

    def __init__(
        self,
        task_names: Sequence[str],
        relax_factor: float = 0.7,
        beta: float = 0.9,
        main_task: int | str = 0,
    ) -> None:
        super().__init__(task_names)
        owner = type(self).__name__
        self.relax_factor = check_number(owner, "relax_factor", relax_factor, lambda x: 0.0 <= x <= 1.0, "in [0, 1]")
        self.beta = check_number(owner, "beta", beta, lambda x: 0.0 <= x < 1.0, "in [0, 1)")
        self.main_index = self._main_index(main_task)
        # (shared tensors, tasks); sized by the first after_backward, which learns the tensors.
        self.register_buffer("running_norms", torch.zeros(0, len(self.task_names)))

    def _main_index(self, main_task: object) -> int:
        if isinstance(main_task, str) and main_task in self.task_names:
            return self.task_names.index(main_task)
        if isinstance(main_task, int) and not isinstance(main_task, bool):
            if -len(self.task_names) <= main_task < len(self.task_names):
                return main_task % len(self.task_names)
        raise ConfigError(
            f"{type(self).__name__} option 'main_task' must be a task name or index, got {main_task!r} "
            f"(tasks: {list(self.task_names)})"
        )

    @property
    def main_task(self) -> str:
        """Return the main task's name."""
        return self.task_names[self.main_index]

    def combine(self, losses: Mapping[str, Tensor]) -> Tensor:
        """Return the plain sum of the task losses."""
        first, *rest = self.ordered_losses(losses)
        return sum(rest, first)

    def after_backward(
        self,
        losses: Mapping[str, Tensor],
        shared_parameters: Sequence[nn.Parameter],
        *,
        loss_scale: float = 1.0,
    ) -> None:
        """Rescale the auxiliary tasks' share of the shared gradients.

        Args:
            losses: The task losses :meth:`combine` received, graph still alive.
            shared_parameters: The shared parameters, in a stable order (the same every step).
            loss_scale: The factor the combined loss was multiplied by before its backward
                pass (``1/accumulate_grad_batches`` times an AMP scaler's scale), so that the
                correction matches what ``.grad`` holds.

        Raises:
            ConfigError: The number of shared parameters changed since the first step.
        """
        params = [p for p in shared_parameters if p.requires_grad]
        if not params:
            return
        grads, _ = task_gradients(self.ordered_losses(losses), params, type(self).__name__)
        self.all_reduce_mean([g for row in grads for g in row])
        self._track(len(params))
        with torch.no_grad():
            norms = torch.stack([torch.stack([g.float().norm() for g in row]) for row in grads], dim=1)
            self.running_norms.mul_(self.beta).add_(norms.to(self.running_norms.device), alpha=1.0 - self.beta)
            scales = self._scales().tolist()
            for k, param in enumerate(params):
                delta: Tensor | None = None
                for i, row in enumerate(grads):
                    if scales[k][i] != 1.0:
                        term = row[k] * (scales[k][i] - 1.0)
                        delta = term if delta is None else delta + term
                if delta is None:
                    continue
                delta = delta.to(param.dtype) * loss_scale
                if param.grad is None:
                    param.grad = delta
                else:
                    param.grad.add_(delta)

    def _track(self, count: int) -> None:
        tracked = self.running_norms.shape[0]
        if tracked == 0:
            self.running_norms = torch.zeros(count, len(self.task_names), device=self.running_norms.device)
        elif tracked != count:
            raise ConfigError(
                f"{type(self).__name__} was given {count} shared parameters but has tracked {tracked} "
                f"since its first step; pass the same shared parameters every step"
            )

    def _scales(self) -> Tensor:
        """Return the ``(tensors, tasks)`` factors ``(m_main/m_aux)·r + 1 − r`` (1 where undefined)."""
        norms = self.running_norms
        main = norms[:, self.main_index : self.main_index + 1]
        defined = (main > 0) & (norms > 0)
        ratio = torch.where(defined, main / norms.where(defined, torch.ones_like(norms)), torch.ones_like(norms))
        scales = ratio * self.relax_factor + (1.0 - self.relax_factor)
        scales[:, self.main_index] = 1.0
        return scales

    def loss_weights(self) -> dict[str, float]:
        """Return each task's effective scale: ``‖(s·m)_i‖ / ‖m_i‖`` over the shared tensors (main: 1).

        ``s`` are the current per-tensor factors and ``m`` the moving-average gradient norms,
        so an auxiliary task whose gradients are halved everywhere reports 0.5.
        """
        norms = self.running_norms
        if norms.numel() == 0:
            return dict.fromkeys(self.task_names, 1.0)
        scaled = (self._scales() * norms).norm(dim=0)
        plain = norms.norm(dim=0)
        weights = torch.where(plain > 0, scaled / plain.clamp_min(torch.finfo(plain.dtype).tiny), 1.0)
        weights[self.main_index] = 1.0
        return {name: float(w) for name, w in zip(self.task_names, weights, strict=True)}

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # The norms are sized on the first step; a fresh weighter takes the saved size.
        saved = state_dict.get(prefix + "running_norms")
        fresh = self.running_norms.shape[0] == 0
        if isinstance(saved, Tensor) and fresh and saved.shape[1:] == self.running_norms.shape[1:]:
            self.running_norms = torch.zeros_like(saved, device=self.running_norms.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return (
            f"task_names={list(self.task_names)}, relax_factor={self.relax_factor}, beta={self.beta}, "
            f"main_task={self.main_task!r}"
        )
