"""``BaseTrainer``: the training loop every rec trainer is a thin subclass of.

A subclass supplies what differs per task:

* ``training_step(batch) -> loss`` (or a dict of task losses, combined by the loss weighter);
* ``validation_step(batch) -> dict of tensors`` and ``compute_metrics(outputs) -> dict``;
* optionally ``predict_step(batch)`` and class-level defaults (``config_defaults``).

Everything else — devices, precision, accumulation, clipping, schedulers, callbacks,
loggers, checkpoints, resume, DDP — lives here. RecBole-style overrides of ``_train_epoch``
and ``_valid_epoch`` remain possible for unusual optimisation schemes.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from rec_core.callbacks import Callback, CallbackList, CpuThreads, EarlyStopping, ModelCheckpoint
from rec_core.checkpoint import capture_rng_state, restore_rng_state
from rec_core.config import TrainingConfig, split_rechub_kwargs
from rec_core.data import batch_size_of, move_batch
from rec_core.data.prefetch import prefetch_to_device
from rec_core.distributed import DistContext
from rec_core.errors import ConfigError
from rec_core.loggers import LoggerGroup
from rec_core.reproducibility import seed_everything
from rec_core.trainer._capture import CapturedStep, CaptureStats, capture_blocker
from rec_core.trainer._compile import compile_network
from rec_core.trainer._evaluation import EvaluationMixin, loader_length
from rec_core.trainer._layout import apply_embedding_layout
from rec_core.trainer._optim import build_optimizer, build_scheduler, is_plateau
from rec_core.trainer._placement import place_loader
from rec_core.trainer._precision import Precision
from rec_core.trainer._progress import EpochProgress
from rec_core.trainer._request import RequestStepsMixin
from rec_core.trainer._state import TrainerStateMixin

if TYPE_CHECKING:
    from rec_core.weighting import BaseLossWeighter

__all__ = ["BaseTrainer"]


class BaseTrainer(EvaluationMixin, TrainerStateMixin, RequestStepsMixin):
    """Own the loop: fit / evaluate / predict, callbacks, checkpoints, resume, DDP.

    Args:
        model: the ``nn.Module`` to train.
        config: a :class:`TrainingConfig` (or subclass); ``None`` for the trainer defaults.
        loggers: one logger, a list of loggers, or ``None`` (no tracking, no overhead).
        callbacks: extra :class:`~rec_core.callbacks.Callback` objects.
        loss_weighter: combines a dict of task losses (multi-task trainers).
        **overrides: any config field, or torch-rechub keyword arguments (``n_epoch``,
            ``earlystop_patience``, ``optimizer_fn``, ``optimizer_params``, ``scheduler_fn``,
            ``scheduler_params``, ``device``, ``gpus``, ``model_path``, ``model_logger``).
    """

    config_class: ClassVar[type[TrainingConfig]] = TrainingConfig
    config_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        model: nn.Module,
        config: TrainingConfig | None = None,
        *,
        loggers: Any = None,
        callbacks: Sequence[Callback] | None = None,
        loss_weighter: BaseLossWeighter | None = None,
        **overrides: Any,
    ) -> None:
        model_logger = overrides.pop("model_logger", None)  # torch-rechub's name; an explicit loggers= wins
        if loggers is None:
            loggers = model_logger
        values, objects = split_rechub_kwargs(overrides)
        base = self._adopt_config(config)
        self.config = base.replace(**values) if values else base
        self.dist = DistContext.from_environment(self.config)
        self.device = self.dist.device
        self.model = model.to(self.device)
        self.embedding_layout = apply_embedding_layout(self.model, self.config.embedding_layout, self.device)
        self.loss_weighter = loss_weighter.to(self.device) if loss_weighter is not None else None
        self.network: nn.Module = compile_network(self.dist.wrap(self.model), self.config.compile_model, self.device)
        self.loggers = LoggerGroup(loggers if self.dist.is_global_zero else None)
        self.callbacks = CallbackList(callbacks or [])
        self.precision = Precision(self.config.precision, self.device)
        self._optimizer_fn: Callable[..., Any] | None = objects.get("optimizer_fn")
        self._scheduler_fn: Callable[..., Any] | None = objects.get("scheduler_fn")
        self.optimizers: list[torch.optim.Optimizer] = self._as_list(self.configure_optimizers())
        self.schedulers: list[Any] = [build_scheduler(o, self.config, self._scheduler_fn) for o in self.optimizers]
        self.schedulers = [s for s in self.schedulers if s is not None]
        self.current_epoch = 0
        self.global_step = 0
        self.should_stop = False
        self.callback_metrics: dict[str, float] = {}
        self.best_score: float = -1.0
        self.best_result: dict[str, float] | None = None
        self._best_state: dict[str, torch.Tensor] | None = None
        self._batch_in_epoch = 0
        self._epoch_complete = False
        self._epoch_loss = (0.0, 0)
        self._epoch_parts: dict[str, float] = {}
        self._pending: dict[str, Any] = {}
        self._progress = EpochProgress(False)
        self._model_is_best = False
        self._captured: CapturedStep | None = None
        self.capture_stats: CaptureStats | None = None  # how the last capture_step fit ran
        if self.config.capture_step and (reason := capture_blocker(self)) is not None:
            raise ConfigError(f"capture_step: {reason}")

    # -- configuration hooks for subclasses --------------------------------------------
    @classmethod
    def default_config(cls) -> TrainingConfig:
        """Return this trainer's default configuration (``config_defaults`` applied)."""
        return cls.config_class.from_dict(dict(cls.config_defaults))

    @classmethod
    def _adopt_config(cls, config: TrainingConfig | None) -> TrainingConfig:
        """Return ``config`` as this trainer's config class (its defaults where it set none)."""
        if config is None:
            return cls.default_config()
        if isinstance(config, cls.config_class):
            return config
        plain = type(config)()
        changed = {k: v for k, v in config.to_dict().items() if getattr(plain, k, v) != v}
        return cls.default_config().replace(**changed)

    def set_loggers(self, loggers: Any) -> None:
        """Replace the loggers (one, a list or ``None``); only rank 0 keeps them."""
        self.loggers = LoggerGroup(loggers if self.dist.is_global_zero else None)

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """Return the (first) optimizer."""
        return self.optimizers[0]

    @property
    def scheduler(self) -> Any:
        """Return the (first) learning-rate scheduler, or ``None``."""
        return self.schedulers[0] if self.schedulers else None

    @property
    def is_global_zero(self) -> bool:
        """Return whether this process writes logs, checkpoints and progress (rank 0)."""
        return self.dist.is_global_zero

    @property
    def monitor(self) -> str:
        """Return the monitored metric name, e.g. ``val/auc``."""
        return self.config.monitor

    def check_monitor(self, *, validating: bool = True) -> None:
        """Check, before training, that the monitored metric is one this trainer reports.

        Raises:
            ConfigError: ``monitor`` is not among the validation metrics (lists them), or its
                direction is unknown and ``mode`` is unset.
        """
        if not validating:
            return
        names = self.declared_metric_names()
        available = sorted(f"val/{name}" for name in names or ())
        if names is not None and self.monitor not in available:
            raise ConfigError(
                f"monitored metric '{self.monitor}' is not computed by {type(self).__name__} "
                f"(available: {', '.join(available)}); set monitor=..."
            )
        self.config.resolved_mode()

    @property
    def learning_rate(self) -> float:
        """Return the current learning rate of the first optimizer's first group."""
        return float(self.optimizer.param_groups[0]["lr"])

    def configure_optimizers(self) -> torch.optim.Optimizer | list[torch.optim.Optimizer]:
        """Return the optimizer(s); the default optimizes every trainable parameter."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        if self.loss_weighter is not None:
            params += [p for p in self.loss_weighter.parameters() if p.requires_grad]
        return build_optimizer(params, self.config, self._optimizer_fn)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Return the shared-layer parameters a loss weighter may act on (default: all)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """Return the parameters of the last shared layer (GradNorm's ``W``; default: :meth:`shared_parameters`)."""
        return self.shared_parameters()

    def _after_backward(self, parts: Mapping[str, torch.Tensor], scale: float) -> None:
        """Let the loss weighter adjust gradients; tell it the factor the loss was scaled by, if it asks."""
        weighter = self.loss_weighter
        kwargs = {}
        if "loss_scale" in inspect.signature(weighter.after_backward).parameters:
            scaler = self.precision.scaler
            kwargs["loss_scale"] = scale * (float(scaler.get_scale()) if scaler is not None else 1.0)
        weighter.after_backward(parts, self._weighter_parameters(), **kwargs)

    def _weighter_parameters(self) -> list[nn.Parameter]:
        scope = getattr(self.loss_weighter, "parameter_scope", "shared")
        if scope == "last_shared":
            return self.last_shared_parameters()
        if scope != "shared":
            raise ConfigError(f"{type(self.loss_weighter).__name__}.parameter_scope must be 'shared' or "
                              f"'last_shared', got {scope!r}")
        return self.shared_parameters()

    # -- the steps subclasses implement ---------------------------------------------------
    def training_step(self, batch: Any) -> torch.Tensor | dict[str, torch.Tensor]:
        """Return the loss of ``batch`` (or a dict of task losses). Subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement training_step(batch)")

    def validation_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """Return per-batch outputs to concatenate; the default reports the loss."""
        loss, _ = self._combine(self.training_step(batch))
        size = batch_size_of(batch)
        return {"loss_sum": (loss.detach().float() * size).reshape(1),
                "count": torch.tensor([size], device=loss.device)}

    def compute_metrics(self, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        """Turn the concatenated validation outputs into metrics (names without prefix)."""
        return {"loss": float(outputs["loss_sum"].sum() / outputs["count"].sum())}

    def predict_step(self, batch: Any) -> torch.Tensor:
        """Return the model's output for ``batch``; the default calls ``model(x)``."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.model(x)

    def transfer_batch(self, batch: Any) -> Any:
        """Move ``batch`` to the training device."""
        return move_batch(batch, self.device, non_blocking=self.device.type == "cuda")

    # -- fit ----------------------------------------------------------------------------
    def fit(
        self,
        train_loader: Any,
        val_loader: Any = None,
        *,
        verbose: bool = True,
        saved: bool = True,
        show_progress: bool | None = None,
        callback_fn: Callable[[int, float], None] | None = None,
    ) -> tuple[float, dict[str, float] | None]:
        """Train, validating each epoch; return ``(best_score, best_result)`` (RecBole).

        Args:
            train_loader: a :class:`~rec_core.data.ColumnarLoader` or any ``DataLoader``.
            val_loader: validation data; without it there is no early stopping or best model.
            verbose: report epochs on the console.
            saved: write checkpoints to ``config.checkpoint_dir``.
            show_progress: progress bars; ``None`` follows ``config.progress_bar``.
            callback_fn: called as ``callback_fn(epoch, score)`` after each validation.

        Returns:
            The best monitored score and its metrics (``(-1, None)`` without validation).
        """
        with self._lifecycle():
            self._setup_fit(train_loader, val_loader, saved=saved, show_progress=show_progress, verbose=verbose)
            self.loggers.log_hyperparams(self.hparams())
            self.callbacks.call("on_fit_start", self)
            self._begin_loop()
            while not self.should_stop and self.current_epoch < self.config.max_epochs:
                self._run_epoch(callback_fn)
            self._load_best_weights()
            self.callbacks.call("on_fit_end", self)
        return self.best_score, self.best_result

    def _run_epoch(self, callback_fn: Callable[[int, float], None] | None) -> None:
        self.callbacks.call("on_train_epoch_start", self)
        train_loss = self._train_epoch(self._train_loader, self.current_epoch, show_progress=self._show_progress)
        self._model_is_best = False  # trained since the last validation
        metrics: dict[str, float] = {"train/loss": float(train_loss), **self._loss_part_metrics(),
                                     "learning_rate": self.learning_rate}
        if self._val_loader is not None and (self.current_epoch + 1) % self.config.check_val_every_n_epoch == 0:
            metrics.update(self._validate(callback_fn))
        self._step_schedulers("epoch", metrics)
        self.callback_metrics.update(metrics)
        self.loggers.log_metrics({**metrics, "epoch": self.current_epoch}, step=self.global_step)
        self._report_epoch(metrics)
        self._epoch_complete = True
        self.callbacks.call("on_train_epoch_end", self)
        self.should_stop = self.dist.any_rank(self.should_stop)  # a rank leaving alone would hang the others
        self.current_epoch += 1
        self._batch_in_epoch, self._epoch_complete, self._epoch_loss, self._epoch_parts = 0, False, (0.0, 0), {}

    def _validate(self, callback_fn: Callable[[int, float], None] | None = None) -> dict[str, float]:
        self.callbacks.call("on_validation_start", self)
        score, result = self._valid_epoch(self._val_loader, show_progress=self._show_progress)
        self.callback_metrics.update(result)
        self._track_best(score, result)
        self.callbacks.call("on_validation_end", self)
        if callback_fn is not None:
            callback_fn(self.current_epoch, score)
        return result

    def _train_epoch(self, train_data: Any, epoch_idx: int, show_progress: bool = False) -> float:
        """Train one epoch and return its mean loss (RecBole's overridable hook)."""
        self.network.train()
        accumulate = self.config.accumulate_grad_batches
        total = loader_length(train_data)
        loss_sum, count = self._epoch_loss
        device_loss = torch.zeros((), device=self.device)
        part_sums: dict[str, torch.Tensor] = {}
        mid_checks = self._mid_epoch_validation_points(total)
        self._progress.start(f"epoch {epoch_idx + 1}/{self.config.max_epochs}", total)
        batches = self._epoch_batches(train_data, epoch_idx)
        if self.config.prefetch_batches and self.device.type == "cuda":
            batches = prefetch_to_device(batches, self.device)
        for batch_idx, batch in batches:
            batch = self.transfer_batch(batch)
            self.callbacks.call("on_train_batch_start", self, batch, batch_idx)
            if self._captured is not None:
                steps_now, loss = True, self._captured.run(batch)
            else:
                steps_now = (batch_idx + 1) % accumulate == 0 or (total is not None and batch_idx + 1 == total)
                loss = self._forward_backward(batch, sync=steps_now, scale=1.0 / accumulate)
                if steps_now:
                    self._optimizer_step()
            device_loss += loss
            for name, part in self._last_parts.items():
                part_sums[name] = part_sums[name] + part if name in part_sums else part.clone()
            count += 1
            self._batch_in_epoch = batch_idx + 1
            self._log_step(loss, steps_now)
            show_loss = self._progress.enabled and batch_idx % 10 == 0
            self._progress.advance(batch_size_of(batch), float(loss) if show_loss else None)
            self.callbacks.call("on_train_batch_end", self, loss, batch, batch_idx)
            if batch_idx + 1 in mid_checks:
                self._validate()
                self.network.train()
        if self._pending_grads:
            self._optimizer_step()  # a partial accumulation window at the end of an epoch
        self._progress.stop()
        loss_sum += float(device_loss)
        self._epoch_loss = (loss_sum, count)
        for name, total in part_sums.items():
            self._epoch_parts[name] = self._epoch_parts.get(name, 0.0) + float(total)
        return self.dist.all_mean(loss_sum / max(count, 1))  # every rank reports (and schedules on) the same loss

    def train_one_epoch(self, data_loader: Any, log_interval: int = 10) -> float:
        """Train one epoch outside ``fit`` (torch-rechub API) and return its mean loss."""
        self._setup_loaders(data_loader, None)
        loss = self._train_epoch(self._train_loader, self.current_epoch, show_progress=False)
        self.current_epoch += 1
        self._batch_in_epoch, self._epoch_loss, self._epoch_parts = 0, (0.0, 0), {}
        return loss

    def _forward_backward(self, batch: Any, *, sync: bool, scale: float) -> torch.Tensor:
        context = contextlib.nullcontext() if sync else self.dist.no_sync(self.network)
        with context:
            with self.precision.autocast():
                out = self.training_step(batch)
            loss, parts = self._combine(out)
            self._last_parts = {name: part.detach().float() for name, part in parts.items()} if parts else {}
            retain = bool(self.loss_weighter is not None and self.loss_weighter.retain_graph)
            self.precision.backward(loss * scale if scale != 1.0 else loss, retain_graph=retain)
            if self.loss_weighter is not None and parts is not None:
                self._after_backward(parts, scale)
        self._pending_grads = True
        return loss.detach()

    def _combine(self, out: torch.Tensor | Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Any]:
        if isinstance(out, torch.Tensor):
            return out, None
        if not isinstance(out, Mapping) or not out:
            raise TypeError(f"training_step must return a loss tensor or a dict of losses, got {type(out).__name__}")
        if self.loss_weighter is None:
            from rec_core.weighting import EqualWeighter

            self.loss_weighter = EqualWeighter(list(out)).to(self.device)
        return self.loss_weighter.combine(out), out

    def _eager_step(self, batch: Any) -> torch.Tensor:
        """One whole step (forward, backward, update), no accumulation; return the detached loss."""
        loss = self._forward_backward(batch, sync=True, scale=1.0)
        self._optimizer_step()
        return loss

    def _optimizer_step(self) -> None:
        self._update_parameters()
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        self._finish_optimizer_step()

    def _update_parameters(self) -> None:
        """Apply the gradients: all-reduce the weighter's, unscale, clip, step (all device work)."""
        if self.loss_weighter is not None:  # its parameters live outside the DDP wrapper
            self.dist.all_reduce_grads(self.loss_weighter.parameters())
        for optimizer in self.optimizers:
            self.precision.unscale(optimizer)
        self._clip_gradients()
        for optimizer in self.optimizers:
            self.precision.step(optimizer)
        self.precision.update()

    def _finish_optimizer_step(self) -> None:
        """Count the step and run per-step schedulers (host work, after the update)."""
        self._pending_grads = False
        self.global_step += 1
        self._step_schedulers("step")

    def _clip_gradients(self) -> None:
        value = self.config.gradient_clip_val
        if not value:
            return
        params = [p for p in self.model.parameters() if p.grad is not None]
        if self.config.gradient_clip_algorithm == "value":
            torch.nn.utils.clip_grad_value_(params, value)
        else:
            torch.nn.utils.clip_grad_norm_(params, value)

    def _step_schedulers(self, interval: str, metrics: Mapping[str, float] | None = None) -> None:
        if interval != self.config.scheduler_interval:
            return
        for scheduler in self.schedulers:
            if is_plateau(scheduler):
                if interval != "epoch" or metrics is None:
                    continue
                value = metrics.get(self.monitor)
                if value is None and self._val_loader is None:
                    value = metrics["train/loss"]  # no validation at all: follow the train loss
                if value is not None:  # a validation epoch; others leave the plateau count alone
                    scheduler.step(value)
            else:
                scheduler.step()

    def _loss_part_metrics(self) -> dict[str, float]:
        """Return ``train/<part>_loss`` (epoch means of a multi-part loss) and ``loss_weight/<part>``."""
        if not self._epoch_parts:
            return {}
        _, count = self._epoch_loss
        metrics = {
            f"train/{name.removesuffix('_loss')}_loss": self.dist.all_mean(total / max(count, 1))
            for name, total in self._epoch_parts.items()
        }
        if self.loss_weighter is not None:
            metrics.update({f"loss_weight/{name}": float(w) for name, w in self.loss_weighter.loss_weights().items()})
        return metrics

    def _log_step(self, loss: torch.Tensor, stepped: bool) -> None:
        every = self.config.log_every_n_steps
        if self.loggers and stepped and every and self.global_step % every == 0:
            self.loggers.log_metrics(
                {"train/loss_step": float(loss), "learning_rate": self.learning_rate}, step=self.global_step
            )

    def _mid_epoch_validation_points(self, total: int | None) -> set[int]:
        interval = self.config.val_check_interval
        if self._val_loader is None or total is None or interval == 1.0:
            return set()
        every = int(interval) if isinstance(interval, int) else max(1, int(total * interval))
        return {b for b in range(every, total, every)}

    # -- set-up and tear-down ---------------------------------------------------------------
    def _setup_fit(self, train_loader: Any, val_loader: Any, *, saved: bool, show_progress: bool | None,
                   verbose: bool) -> None:
        self._setup_loaders(train_loader, val_loader)
        self._show_progress = self._progress_wanted(show_progress)
        self._progress = EpochProgress(self._show_progress)
        self._verbose = verbose and self.is_global_zero
        self.should_stop = False
        self.check_monitor(validating=val_loader is not None)
        self._add_default_callbacks(saved=saved, validating=val_loader is not None)
        if "callbacks" in self._pending:
            self.callbacks.load_state_dict(self._pending.pop("callbacks"))
        if not self._pending and self.config.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        if self.config.capture_step:
            self._captured = CapturedStep(self)

    def _setup_loaders(self, train_loader: Any, val_loader: Any) -> None:
        setting = self.config.data_on_device
        self._train_loader = place_loader(self.dist.shard_train(train_loader), setting, self.device)
        val = self.dist.shard_eval(val_loader) if val_loader is not None else None
        self._val_loader = place_loader(val, setting, self.device)

    def _add_default_callbacks(self, *, saved: bool, validating: bool) -> None:
        present = {type(c) for c in self.callbacks}
        if self.config.cpu_threads is not None and CpuThreads not in present:
            self.callbacks.append(CpuThreads(self.config.cpu_threads))
        if validating and self.config.early_stopping_patience > 0 and EarlyStopping not in present:
            self.callbacks.append(EarlyStopping(
                monitor=self.monitor, mode=self.config.resolved_mode(),
                patience=self.config.early_stopping_patience, min_delta=self.config.early_stopping_min_delta))
        if saved and ModelCheckpoint not in present:
            self.callbacks.append(ModelCheckpoint(
                dirpath=self.config.checkpoint_dir, monitor=self.monitor if validating else None,
                mode=self.config.resolved_mode(), save_top_k=self.config.save_top_k if validating else 0,
                save_last=self.config.save_last, every_n_train_steps=self.config.every_n_train_steps))

    def _progress_wanted(self, show_progress: bool | None) -> bool:
        wanted = self.config.progress_bar if show_progress is None else show_progress
        return bool(wanted) and self.is_global_zero

    def _begin_loop(self) -> None:
        """Seed a fresh run, or put the RNGs where the resumed run left them."""
        if "rng" in self._pending:
            self._resume_rng = self._pending.pop("rng")
        else:
            self._resume_rng = None
            if self.current_epoch == 0 and self.global_step == 0:
                seed_everything(self.config.random_seed)

    def _epoch_batches(self, loader: Any, epoch: int) -> Iterator[tuple[int, Any]]:
        """Yield ``(batch_idx, batch)`` for ``epoch``, continuing a resumed epoch exactly."""
        start = self._pending.pop("batch_in_epoch", 0)
        loader_state = self._pending.pop("loader", None)
        stateful = callable(getattr(loader, "load_state_dict", None))
        resume_rng, self._resume_rng = self._resume_rng, None
        if start and loader_state is not None and not stateful:
            # Replay the sampler from the epoch's start, skip what was trained, then put the
            # RNGs where the interrupted run had them.
            restore_rng_state(loader_state["epoch_start_rng"])
        elif resume_rng is not None:
            restore_rng_state(resume_rng)  # before iter(): a DataLoader draws its seed there
            resume_rng = None
        if start and stateful and loader_state is not None:
            loader.load_state_dict(loader_state)
        else:
            _set_epoch(loader, epoch)
        self._epoch_start_rng = None if stateful else capture_rng_state()
        iterator = iter(loader)
        if not (stateful and loader_state is not None):
            for _ in range(start):
                next(iterator)
        if resume_rng is not None:
            restore_rng_state(resume_rng)
        for offset, batch in enumerate(iterator):
            yield start + offset, batch

    @contextlib.contextmanager
    def _lifecycle(self) -> Iterator[None]:
        """Funnel every exit through one place: callbacks, checkpoint on Ctrl-C, loggers."""
        status = "success"
        try:
            yield
        except KeyboardInterrupt as exc:
            status = "interrupted"
            self.callbacks.call("on_exception", self, exc)
            self._save_on_interrupt()
            raise
        except BaseException as exc:
            status = "failed"
            self.callbacks.call("on_exception", self, exc)
            raise
        finally:
            self._progress.stop()
            if self._captured is not None:
                self.capture_stats = self._captured.release()
                self._captured = None
            self.loggers.finish(status)

    def _save_on_interrupt(self) -> None:
        checkpoint = self._checkpoint_callback()
        # Inside a gradient-accumulation window the state is between steps: keep the last save.
        if checkpoint is not None and self.is_global_zero and not self._pending_grads:
            directory = Path(checkpoint.dirpath or self.config.checkpoint_dir)
            self.save_checkpoint(directory / "last.ckpt")

    def _report_epoch(self, metrics: Mapping[str, float]) -> None:
        if not getattr(self, "_verbose", False):
            return
        from rich.console import Console

        shown = "  ".join(
            f"lr {v:.3g}" if k == "learning_rate" else f"{k} {v:.4f}" for k, v in metrics.items()
        )
        line = f"epoch {self.current_epoch + 1}/{self.config.max_epochs}  {shown}"
        Console(stderr=True, highlight=False, soft_wrap=True).print(line)

    @staticmethod
    def _as_list(value: Any) -> list[Any]:
        return list(value) if isinstance(value, (list, tuple)) else [value]

    def hparams(self) -> dict[str, Any]:
        """Return the hyperparameters logged at fit start (config, model, sizes)."""
        n_params = sum(p.numel() for p in self.model.parameters())
        return {**self.config.to_dict(), "trainer": type(self).__name__, "model": type(self.model).__name__,
                "num_parameters": n_params, "world_size": self.dist.world_size}

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:  # trainers hold process state
        raise TypeError(f"{type(self).__name__} cannot be deep-copied; copy.deepcopy(trainer.model) instead")

    _pending_grads = False
    _last_parts: dict[str, torch.Tensor] = {}  # noqa: RUF012 - replaced per step, never mutated
    _epoch_start_rng: Any = None
    _resume_rng: Any = None
    _train_loader: Any = None
    _val_loader: Any = None
    _show_progress = False


def _set_epoch(loader: Any, epoch: int) -> None:
    for target in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        if target is not None and callable(getattr(target, "set_epoch", None)):
            target.set_epoch(epoch)
            return


