"""``MTLTrainer``: multi-task learning on the rec engine, with pluggable loss weighting.

torch-rechub's constructor and methods (``train_one_epoch``, ``fit(train, val, mode,
seed)``, ``evaluate(model, data_loader) -> per-task scores``, ``predict(model,
data_loader) -> per-task outputs``). The model returns one column per task: logits for
classification tasks, values for regression tasks. Each task's loss (BCE with logits, or
MSE) is a part ``task_i`` of a multi-part loss that a loss weighter combines: ``equal``
by default, ``uwl``, ``gradnorm`` or ``metabalance`` through ``adaptive_params`` (as in
torch-rechub) or ``--weighter``. The engine logs ``train/task_i_loss`` and
``loss_weight/task_i``; validation reports ``task_i_score`` (AUC for classification, MSE
for regression) plus ``task_i_auc``/``task_i_logloss`` or ``task_i_mse``; early stopping
and the best weights follow task ``earlystop_taskid``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from rec_core import BaseTrainer, TrainingConfig
from rec_core.config import split_rechub_kwargs
from rec_core.errors import ConfigError
from rec_core.metrics import auc, log_loss, mse
from rec_trainers.trainers._rechub import collect_outputs, rechub_overrides, write_best_weights
from rec_trainers.trainers._regularization import Regularization, RegularizationSettings

if TYPE_CHECKING:
    from rec_core.datasets import TaskData
    from rec_core.plugins import RecPluginManager
    from rec_core.registry import Registration

__all__ = ["TASK_TYPES", "MTLConfig", "MTLTrainer", "task_types_of"]

TASK_TYPES = ("classification", "regression")
_SCORE_MONITOR = re.compile(r"^val/task_\d+_score$")


@dataclass
class MTLConfig(TrainingConfig, RegularizationSettings):
    """:class:`TrainingConfig` plus the multi-task trainer's settings.

    Attributes:
        earlystop_taskid: The task whose validation score early stopping and model
            selection follow (``monitor`` becomes ``val/task_<id>_score``).
        adaptive_params: torch-rechub's ``{"method": "uwl" | "metabalance" | "gradnorm",
            **options}``; empty for equal weights (or a ``--weighter``).
    """

    earlystop_taskid: int = 0
    adaptive_params: dict[str, Any] = field(default_factory=dict)

    def _check_values(self) -> None:
        super()._check_values()
        if self.earlystop_taskid < 0:
            raise ConfigError(f"config key 'earlystop_taskid' must be >= 0 (got {self.earlystop_taskid})")


def task_types_of(targets: dict[str, str]) -> list[str]:
    """Return the task type of each target kind: ``binary`` -> classification, ``regression`` -> regression.

    Raises:
        ConfigError: a target kind a multi-task model cannot learn.
    """
    mapping = {"binary": "classification", "regression": "regression"}
    unknown = {name: kind for name, kind in targets.items() if kind not in mapping}
    if unknown:
        name, kind = next(iter(unknown.items()))
        raise ConfigError(f"target {name!r} is of kind {kind!r}; multi-task training takes binary or "
                          "regression targets")
    return [mapping[kind] for kind in targets.values()]


class MTLTrainer(BaseTrainer):
    """Train a multi-task model: one loss part per task, combined by a loss weighter.

    Args:
        model: a multi-task model (``rec_trainers.models.multi_task``) or any module mapping a
            feature dict to ``(batch, n_task)`` outputs; it may declare ``shared_parameters()``
            and ``last_shared_parameters()`` for the gradient-balancing weighters.
        task_types: ``"classification"`` or ``"regression"`` per task; ``None`` takes the
            model's ``task_types``.
        optimizer_fn, optimizer_params, regularization_params, scheduler_fn, scheduler_params,
        n_epoch, earlystop_patience, device, gpus, model_path, model_logger: as for CTRTrainer.
        adaptive_params: ``{"method": "uwl" | "metabalance" | "gradnorm", **options}``.
        earlystop_taskid: the task early stopping follows (default 0).
        earlystop_mode: ``"max"``/``"min"`` for that task's score; ``None`` derives it from
            the task type (AUC rises, MSE falls).
        config: an :class:`MTLConfig`; keyword arguments override its fields.

    Raises:
        ConfigError: unknown task types, a task count the model does not produce, an
            ``earlystop_taskid`` out of range or an unknown adaptive method.
    """

    config_class: ClassVar[type[TrainingConfig]] = MTLConfig
    config_defaults: ClassVar[dict[str, Any]] = {
        "max_epochs": 10,
        "early_stopping_patience": 10,
        "monitor": "val/task_0_score",
        "weight_decay": 1e-5,
        "batch_size": 1024,
        "save_top_k": 1,
    }
    default_model: ClassVar[str | None] = "mmoe"
    default_data: ClassVar[str | None] = "census-income"
    batch_metrics: ClassVar[tuple[str, ...]] = ()  # set per instance from the task types

    def __init__(
        self,
        model: nn.Module,
        task_types: list[str] | None = None,
        optimizer_fn: Any = None,
        optimizer_params: dict[str, Any] | None = None,
        regularization_params: dict[str, float] | None = None,
        scheduler_fn: Any = None,
        scheduler_params: dict[str, Any] | None = None,
        adaptive_params: dict[str, Any] | None = None,
        n_epoch: int | None = None,
        earlystop_taskid: int | None = None,
        earlystop_patience: int | None = None,
        device: str | None = None,
        gpus: list[int] | None = None,
        model_path: str | None = None,
        model_logger: Any = None,
        earlystop_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        overrides = rechub_overrides(
            regularization_params, optimizer_fn=optimizer_fn, optimizer_params=optimizer_params,
            scheduler_fn=scheduler_fn, scheduler_params=scheduler_params, adaptive_params=adaptive_params,
            n_epoch=n_epoch, earlystop_taskid=earlystop_taskid, earlystop_patience=earlystop_patience,
            device=device, gpus=gpus, model_path=model_path,
        )
        passed = {name: kwargs.pop(name) for name in ("loggers", "callbacks") if name in kwargs}
        weighter = kwargs.pop("loss_weighter", None)
        # The config is resolved here, before the engine starts, because the monitored
        # metric and the loss weighter depend on the task types.
        values, objects = split_rechub_kwargs({**overrides, **kwargs})
        base = self._adopt_config(values.pop("config", None))
        config = base.replace(**values) if values else base
        declared = task_types if task_types is not None else getattr(model, "task_types", None)
        self.task_types = _check_task_types(declared)
        self._trained = _trained_tasks(model, len(self.task_types))
        config = self._monitor_task(config, earlystop_mode)
        self.batch_metrics = _metric_names(self.task_types)
        if weighter is None and config.adaptive_params:  # type: ignore[attr-defined]
            from rec_trainers.weighting import weighter_from_adaptive_params

            weighter = weighter_from_adaptive_params(
                config.adaptive_params, self.loss_names, [self.task_types[i] for i in self._trained]  # type: ignore[attr-defined]
            )
        super().__init__(model, config, loss_weighter=weighter, model_logger=model_logger, **passed, **objects)
        self.regularization = Regularization(self.model, self.config)

    # -- configuration ------------------------------------------------------------------
    @property
    def n_task(self) -> int:
        """Return the number of tasks."""
        return len(self.task_types)

    @property
    def trained_tasks(self) -> list[int]:
        """Return the tasks with a loss: all, unless the model declares ``trained_tasks`` (ESMM: CTR and CTCVR)."""
        return list(self._trained)

    @property
    def loss_names(self) -> list[str]:
        """Return the loss part names ``task_i`` of the trained tasks (torch-rechub's log names)."""
        return [f"task_{i}" for i in self.trained_tasks]

    def _monitor_task(self, config: TrainingConfig, mode: str | None) -> TrainingConfig:
        """Point ``monitor`` at ``val/task_<earlystop_taskid>_score`` with the task type's direction."""
        task = config.earlystop_taskid  # type: ignore[attr-defined]
        if task >= len(self.task_types):
            raise ConfigError(f"earlystop_taskid {task} is out of range: the model has {len(self.task_types)} tasks")
        if not _SCORE_MONITOR.match(config.monitor):
            return config  # the user chose another metric (e.g. val/task_1_logloss)
        direction = mode or ("max" if self.task_types[task] == "classification" else "min")
        return config.replace(monitor=f"val/task_{task}_score", mode=direction)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Return the parameters the model declares shared (all trainable ones if it declares none)."""
        declared = getattr(self.model, "shared_parameters", None)
        return list(declared()) if callable(declared) else super().shared_parameters()

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """Return the model's last shared layer (GradNorm's ``W``), or the shared parameters."""
        declared = getattr(self.model, "last_shared_parameters", None)
        return list(declared()) if callable(declared) else self.shared_parameters()

    # -- steps --------------------------------------------------------------------------
    def _outputs(self, network: nn.Module, x: Any) -> torch.Tensor:
        out = network(x)
        if out.dim() == 1:
            out = out.unsqueeze(-1)
        if out.shape[-1] != self.n_task:
            raise ConfigError(f"{type(self.model).__name__} returned {out.shape[-1]} outputs for {self.n_task} tasks")
        return out.float()

    def _probabilities(self, out: torch.Tensor) -> torch.Tensor:
        columns = [torch.sigmoid(out[:, i]) if kind == "classification" else out[:, i]
                   for i, kind in enumerate(self.task_types)]
        return torch.stack(columns, dim=1)

    def training_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """Return one loss per trained task (BCE with logits or MSE); the regularization joins the first."""
        x, y = batch
        out = self._outputs(self.network, x)
        y = y.float().reshape(out.shape)
        losses = {}
        for i in self.trained_tasks:
            loss_fn = nn.functional.binary_cross_entropy_with_logits if self.task_types[i] == "classification" \
                else nn.functional.mse_loss
            losses[f"task_{i}"] = loss_fn(out[:, i], y[:, i])
        penalty = self.regularization.penalty()
        if penalty is not None:
            losses[self.loss_names[0]] = losses[self.loss_names[0]] + penalty
        return losses

    def validation_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """Return per-task predictions (probabilities or values) and targets."""
        x, y = batch
        out = self._outputs(self.model, x)
        return {"pred": self._probabilities(out), "target": y.float().reshape(out.shape)}

    def compute_metrics(self, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        """Return ``task_i_score`` and ``task_i_auc``/``task_i_logloss`` or ``task_i_mse`` for every task."""
        target, pred = outputs["target"].cpu().numpy(), outputs["pred"].cpu().numpy()
        metrics: dict[str, float] = {}
        for i, kind in enumerate(self.task_types):
            if kind == "classification":
                metrics[f"task_{i}_auc"] = auc(target[:, i], pred[:, i])
                metrics[f"task_{i}_logloss"] = log_loss(target[:, i], pred[:, i])
                metrics[f"task_{i}_score"] = metrics[f"task_{i}_auc"]
            else:
                metrics[f"task_{i}_mse"] = mse(target[:, i], pred[:, i])
                metrics[f"task_{i}_score"] = metrics[f"task_{i}_mse"]
        return metrics

    def predict_step(self, batch: Any) -> torch.Tensor:
        """Return ``(batch, n_task)`` probabilities (classification) and values (regression)."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self._probabilities(self._outputs(self.model, x))

    # -- torch-rechub style ---------------------------------------------------------------
    def fit(self, train_loader: Any, val_loader: Any = None, mode: str = "base", seed: int = 0,
            **kwargs: Any) -> tuple[float, Any]:
        """Train (see :meth:`BaseTrainer.fit`); the best weights also go to ``model_{mode}_{seed}.pth``.

        ``mode`` and ``seed`` only name that file, as in torch-rechub.
        """
        result = super().fit(train_loader, val_loader, **kwargs)
        write_best_weights(self, f"model_{mode}_{seed}.pth", **kwargs)
        return result

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """``evaluate(model, data_loader) -> [score per task]`` (torch-rechub) or the RecBole form (a dict)."""
        if args and isinstance(args[0], nn.Module):
            loader = args[1] if len(args) > 1 else kwargs["data_loader"]
            metrics = self.compute_metrics(self._collect(args[0], loader))
            return [metrics[f"task_{i}_score"] for i in range(self.n_task)]
        return super().evaluate(*args, **kwargs)

    def predict(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """``predict(model, data_loader) -> [[output per task] per row]`` (torch-rechub) or a tensor."""
        if args and isinstance(args[0], nn.Module):
            loader = args[1] if len(args) > 1 else kwargs["data_loader"]
            return self._collect(args[0], loader, with_target=False)["pred"].tolist()
        return super().predict(*args, **kwargs)

    def _collect(self, model: nn.Module, loader: Any, *, with_target: bool = True) -> dict[str, torch.Tensor]:
        pred, target = collect_outputs(self, model, loader, lambda m, x: self._probabilities(self._outputs(m, x)),
                                       with_target=with_target)
        pred = pred.reshape(-1, self.n_task)
        return {"pred": pred, "target": target.reshape(-1, self.n_task) if target is not None else pred[:0]}

    # -- the rec train pipeline -----------------------------------------------------------------
    @classmethod
    def loss_parts(cls, data: TaskData, model: nn.Module) -> list[str]:
        """Return ``task_i`` for every task the model trains (all targets unless it declares ``trained_tasks``)."""
        return [f"task_{i}" for i in _trained_tasks(model, len(data.targets))]

    @classmethod
    def weighter_context(cls, data: TaskData, model: nn.Module) -> dict[str, Any]:
        """Give a ``--weighter`` the trained tasks' types (UWL weighs classification and regression differently)."""
        types = task_types_of(data.targets)
        return {"task_types": [types[i] for i in _trained_tasks(model, len(types))]}

    @classmethod
    def build_model(cls, entry: Registration, params: dict[str, Any], data: TaskData) -> nn.Module:
        """Build the model from the data's features and its targets' task types."""
        return _make(entry, params, data.features, task_types_of(data.targets), f"data set '{data.name}'")

    @classmethod
    def restore_model(cls, description: dict[str, Any], pm: RecPluginManager, task: str) -> nn.Module:
        """Rebuild a finished run's model (features and task types from its ``model.json``)."""
        from rec_core.features import feature_from_dict

        entry = pm.registry("models").get(description["model"], task=task)
        features = [feature_from_dict(f) for f in description.get("features", [])]
        task_types = task_types_of(description.get("targets") or {})
        return _make(entry, description.get("model_params", {}), features, task_types, "run data")


def _make(entry: Registration, params: dict[str, Any], features: list[Any], task_types: list[str],
          context: str) -> nn.Module:
    factory = entry.load()
    try:
        return factory.from_features(features, task_types=task_types, **params)
    except ConfigError as exc:
        raise ConfigError(f"{exc} ({context})") from None
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"model '{entry.name}': bad options {params} ({context}): {type(exc).__name__}: {exc}") \
            from exc


def _trained_tasks(model: Any, n_task: int) -> list[int]:
    declared = getattr(model, "trained_tasks", None)
    tasks = list(range(n_task)) if declared is None else [int(i) for i in declared]
    if not tasks or any(not 0 <= i < n_task for i in tasks):
        raise ConfigError(f"{type(model).__name__}.trained_tasks {tasks} must be task indices below {n_task}")
    return tasks


def _check_task_types(task_types: Any) -> list[str]:
    if not task_types:
        raise ConfigError("MTLTrainer needs task_types (one of 'classification', 'regression' per task), "
                          "or a model with a task_types attribute")
    types = list(task_types)
    bad = [t for t in types if t not in TASK_TYPES]
    if bad:
        raise ConfigError(f"unknown task type {bad[0]!r} (task types: {', '.join(TASK_TYPES)})")
    return types


def _metric_names(task_types: list[str]) -> tuple[str, ...]:
    names: list[str] = []
    for i, kind in enumerate(task_types):
        extra = ("auc", "logloss") if kind == "classification" else ("mse",)
        names += [f"task_{i}_score", *(f"task_{i}_{name}" for name in extra)]
    return tuple(names)

