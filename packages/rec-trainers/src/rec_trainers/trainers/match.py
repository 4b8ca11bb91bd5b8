"""``MatchTrainer``: two-tower retrieval, trained point-, pair- or list-wise, evaluated by full ranking.

torch-rechub's constructor (``model, mode, in_batch_neg, in_batch_neg_ratio,
hard_negative, sampler_seed, optimizer_fn, optimizer_params, regularization_params,
scheduler_fn, scheduler_params, n_epoch, earlystop_patience, device, gpus, model_path,
model_logger``) and methods (``train_one_epoch``, ``fit``, ``evaluate(model, loader) ->
AUC``, ``predict``, ``inference_embedding``) on :class:`rec_core.BaseTrainer`.

* ``mode=0`` point-wise: BCE on the model's logit of (user, item) pairs with sampled
  negatives; ``mode=1`` pair-wise: BPR on ``(pos_score, neg_score)``; ``mode=2`` list-wise:
  softmax over one positive and K sampled negatives. ``in_batch_neg=True`` scores each
  user against the batch's positives instead, with the log-Q correction for their
  popularity when item frequencies are known (``set_item_frequencies``); see
  ``_match_loss``.
* Validation and test: given :class:`~rec_core.evaluation.RetrievalQueries` (the user
  tower's inputs per user), every item of the catalogue (``set_item_catalogue``) is
  embedded once by the item tower and ranked for every user, the user's known items
  masked: ``recall@k``, ``ndcg@k``, ``hit@k``, ``mrr@k`` for ``eval_ks`` (10, 20, 50) and
  ``mrr``. Given torch-rechub's ``(x, y)`` loader it reports torch-rechub's ``auc``.

Models follow torch-rechub's ``mode`` protocol (``model.mode = "user" | "item" | None``) and
also offer ``user_tower(x)`` / ``item_tower(x)``; a multi-interest user tower returns
``(B, K, d)`` and an item scores by its best interest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Union

import numpy as np
import torch
from torch import nn

from rec_core import BaseTrainer, TrainingConfig
from rec_core.errors import ConfigError, DataError
from rec_core.evaluation import BatchEvaluator, Evaluator, RetrievalEvaluator, RetrievalQueries
from rec_core.metrics import ItemLists, auc
from rec_trainers.trainers._match_data import (
    HISTORY,
    MatchColumns,
    catalogue_columns,
    match_columns,
    split_queries,
    training_columns,
)
from rec_trainers.trainers._match_loss import bpr_loss, in_batch_softmax_loss, list_wise_loss, point_wise_loss
from rec_trainers.trainers._rechub import collect_outputs, rechub_overrides, write_best_weights
from rec_trainers.trainers._recommend import RecommendsFromRuns, one_user
from rec_trainers.trainers._regularization import Regularization, RegularizationSettings

if TYPE_CHECKING:
    from rec_core.datasets import TaskData, UserSequences
    from rec_core.run import TrainRequest

__all__ = ["MatchConfig", "MatchTrainer"]

MODES = (0, 1, 2)
_DEFAULT_MONITOR = "val/ndcg@20"
RECHUB_DEFAULTS = {"match_mode": 0, "in_batch_neg": False, "temperature": 1.0, "max_epochs": 10,
                   "early_stopping_patience": 10}
"""torch-rechub's ``MatchTrainer`` defaults, used when the trainer is built without a ``config``."""
ITEM_EMBEDDING_BATCH = 8192


@dataclass
class MatchConfig(TrainingConfig, RegularizationSettings):
    """:class:`TrainingConfig` plus the matching trainer's settings.

    Attributes:
        match_mode: torch-rechub's ``mode``: 0 point-wise, 1 pair-wise, 2 list-wise.
        in_batch_neg: Use the other rows' positives as negatives (in-batch softmax).
        in_batch_neg_ratio: Keep only this many in-batch negatives per row (``None``: all).
        hard_negative: With ``in_batch_neg_ratio``, keep the highest-scoring negatives
            instead of random ones.
        sampler_seed: Seed of the in-batch negative choice (``None``: the global RNG).
        temperature: Logits are divided by it (list-wise and in-batch losses).
        logq_correction: Subtract ``log q(item)`` from in-batch logits (needs item frequencies).
        eval_ks: Cut-offs of the ranking metrics.
        history_len: Items of the user's history the user tower reads (``rec train match``).
        embed_dim: Embedding size of every feature ``rec train match`` builds.
        train_negatives: Point-wise training (``mode=0`` without in-batch negatives): sampled
            negative rows per positive, drawn once (``rec train match``).
        list_negatives: List-wise training without in-batch negatives: sampled items per row in
            the ``neg_items`` column (``rec train match``).
    """

    match_mode: int = 0
    in_batch_neg: bool = False
    in_batch_neg_ratio: Union[int, None] = None
    hard_negative: bool = False
    sampler_seed: Union[int, None] = None
    temperature: float = 1.0
    logq_correction: bool = True
    eval_ks: list[int] = field(default_factory=lambda: [10, 20, 50])
    history_len: int = 50
    embed_dim: int = 32
    train_negatives: int = 4
    list_negatives: int = 20

    def _check_values(self) -> None:
        super()._check_values()
        if self.match_mode not in MODES:
            raise ConfigError(f"config key 'match_mode' (torch-rechub's mode) must be 0, 1 or 2 (got "
                              f"{self.match_mode!r})")
        if self.temperature <= 0:
            raise ConfigError(f"config key 'temperature' must be positive (got {self.temperature})")
        if self.in_batch_neg_ratio is not None and self.in_batch_neg_ratio < 1:
            raise ConfigError(f"config key 'in_batch_neg_ratio' must be >= 1 (got {self.in_batch_neg_ratio})")
        if not self.eval_ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in self.eval_ks):
            raise ConfigError(f"config key 'eval_ks' must be positive integers (got {self.eval_ks!r})")
        for name in ("history_len", "embed_dim"):
            if getattr(self, name) < 1:
                raise ConfigError(f"config key {name!r} must be >= 1 (got {getattr(self, name)})")
        for name in ("train_negatives", "list_negatives"):
            if getattr(self, name) < 0:
                raise ConfigError(f"config key {name!r} must be >= 0 (got {getattr(self, name)})")


class MatchTrainer(RecommendsFromRuns, BaseTrainer):
    """Train a two-tower retrieval model; validate by full ranking (or torch-rechub's AUC).

    Args:
        model: a matching model (``rec_trainers.models.matching``) with torch-rechub's
            ``mode`` protocol and ``user_tower`` / ``item_tower``.
        mode: 0 point-wise (BCE), 1 pair-wise (BPR), 2 list-wise (softmax).
        in_batch_neg, in_batch_neg_ratio, hard_negative, sampler_seed: torch-rechub's in-batch
            negative options (module docs).
        optimizer_fn, optimizer_params, regularization_params, scheduler_fn, scheduler_params,
        n_epoch, earlystop_patience, device, gpus, model_path, model_logger: as for CTRTrainer.
        config: a :class:`MatchConfig`; keyword arguments override its fields.
    """

    config_class: ClassVar[type[TrainingConfig]] = MatchConfig
    config_defaults: ClassVar[dict[str, Any]] = {
        "max_epochs": 30,
        "early_stopping_patience": 5,
        "monitor": _DEFAULT_MONITOR,
        "mode": "max",
        "batch_size": 256,
        "save_top_k": 1,
        "in_batch_neg": True,
        "match_mode": 2,
        "temperature": 0.05,
    }
    """``rec train match``'s defaults: in-batch softmax (every model, multi-interest ones too).
    Called torch-rechub's way, without a ``config``, the trainer keeps torch-rechub's
    defaults instead (see :data:`RECHUB_DEFAULTS`)."""
    default_model: ClassVar[str | None] = "dssm"
    default_data: ClassVar[str | None] = "ml-100k"

    def __init__(
        self,
        model: nn.Module,
        mode: int | None = None,
        in_batch_neg: bool | None = None,
        in_batch_neg_ratio: int | None = None,
        hard_negative: bool | None = None,
        sampler_seed: int | None = None,
        optimizer_fn: Any = None,
        optimizer_params: dict[str, Any] | None = None,
        regularization_params: dict[str, float] | None = None,
        scheduler_fn: Any = None,
        scheduler_params: dict[str, Any] | None = None,
        n_epoch: int | None = None,
        earlystop_patience: int | None = None,
        device: str | None = None,
        gpus: list[int] | None = None,
        model_path: str | None = None,
        model_logger: Any = None,
        **kwargs: Any,
    ) -> None:
        overrides = rechub_overrides(
            regularization_params, match_mode=mode, in_batch_neg=in_batch_neg,
            in_batch_neg_ratio=in_batch_neg_ratio, hard_negative=hard_negative, sampler_seed=sampler_seed,
            optimizer_fn=optimizer_fn, optimizer_params=optimizer_params, scheduler_fn=scheduler_fn,
            scheduler_params=scheduler_params, n_epoch=n_epoch, earlystop_patience=earlystop_patience,
            device=device, gpus=gpus, model_path=model_path, model_logger=model_logger,
        )
        if kwargs.get("config") is None:  # torch-rechub's API: its defaults, not rec train match's
            overrides = {**RECHUB_DEFAULTS, **overrides}
        super().__init__(model, **{**overrides, **kwargs})
        self.regularization = Regularization(self.model, self.config)
        self._item_inputs: dict[str, torch.Tensor] | None = None
        self._log_q: torch.Tensor | None = None
        self._item_feature: str | None = None
        self._item_embeddings: torch.Tensor | None = None
        seed = self.config.sampler_seed
        self._sampler = None if seed is None else torch.Generator().manual_seed(int(seed))

    # -- catalogue and frequencies --------------------------------------------------------------
    def set_item_catalogue(self, x_all_item: dict[str, Any]) -> None:
        """Give the item tower's inputs for every item, row ``i`` being item ``i`` (row 0: padding).

        Full-ranking evaluation embeds these rows once per evaluation and ranks them.
        """
        from rec_core.data.columnar import to_column

        self._item_inputs = {name: to_column(name, values) for name, values in x_all_item.items()}

    def set_item_frequencies(self, counts: Any, item_feature: str) -> None:
        """Give each item's count among the training positives, for the in-batch log-Q correction.

        Args:
            counts: ``(n_items,)`` counts indexed by item id.
            item_feature: The input column holding a batch's positive item ids.
        """
        counts = torch.as_tensor(np.asarray(counts), dtype=torch.float64)
        probabilities = (counts + 1.0) / float((counts + 1.0).sum())
        self._log_q = probabilities.log().float()
        self._item_feature = item_feature

    # -- rec train match: data, loaders, recommendation ----------------------------------------------
    @classmethod
    def load_data(cls, request: TrainRequest, config: TrainingConfig) -> TaskData:
        """Load the interactions (and side tables); the features are the two towers' (``_match_data``)."""
        import dataclasses

        data = super().load_data(request, config)
        features = match_columns(data, config.history_len, config.embed_dim).features
        return dataclasses.replace(data, features=features, info={**data.info, "history_len": config.history_len})

    @classmethod
    def build_model(cls, entry: Any, params: dict[str, Any], data: TaskData) -> nn.Module:
        """Build the model; a model that needs the history length (MIND, ComirecDR) gets ``history_len``."""
        factory = entry.load()
        if "max_length" in getattr(factory, "required_params", ()) and "max_length" not in params:
            params = {**params, "max_length": int(data.info.get("history_len", 50))}
        return super().build_model(entry, params, data)

    @classmethod
    def read_interaction_file(cls, path: Path, params: dict[str, Any], config: TrainingConfig) -> TaskData:
        """Read ``--data FILE`` (a ``user,item[,time]`` table); ``data.users``/``data.user_key`` attach a user file."""
        from rec_core.datasets import attach_users, load_interactions

        options = {"min_user_interactions": 3, **params}
        users, user_key = options.pop("users", None), options.pop("user_key", None)
        data = load_interactions(path, seed=config.random_seed, **options)
        return attach_users(data, users, user_key) if users else data

    def make_loaders(self, data: TaskData) -> dict[str, Any]:
        """Return the training rows' loader and the validation and test queries; set the catalogue."""
        from rec_core.data import ColumnarLoader

        config = self.config
        columns = match_columns(data, config.history_len, config.embed_dim)
        if config.match_mode == 1 and not config.in_batch_neg:
            raise ConfigError("pair-wise training (match_mode=1) of rec train match draws its negatives in the "
                              "batch: add --set in_batch_neg=true")
        point_wise = config.match_mode == 0 and not config.in_batch_neg
        list_wise = config.match_mode == 2 and not config.in_batch_neg
        x, y = training_columns(data, columns, config.history_len,
                                negatives=config.train_negatives if point_wise else 0,
                                list_negatives=config.list_negatives if list_wise else 0, seed=config.random_seed)
        self.prepare_recommendation(data, columns)
        counts = np.bincount(x["item_id"][y > 0], minlength=len(columns.items["item_id"]))
        self.set_item_frequencies(counts, "item_id")
        loaders: dict[str, Any] = {
            "train": ColumnarLoader(x, y, batch_size=config.batch_size, shuffle=True, seed=config.random_seed)
        }
        for split in ("val", "test"):
            queries = split_queries(data, columns, split, config.history_len)
            if queries is not None:
                loaders[split] = queries
        return loaders

    def prepare_recommendation(self, data: TaskData, columns: MatchColumns | None = None) -> None:
        """Give the evaluator the item tower's inputs of the whole catalogue."""
        columns = columns or match_columns(data, self.config.history_len, self.config.embed_dim)
        self._columns = columns
        self.set_item_catalogue(catalogue_columns(columns))

    @torch.no_grad()
    def item_vectors(self, data: TaskData) -> np.ndarray:
        """Return the item tower's vectors of items ``1..n-1``."""
        self.model.eval()
        with self.scoring_session():
            return self._item_embeddings[1:].cpu().numpy()

    def user_query(self, data: TaskData, user: int, history: UserSequences) -> RetrievalQueries:
        """Return the query of one user: their side features and the last ``history_len`` items."""
        users = one_user(user)
        inputs = {name: torch.from_numpy(values[users]) for name, values in self._columns.users.items()}
        inputs[HISTORY] = torch.from_numpy(history.padded(users, self.config.history_len))
        return RetrievalQueries(inputs, None, len(self._columns.items["item_id"]),
                                exclude=ItemLists.from_csr_rows(history.offsets, history.items, users),
                                excluded_items=[0])

    # -- training -------------------------------------------------------------------------------
    def training_step(self, batch: Any) -> torch.Tensor:
        """Return the loss of ``mode`` (or the in-batch softmax) plus the regularization."""
        x, y = batch if isinstance(batch, (tuple, list)) else (batch, None)
        config = self.config
        if config.in_batch_neg:
            loss = self._in_batch_loss(x)
        elif config.match_mode == 1:
            positive, negative = self.network(x)
            loss = bpr_loss(positive, negative)
        elif config.match_mode == 2:
            loss = list_wise_loss(self.network(x), config.temperature)
        else:
            if y is None:
                raise DataError("point-wise training (mode=0) needs (x, y) batches with 0/1 labels")
            loss = point_wise_loss(self.network(x), y)
        return self.regularization.add_to(loss)

    def _in_batch_loss(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.dist.is_distributed:
            raise ConfigError("in_batch_neg needs the towers outside forward(); it is not supported under DDP")
        users, items = _flat(self.model.user_tower(x)), _flat(self.model.item_tower(x))
        if users.dim() == 3:  # multi-interest: the interest closest to the row's positive (label-aware)
            chosen = torch.einsum("bkd,bd->bk", users, items).argmax(dim=1)
            users = users[torch.arange(users.shape[0], device=users.device), chosen]
        config = self.config
        item_ids = x.get(self._item_feature) if self._item_feature else None
        log_q = None
        if config.logq_correction and self._log_q is not None and item_ids is not None:
            log_q = self._log_q.to(item_ids.device)[item_ids.reshape(-1)]
        if config.in_batch_neg_ratio is None and config.match_mode != 1:
            return in_batch_softmax_loss(users, items, item_ids, temperature=config.temperature, log_q=log_q)
        return self._sampled_in_batch_loss(users, items, log_q)

    def _sampled_in_batch_loss(self, users: torch.Tensor, items: torch.Tensor,
                               log_q: torch.Tensor | None) -> torch.Tensor:
        """torch-rechub's ``in_batch_neg_ratio``: K random (or the K hardest) other positives per row (all for BPR)."""
        scores = (users @ items.T).float() / self.config.temperature
        if log_q is not None:
            scores = scores - log_q.reshape(1, -1)
        rows = scores.shape[0]
        k = rows - 1 if self.config.in_batch_neg_ratio is None else min(int(self.config.in_batch_neg_ratio), rows - 1)
        others = ~torch.eye(rows, dtype=torch.bool, device=scores.device)
        if self.config.hard_negative:
            rank = scores.detach().masked_fill(~others, float("-inf"))
        else:
            rank = torch.rand(rows, rows, generator=self._sampler).to(scores.device).masked_fill(~others, -1.0)
        chosen = rank.topk(k, dim=1).indices
        logits = torch.cat([scores.diagonal().unsqueeze(1), scores.gather(1, chosen)], dim=1)
        if self.config.match_mode == 1:
            return bpr_loss(logits[:, 0], logits[:, 1:])
        return list_wise_loss(logits)

    # -- evaluation -----------------------------------------------------------------------------------
    def configure_evaluator(self) -> Evaluator:
        """Return full ranking for :class:`RetrievalQueries`, torch-rechub's AUC for ``(x, y)`` loaders."""
        return _MatchEvaluator(RetrievalEvaluator(ks=tuple(self.config.eval_ks)))

    def _setup_loaders(self, train_loader: Any, val_loader: Any) -> None:
        if val_loader is not None and not isinstance(val_loader, RetrievalQueries) \
                and self.config.monitor == _DEFAULT_MONITOR:
            self.config = self.config.replace(monitor="val/auc", mode="max")  # torch-rechub's validation
        super()._setup_loaders(train_loader, val_loader)

    @contextlib.contextmanager
    def scoring_session(self) -> Iterator[None]:
        """Embed the whole catalogue once with the item tower for the chunks of one evaluation."""
        if self._item_inputs is None:
            raise DataError("full-ranking evaluation needs the item catalogue: call set_item_catalogue(x_all_item)")
        chunks = []
        n_items = len(next(iter(self._item_inputs.values())))
        for start in range(0, n_items, ITEM_EMBEDDING_BATCH):
            part = {k: v[start : start + ITEM_EMBEDDING_BATCH] for k, v in self._item_inputs.items()}
            chunks.append(_flat(self.model.item_tower(self.transfer_batch(part))).float())
        self._item_embeddings = torch.cat(chunks)
        try:
            yield
        finally:
            self._item_embeddings = None

    def score_items(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Return ``(queries, n_items)`` scores: user embedding · item embedding (best interest of several)."""
        users = self.model.user_tower(inputs).float()
        items = self._item_embeddings
        if users.dim() == 3:  # multi-interest: an item scores by the interest closest to it
            return torch.einsum("bkd,nd->bkn", users, items).amax(dim=1)
        return users @ items.T

    def validation_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """Return the model's scores and labels of a torch-rechub ``(x, y)`` validation batch."""
        x, y = batch
        return {"pred": self.model(x).float().reshape(-1), "target": y.float().reshape(-1)}

    def compute_metrics(self, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        """Return torch-rechub's validation AUC."""
        return {"auc": auc(outputs["target"].cpu().numpy(), outputs["pred"].cpu().numpy())}

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Evaluate: ``evaluate(model, data_loader) -> AUC`` (torch-rechub) or RecBole's form -> ``{metric: value}``."""
        if args and isinstance(args[0], nn.Module):
            model, loader = args[0], args[1] if len(args) > 1 else kwargs["data_loader"]
            pred, target = collect_outputs(self, model, loader, lambda m, x: m(x).reshape(-1))
            return auc(target.reshape(-1).numpy(), pred.reshape(-1).numpy())
        return super().evaluate(*args, **kwargs)

    def predict(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Predict: ``predict(model, data_loader) -> list`` of scores (torch-rechub) or ``predict(loader)``."""
        if args and isinstance(args[0], nn.Module):
            model, loader = args[0], args[1] if len(args) > 1 else kwargs["data_loader"]
            pred, _ = collect_outputs(self, model, loader, lambda m, x: m(x).reshape(-1), with_target=False)
            return pred.tolist()
        return super().predict(*args, **kwargs)

    def predict_step(self, batch: Any) -> torch.Tensor:
        """Return the model's scores of a batch (``(x, y)`` or ``x``)."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.model(x)

    @torch.no_grad()
    def inference_embedding(self, model: nn.Module, mode: str, data_loader: Any,
                            model_path: str | Path) -> torch.Tensor:
        """Return the ``"user"`` or ``"item"`` embeddings of ``data_loader``'s rows, from the saved best weights.

        The weights are read from ``model_path/model.pth`` (written by ``fit``, unwrapped, so
        a model trained under DDP loads as well).

        Raises:
            ConfigError: ``mode`` is not ``"user"`` or ``"item"``.
            CheckpointError: ``model.pth`` is missing or does not fit the model.
        """
        from rec_core.checkpoint import strip_module_prefix
        from rec_core.errors import CheckpointError

        if mode not in ("user", "item"):
            raise ConfigError(f"inference_embedding mode must be 'user' or 'item', got {mode!r}")
        path = Path(model_path) / "model.pth"
        if not path.is_file():
            raise CheckpointError(f"{path} does not exist; fit() writes the best weights there")
        try:
            weights = torch.load(path, map_location=self.device, weights_only=True)
            model.load_state_dict(strip_module_prefix(weights))
        except (RuntimeError, OSError, EOFError, ValueError) as exc:
            raise CheckpointError(f"cannot load {path} into {type(model).__name__}: "
                                  f"{str(exc).splitlines()[0]}") from None
        model.to(self.device).eval()
        previous, model.mode = getattr(model, "mode", None), mode
        try:
            rows = [model(self.transfer_batch(x[0] if isinstance(x, (tuple, list)) else x)) for x in data_loader]
        finally:
            model.mode = previous
        return torch.cat(rows, dim=0)

    def fit(self, train_loader: Any, val_loader: Any = None, **kwargs: Any) -> tuple[float, Any]:
        """Train (see :meth:`BaseTrainer.fit`); the best weights also land in ``model.pth``, as torch-rechub's."""
        result = super().fit(train_loader, val_loader, **kwargs)
        write_best_weights(self, **kwargs)
        return result


class _MatchEvaluator(Evaluator):
    """Full ranking for :class:`RetrievalQueries`; torch-rechub's batch-wise AUC for ``(x, y)`` loaders."""

    def __init__(self, retrieval: RetrievalEvaluator) -> None:
        self.retrieval = retrieval
        self.batch = BatchEvaluator()

    def evaluate(self, trainer: Any, data: Any, *, description: str = "eval") -> dict[str, float]:
        chosen = self.retrieval if isinstance(data, RetrievalQueries) else self.batch
        return chosen.evaluate(trainer, data, description=description)

    def metric_names(self, trainer: Any) -> list[str]:
        return [*self.retrieval.metric_names(trainer), "auc"]


def _flat(embeddings: torch.Tensor) -> torch.Tensor:
    """Return ``(B, d)`` for a ``(B, 1, d)`` tower output (torch-rechub's towers keep that axis)."""
    return embeddings.squeeze(1) if embeddings.dim() == 3 and embeddings.shape[1] == 1 else embeddings
