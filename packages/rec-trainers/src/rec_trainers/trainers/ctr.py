"""``CTRTrainer``: click-through-rate prediction on the rec engine.

torch-rechub's constructor and methods (``train_one_epoch``, ``fit``,
``evaluate(model, data_loader) -> AUC``, ``predict(model, data_loader) -> probabilities``),
running on :class:`rec_core.BaseTrainer`: checkpoints, resume, callbacks, loggers, mixed
precision and DDP come with it.

Models return logits (the loss is BCE-with-logits, which is safe under bf16 autocast);
set ``model_output="probabilities"`` for a model that applies its own sigmoid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Union

import numpy as np
import torch
from torch import nn

from rec_core import BaseTrainer, TrainingConfig
from rec_core.errors import ConfigError
from rec_core.metrics import auc, log_loss
from rec_trainers.layers.fused import FusedEmbedding
from rec_trainers.trainers._rechub import collect_outputs, rechub_overrides, write_best_weights
from rec_trainers.trainers._regularization import Regularization, RegularizationSettings

__all__ = ["CTRConfig", "CTRTrainer"]


@dataclass
class CTRConfig(TrainingConfig, RegularizationSettings):
    """:class:`TrainingConfig` plus the CTR trainer's own settings.

    Attributes:
        sparse_embeddings: sparse embedding gradients updated by
            :class:`rec_core.optim.RowAdam` (only the rows a batch looks up are read and
            written); the other parameters keep the main optimizer. ``None`` (default):
            on when the optimizer is Adam/AdamW, no embedding regularization is set, the
            step is not captured (``capture_step``) and the run is not distributed
            (embeddings then get no weight decay); ``False``:
            dense gradients, every parameter with the main optimizer, as in torch-rechub.
            Tables stacked by the fused embedding layout (``embedding_layout``, the default on
            CUDA) always take dense gradients.
        sparse_min_rows: in sparse mode, only tables with at least this many rows get
            sparse gradients; smaller ones are updated densely with the main optimizer.
        loss_mode: torch-rechub's flag; ``False`` means ``model(x) -> (y_pred, extra_loss)``.
        model_output: ``"logits"`` (rec models) or ``"probabilities"`` (a model with its
            own sigmoid, as in torch-rechub).
    """

    sparse_embeddings: Union[bool, None] = None
    sparse_min_rows: int = 10_000
    loss_mode: bool = True
    model_output: str = "logits"

    def _check_values(self) -> None:
        super()._check_values()
        if self.model_output not in ("logits", "probabilities"):
            raise ConfigError(
                f"config key 'model_output' must be 'logits' or 'probabilities' (got {self.model_output!r})"
            )
        if self.sparse_embeddings and (self.embedding_l1 or self.embedding_l2):
            raise ConfigError(
                "embedding_l1/embedding_l2 touch every embedding row each step, which defeats "
                "sparse_embeddings; use one or the other"
            )

    def use_sparse_embeddings(self) -> bool:
        """Return whether embeddings get sparse gradients (resolving ``None``)."""
        if self.sparse_embeddings is not None:
            return self.sparse_embeddings
        adam_like = self.optimizer.rsplit(".", 1)[-1].lower() in ("adam", "adamw")
        # Sparse gradients are not captured in a CUDA graph: a captured step keeps them dense.
        return adam_like and not (self.embedding_l1 or self.embedding_l2 or self.capture_step)


class CTRTrainer(BaseTrainer):
    """Train a single-task click model; validation reports AUC and log loss.

    Args:
        model: a ranking model (``rec_trainers.models.ranking``) or any module mapping a
            feature dict to logits.
        optimizer_fn: optimizer class (default ``torch.optim.Adam``).
        optimizer_params: its arguments (default ``{"lr": 1e-3, "weight_decay": 1e-5}``).
        regularization_params: ``{"embedding_l1", "embedding_l2", "dense_l1", "dense_l2"}``.
        scheduler_fn, scheduler_params: a ``torch.optim.lr_scheduler`` class and its arguments.
        n_epoch: epochs (default 10). earlystop_patience: validations without AUC gain
            before stopping (default 10).
        device: ``"cpu"``, ``"cuda:0"`` or ``"auto"``. gpus: GPU ids (DDP is used for several).
        loss_mode: ``False`` when the model returns ``(y_pred, extra_loss)``.
        model_path: checkpoint folder (the best weights also go to ``model.pth`` there).
        model_logger: one logger or a list (``None``: no tracking, no overhead).
        config: a :class:`CTRConfig`; keyword arguments override its fields.
    """

    config_class: ClassVar[type[TrainingConfig]] = CTRConfig
    config_defaults: ClassVar[dict[str, Any]] = {
        "max_epochs": 10,
        "early_stopping_patience": 10,
        "monitor": "val/auc",
        "mode": "max",
        "weight_decay": 1e-5,
        "batch_size": 2048,
        "save_top_k": 1,
    }
    default_model: ClassVar[str | None] = "deepfm"
    default_data: ClassVar[str | None] = "synthetic-ctr"
    batch_metrics: ClassVar[tuple[str, ...]] = ("auc", "logloss")

    def __init__(
        self,
        model: nn.Module,
        optimizer_fn: Any = None,
        optimizer_params: dict[str, Any] | None = None,
        regularization_params: dict[str, float] | None = None,
        scheduler_fn: Any = None,
        scheduler_params: dict[str, Any] | None = None,
        n_epoch: int | None = None,
        earlystop_patience: int | None = None,
        device: str | None = None,
        gpus: list[int] | None = None,
        loss_mode: bool | None = None,
        model_path: str | None = None,
        model_logger: Any = None,
        **kwargs: Any,
    ) -> None:
        overrides = rechub_overrides(
            regularization_params, optimizer_fn=optimizer_fn, optimizer_params=optimizer_params,
            scheduler_fn=scheduler_fn, scheduler_params=scheduler_params, n_epoch=n_epoch,
            earlystop_patience=earlystop_patience, device=device, gpus=gpus, loss_mode=loss_mode, model_path=model_path,
            model_logger=model_logger,
        )
        super().__init__(model, **{**overrides, **kwargs})
        self.regularization = Regularization(self.model, self.config)

    def configure_optimizers(self) -> torch.optim.Optimizer | list[torch.optim.Optimizer]:
        """Return the main optimizer, plus :class:`RowAdam` for embeddings in sparse mode."""
        from rec_core.optim import RowAdam
        from rec_core.trainer._optim import build_optimizer

        if self.dist.is_distributed and self.config.sparse_embeddings:
            raise ConfigError("sparse_embeddings cannot be used with DDP (DistributedDataParallel reduces "
                              "dense gradients only); leave it unset or false")
        sparse = not self.dist.is_distributed and self.config.use_sparse_embeddings()
        fused = any(isinstance(module, FusedEmbedding) for module in self.model.modules())
        if fused and self.config.sparse_embeddings:
            raise ConfigError("sparse_embeddings needs embedding_layout='per-field' (the fused layout's stacked "
                              "tables take dense gradients); set one or the other")
        tables = []
        for module in self.model.modules():
            if isinstance(module, FusedEmbedding):
                continue  # stacked tables: dense gradients, the main optimizer
            if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
                # Small tables are cheaper to update densely (one fused kernel) than row by row.
                module.sparse = sparse and module.weight.shape[0] >= self.config.sparse_min_rows
                if module.sparse and module.weight.requires_grad:
                    tables.append(module.weight)
        tables = list({id(p): p for p in tables}.values())
        if not tables:
            return super().configure_optimizers()
        table_ids = {id(p) for p in tables}
        dense = [p for p in self.model.parameters() if p.requires_grad and id(p) not in table_ids]
        betas = tuple(self.config.optimizer_params.get("betas", (0.9, 0.999)))
        optimizers: list[torch.optim.Optimizer] = [RowAdam(tables, lr=self.config.learning_rate, betas=betas)]
        if dense:
            optimizers.insert(0, build_optimizer(dense, self.config, self._optimizer_fn))
        return optimizers

    # -- steps ------------------------------------------------------------------------
    def _forward(self, network: nn.Module, x: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Any]:
        out = network(x)
        if self.config.loss_mode:
            return out, None
        return out[0], out[1]

    def _loss(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        output, y = output.float().reshape(-1), y.float().reshape(-1)
        if self.config.model_output == "logits":
            return nn.functional.binary_cross_entropy_with_logits(output, y)
        return nn.functional.binary_cross_entropy(output, y)

    def _probabilities(self, output: torch.Tensor) -> torch.Tensor:
        output = output.float().reshape(-1)
        return torch.sigmoid(output) if self.config.model_output == "logits" else output

    def training_step(self, batch: Any) -> torch.Tensor:
        """Return BCE + the model's extra loss + regularization for one batch."""
        x, y = batch
        output, extra = self._forward(self.network, x)
        loss = self._loss(output, y)
        if extra is not None:
            loss = loss + extra
        return self.regularization.add_to(loss)

    def validation_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """Return click probabilities and labels; metrics are computed over the whole set."""
        x, y = batch
        output, _ = self._forward(self.model, x)
        return {"pred": self._probabilities(output), "target": y.float().reshape(-1)}

    def compute_metrics(self, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        """Return AUC and log loss over every validation sample at once."""
        target, pred = outputs["target"].cpu().numpy(), outputs["pred"].cpu().numpy()
        return {"auc": auc(target, pred), "logloss": log_loss(target, pred)}

    def predict_step(self, batch: Any) -> torch.Tensor:
        """Return click probabilities for a batch (``(x, y)`` or ``x`` alone)."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        output, _ = self._forward(self.model, x)
        return self._probabilities(output)

    # -- torch-rechub style evaluate / predict -------------------------------------------
    def evaluate(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Evaluate: ``evaluate(model, data_loader) -> AUC`` (torch-rechub) or the RecBole form.

        ``evaluate(eval_data, load_best_model=True, model_file=None, show_progress=None)``
        returns ``{"auc": ..., "logloss": ...}``.
        """
        if args and isinstance(args[0], nn.Module):
            model, loader = args[0], args[1] if len(args) > 1 else kwargs["data_loader"]
            target, pred = self._collect(model, loader)
            return auc(target, pred)
        return super().evaluate(*args, **kwargs)

    def predict(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Predict: ``predict(model, data_loader) -> list`` (torch-rechub) or ``predict(loader) -> Tensor``."""
        if args and isinstance(args[0], nn.Module):
            model, loader = args[0], args[1] if len(args) > 1 else kwargs["data_loader"]
            return self._collect(model, loader, with_target=False)[1].tolist()
        return super().predict(*args, **kwargs)

    def _collect(self, model: nn.Module, loader: Any, *, with_target: bool = True) -> tuple[Any, np.ndarray]:
        pred, target = collect_outputs(self, model, loader, lambda m, x: self._probabilities(self._forward(m, x)[0]),
                                       with_target=with_target)
        return (target.reshape(-1).numpy() if target is not None else None), pred.reshape(-1).numpy()

    def fit(self, train_loader: Any, val_loader: Any = None, **kwargs: Any) -> tuple[float, Any]:
        """Train (see :meth:`BaseTrainer.fit`); the best weights also land in ``model.pth``."""
        result = super().fit(train_loader, val_loader, **kwargs)
        write_best_weights(self, **kwargs)
        return result
