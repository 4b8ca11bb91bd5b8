"""The loss-weighting contract of multi-task training, and the plain-sum weighter.

A multi-task trainer computes one loss per task and hands the dictionary to a
:class:`BaseLossWeighter`; the weighter turns it into the single loss to back-propagate
and may then adjust shared-layer gradients. The trainer's step is::

    loss = weighter.combine(losses)
    loss.backward(retain_graph=weighter.retain_graph)
    weighter.after_backward(losses, shared_parameters)
    optimizer.step()  # over model.parameters() and weighter.parameters()

A weighter is an ``nn.Module``: its own parameters (e.g. learned task uncertainties) are
optimised with the model and saved with its ``state_dict()`` in the checkpoint.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from torch import Tensor

from rec_core.errors import ConfigError

__all__ = ["BaseLossWeighter", "EqualWeighter"]


class BaseLossWeighter(torch.nn.Module, abc.ABC):
    """Combine per-task losses into one, optionally steering shared gradients.

    Subclasses implement :meth:`combine` and, where the weights are not all 1, override
    :meth:`loss_weights`; gradient-balancing methods (MetaBalance, GradNorm) also
    override :meth:`after_backward` and set :attr:`retain_graph`. Register a subclass
    under :attr:`name` through the ``rec_register_loss_weighters`` hook.

    Args:
        task_names: The tasks, in the order the model outputs them; unique, non-empty.

    Raises:
        ConfigError: ``task_names`` is empty, holds a non-string or a duplicate.
    """

    #: Registry name, lowercase ``[a-z0-9-]``.
    name: ClassVar[str]
    #: Whether :meth:`after_backward` differentiates the task losses again, so the
    #: trainer must keep the graph alive during ``loss.backward()``.
    retain_graph: ClassVar[bool] = False
    #: Which parameters :meth:`after_backward` receives: ``"shared"`` (every parameter the
    #: tasks share, e.g. MetaBalance) or ``"last_shared"`` (the last shared layer, e.g. GradNorm).
    parameter_scope: ClassVar[str] = "shared"

    def __init__(self, task_names: Sequence[str]) -> None:
        super().__init__()
        names = tuple(task_names) if not isinstance(task_names, str) else (task_names,)
        if not names:
            raise ConfigError(f"{type(self).__name__} needs at least one task name")
        not_str = [name for name in names if not isinstance(name, str)]
        if not_str:
            raise ConfigError(f"{type(self).__name__}: task names must be strings, got {not_str}")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError(f"{type(self).__name__}: duplicate task names {duplicates}")
        self.task_names: tuple[str, ...] = names

    def forward(self, losses: Mapping[str, Tensor]) -> Tensor:
        """Return :meth:`combine` of ``losses``, so ``weighter(losses)`` works too."""
        return self.combine(losses)

    @abc.abstractmethod
    def combine(self, losses: Mapping[str, Tensor]) -> Tensor:
        """Return the scalar loss to back-propagate.

        Implementations should read the losses through :meth:`ordered_losses`, which
        checks the keys.

        Args:
            losses: One scalar loss tensor per task, keyed by task name.

        Raises:
            ConfigError: The keys of ``losses`` differ from :attr:`task_names`.
        """

    def after_backward(
        self, losses: Mapping[str, Tensor], shared_parameters: Sequence[torch.nn.Parameter], *,
        loss_scale: float = 1.0,
    ) -> None:
        """Adjust gradients after ``loss.backward()`` and before the optimizer step.

        May read and overwrite ``.grad`` of ``shared_parameters`` (the layers all tasks
        share) and set the gradients of the weighter's own parameters. The task losses
        are still differentiable when :attr:`retain_graph` is true. The default does
        nothing.

        Args:
            losses: The same task losses :meth:`combine` received.
            shared_parameters: Parameters of the shared layers, in a stable order.
            loss_scale: What the trainer multiplied the combined loss by before backward
                (``1 / accumulate_grad_batches`` times the fp16 gradient scaler's scale), so
                ``.grad`` holds that multiple of the losses' own gradients. The trainer passes
                it only to overrides that accept it.
        """

    @staticmethod
    def all_reduce_mean(tensors: Sequence[Tensor]) -> None:
        """Average ``tensors`` in place over the ranks of a DDP run (a no-op on one process).

        A weighter that reads per-task gradients in :meth:`after_backward` (they are local to
        the rank) averages them first, so every rank rescales the shared gradients identically.
        """
        from rec_core.distributed import average_in_place

        average_in_place(tensors)

    def loss_weights(self) -> dict[str, float]:
        """Return the current weight of each task, logged as ``loss_weight/<task>``.

        The default returns an empty dictionary (nothing logged); override it when the
        weights mean something.
        """
        return {}

    def ordered_losses(self, losses: Mapping[str, Tensor]) -> list[Tensor]:
        """Return the task losses in :attr:`task_names` order, checking the keys.

        Raises:
            ConfigError: A task's loss is missing or an unknown task's loss is present.
        """
        missing = [name for name in self.task_names if name not in losses]
        extra = [str(name) for name in losses if name not in self.task_names]
        if missing or extra:
            problems = []
            if missing:
                problems.append(f"missing {missing}")
            if extra:
                problems.append(f"unexpected {extra}")
            raise ConfigError(
                f"loss weighter {type(self).__name__} got losses for {list(losses)} but its "
                f"tasks are {list(self.task_names)}: {', '.join(problems)}"
            )
        return [losses[name] for name in self.task_names]

    def extra_repr(self) -> str:
        return f"task_names={list(self.task_names)}"


class EqualWeighter(BaseLossWeighter):
    """Sum the task losses, every weight 1.0 (the default of multi-task training)."""

    name: ClassVar[str] = "equal"

    def combine(self, losses: Mapping[str, Tensor]) -> Tensor:
        """Return the sum of the task losses."""
        first, *rest = self.ordered_losses(losses)
        return sum(rest, first)

    def loss_weights(self) -> dict[str, float]:
        """Return 1.0 for every task."""
        return dict.fromkeys(self.task_names, 1.0)
