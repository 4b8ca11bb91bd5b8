"""The common base of the multi-task models: task types, shared parameters, ``from_features``."""

from __future__ import annotations

import copy
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from torch import nn

from rec_core.errors import ConfigError
from rec_trainers.layers._features import Feature, check_features, check_pooled
from rec_trainers.layers.mlp import MLP
from rec_trainers.models.ranking._base import build_mlp

__all__ = [
    "TASK_TYPES",
    "MultiTaskModel",
    "build_hidden",
    "build_towers",
    "check_count",
    "check_task_types",
    "input_features",
    "last_linear",
    "trainable_parameters",
]

TASK_TYPES = ("classification", "regression")

ModelT = TypeVar("ModelT", bound="MultiTaskModel")


class MultiTaskModel(nn.Module):
    """Base class of the multi-task models: ``forward(x_dict)`` returns ``(B, n_task)`` raw outputs.

    Column ``i`` holds task ``i``'s **logit** when ``task_types[i] == "classification"``
    (no sigmoid: train with ``BCEWithLogitsLoss``) and its predicted value for
    ``"regression"``.

    Every model declares which of its parameters the tasks share
    (:meth:`shared_parameters`, for MetaBalance-like loss weighters) and which form the
    last shared layer (:meth:`last_shared_parameters`, GradNorm's ``W``).

    Subclasses set :attr:`default_params` and, where their constructor does not take
    ``(features, task_types, **params)``, override :meth:`constructor_args`.
    """

    default_params: ClassVar[Mapping[str, Any]] = {}
    #: ``"classification"`` or ``"regression"``, one per output column.
    task_types: list[str]
    #: Number of tasks (output columns).
    n_task: int

    @classmethod
    def from_features(
        cls: type[ModelT], features: Iterable[Feature], task_types: Sequence[str], **params: Any
    ) -> ModelT:
        """Build the model from one flat list of features, with sensible defaults.

        ``params`` replace entries of :attr:`default_params` (a dict such as
        ``expert_params`` is replaced whole, not merged).

        Args:
            features: Sparse, sequence and dense feature definitions.
            task_types: ``"classification"`` or ``"regression"`` per task, in output order.
            **params: Constructor arguments other than the features and tasks.

        Raises:
            ConfigError: For an unknown parameter, bad task types, or features the model
                cannot use.
        """
        features = check_features(features, cls.__name__)
        if not features:
            raise ConfigError(f"{cls.__name__} needs at least one feature")
        task_types = check_task_types(cls.__name__, task_types)
        unknown = sorted(set(params) - set(cls.default_params))
        if unknown:
            accepted = ", ".join(sorted(cls.default_params)) or "none"
            raise ConfigError(f"unknown parameter {unknown[0]!r} for {cls.__name__} (accepted: {accepted})")
        merged = {**copy.deepcopy(dict(cls.default_params)), **params}
        return cls(**cls.constructor_args(features, task_types, merged))

    @classmethod
    def constructor_args(cls, features: list[Feature], task_types: list[str], params: dict[str, Any]) -> dict[str, Any]:
        """Return the constructor's arguments; the default is ``features``, ``task_types`` and ``params``."""
        return {"features": features, "task_types": task_types, **params}

    def shared_parameters(self) -> list[nn.Parameter]:
        """Return the trainable parameters every task's output depends on by design."""
        raise NotImplementedError

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """Return the trainable parameters of the last shared layer (GradNorm's ``W``)."""
        raise NotImplementedError


def check_task_types(model: str, task_types: Sequence[str], only: str | None = None) -> list[str]:
    """Return ``task_types`` as a list after checking each entry.

    Args:
        model: Model name, for messages.
        task_types: ``"classification"`` or ``"regression"`` per task.
        only: The one type the model supports, if it supports only one.

    Raises:
        ConfigError: For an empty list, an unknown type, or a type the model does not support.
    """
    if isinstance(task_types, str) or not isinstance(task_types, Sequence):
        raise ConfigError(f"{model}: task_types must be a list like ['classification', 'regression'], "
                          f"got {task_types!r}")
    types = list(task_types)
    if not types:
        raise ConfigError(f"{model} needs at least one task in task_types")
    for kind in types:
        if kind not in TASK_TYPES:
            raise ConfigError(f"unknown task type {kind!r} for {model} (accepted: {', '.join(TASK_TYPES)})")
        if only is not None and kind != only:
            raise ConfigError(f"{model} supports only {only} tasks, got task_types={types}")
    return types


def input_features(model: str, features: Iterable[Feature]) -> list[Feature]:
    """Return ``features`` as a non-empty list of features that pool to one vector each.

    Raises:
        ConfigError: For no features, a non-feature, or a sequence with ``pooling="concat"``.
    """
    result = check_features(features, model)
    if not result:
        raise ConfigError(f"{model} needs at least one feature")
    check_pooled(result, model)
    return result


def check_count(model: str, name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as an ``int`` of at least ``minimum``.

    Raises:
        ConfigError: Naming the argument, for a non-integer or a value below ``minimum``.
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ConfigError(f"{model}: {name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{model}: {name} must be >= {minimum}, got {number}")
    return number


def build_towers(
    model: str, input_dim: int, tower_params_list: Sequence[Mapping[str, Any]] | Mapping[str, Any], n_task: int
) -> nn.ModuleList:
    """Build one tower MLP per task, each ending in one output unit.

    Args:
        model: Model name, for messages.
        input_dim: Width of the towers' input.
        tower_params_list: One ``mlp_params``-style dict per task (torch-rechub), or
            one dict used for every task.
        n_task: Number of tasks.

    Raises:
        ConfigError: For a list of the wrong length or a bad dict.
    """
    if isinstance(tower_params_list, Mapping):
        tower_params_list = [tower_params_list] * n_task
    if isinstance(tower_params_list, str) or not isinstance(tower_params_list, Sequence):
        raise ConfigError(f"{model}: tower_params_list must be a list of dicts, one per task, "
                          f"got {tower_params_list!r}")
    if len(tower_params_list) != n_task:
        raise ConfigError(f"{model}: tower_params_list has {len(tower_params_list)} entries for {n_task} tasks")
    return nn.ModuleList(
        build_mlp(f"{model} tower_params_list[{i}]", input_dim, params, output_layer=True)
        for i, params in enumerate(tower_params_list)
    )


def build_hidden(model: str, input_dim: int, params: Mapping[str, Any] | None, name: str) -> MLP:
    """Build a hidden MLP (a bottom or an expert) without an output unit.

    Args:
        model: Model name, for messages.
        input_dim: Width of the MLP's input.
        params: An ``mlp_params``-style dict with at least one hidden layer.
        name: The constructor argument ``params`` came from, for messages.

    Raises:
        ConfigError: For a bad dict or no hidden layer.
    """
    return build_mlp(f"{model} {name}", input_dim, params, output_layer=False)


def trainable_parameters(*modules: nn.Module) -> list[nn.Parameter]:
    """Return the trainable parameters of ``modules``, each once, in module order."""
    seen: set[int] = set()
    params = []
    for module in modules:
        for param in module.parameters():
            if param.requires_grad and id(param) not in seen:
                seen.add(id(param))
                params.append(param)
    return params


def last_linear(module: nn.Module) -> nn.Linear:
    """Return the last ``nn.Linear`` inside ``module``.

    Raises:
        ConfigError: If there is none.
    """
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ConfigError(f"{type(module).__name__} has no linear layer")
    return linears[-1]
