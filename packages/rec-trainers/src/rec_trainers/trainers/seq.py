"""``SeqTrainer``: next-item prediction over user histories, evaluated by exact full ranking.

torch-rechub's constructor (``model, optimizer_fn, optimizer_params, scheduler_fn,
scheduler_params, n_epoch, earlystop_patience, device, gpus, model_path, loss_type,
loss_params, model_logger``) on :class:`rec_core.BaseTrainer`, so checkpoints, resume,
loggers, mixed precision and DDP come with it.

* Training: every position of a history predicts the item after it. The loss is the full
  softmax cross-entropy over the catalogue (chunked past ``logits_memory_budget``), a
  sampled softmax over ``num_negatives`` uniform items, or BCE with ``num_negatives``
  negatives per position (the SASRec paper's loss); see ``_next_item_loss``.
* Validation and test: :class:`~rec_core.evaluation.RetrievalEvaluator` ranks every item
  for every user with a target, the user's known items excluded: ``recall@k``, ``ndcg@k``,
  ``hit@k``, ``mrr@k`` for ``eval_ks``, ``mrr``, and ``loss`` / ``accuracy`` (the seed's
  ``val/loss`` and ``val/accuracy``). ``eval_protocol = "sampled-uniform"`` or
  ``"sampled-popularity"`` ranks the target among ``eval_negatives`` sampled items instead,
  for comparison with older papers; those metrics are named ``sampled_<metric>``.

Models follow :class:`rec_trainers.models.sequential.SequentialModel`. torch-rechub's
``(seq_tokens, seq_positions, seq_time_diffs, targets)`` loaders are accepted too: for
training, and as validation data (turned into ranking queries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Union

import numpy as np
import torch
from torch import nn

from rec_core import BaseTrainer, TrainingConfig
from rec_core.errors import ConfigError, DataError
from rec_core.evaluation import RetrievalEvaluator, RetrievalQueries
from rec_core.metrics import ItemLists
from rec_trainers.trainers._next_item_loss import LOSS_TYPES, next_item_loss
from rec_trainers.trainers._rechub import rechub_overrides, write_best_weights
from rec_trainers.trainers._recommend import RecommendsFromRuns, one_user
from rec_trainers.trainers._seq_data import EVAL_PROTOCOLS, split_queries, training_columns

if TYPE_CHECKING:
    from rec_core.datasets import TaskData, UserSequences

__all__ = ["SeqConfig", "SeqTrainer"]

_LOSS_PARAMS = ("temperature", "label_smoothing", "ignore_index")
SEQ_FILE_DEFAULTS: dict[str, Any] = {"min_user_interactions": 3}
"""Options of a ``--data FILE`` read for task seq: leave-one-out needs three items per user."""


@dataclass
class SeqConfig(TrainingConfig):
    """:class:`TrainingConfig` plus the sequential trainer's settings.

    Attributes:
        loss_type: ``"cross_entropy"`` (full softmax, default), ``"sampled_softmax"`` or
            ``"bce"``; torch-rechub's ``"nce"`` is the full softmax with temperature 0.1.
        loss_params: ``temperature`` (logits divided by it), ``label_smoothing`` (full
            softmax), ``ignore_index`` (must be 0, the padding id).
        num_negatives: Negatives of the sampled losses (``None``: 100 shared per batch for
            the sampled softmax, 1 per position for BCE).
        logits_memory_budget: Bytes of full-softmax logits computed at once in training.
        eval_ks: Cut-offs of the ranking metrics.
        eval_protocol: ``"full"`` (every item ranked), ``"sampled-uniform"`` or
            ``"sampled-popularity"`` (the target among ``eval_negatives`` sampled items).
        eval_negatives: Negatives per query of the sampled protocols.
        length_bucketing: For a model that declares ``padding_invariant``, batch histories
            of similar length together and trim their common padding: the same maths on
            far fewer positions when most histories are short (Beauty: 12% of the cells of
            a 50-wide row are items).
    """

    loss_type: str = "cross_entropy"
    loss_params: dict[str, Any] = field(default_factory=dict)
    num_negatives: Union[int, None] = None
    logits_memory_budget: int = 256 * 2**20
    eval_ks: list[int] = field(default_factory=lambda: [5, 10, 20])
    eval_protocol: str = "full"
    eval_negatives: int = 100
    length_bucketing: bool = True

    def _check_values(self) -> None:
        super()._check_values()
        loss_type = "cross_entropy" if self.loss_type == "nce" else self.loss_type
        if loss_type not in LOSS_TYPES:
            raise ConfigError(f"config key 'loss_type' must be one of {', '.join(LOSS_TYPES)}, nce "
                              f"(got {self.loss_type!r})")
        unknown = sorted(set(self.loss_params) - set(_LOSS_PARAMS))
        if unknown:
            raise ConfigError(f"unknown loss_params key {unknown[0]!r} (keys: {', '.join(_LOSS_PARAMS)})")
        if self.loss_params.get("ignore_index", 0) != 0:
            raise ConfigError("loss_params ignore_index must be 0: item 0 is the padding id")
        if self.eval_protocol not in EVAL_PROTOCOLS:
            raise ConfigError(f"config key 'eval_protocol' must be one of {', '.join(EVAL_PROTOCOLS)} "
                              f"(got {self.eval_protocol!r})")
        for name in ("logits_memory_budget", "eval_negatives"):
            if getattr(self, name) < 1:
                raise ConfigError(f"config key {name!r} must be positive (got {getattr(self, name)})")
        if self.num_negatives is not None and self.num_negatives < 1:
            raise ConfigError(f"config key 'num_negatives' must be positive (got {self.num_negatives})")
        if not self.eval_ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in self.eval_ks):
            raise ConfigError(f"config key 'eval_ks' must be positive integers (got {self.eval_ks!r})")

    @property
    def temperature(self) -> float:
        """Return the logit temperature (torch-rechub's ``nce`` defaults to 0.1)."""
        default = 0.1 if self.loss_type == "nce" else 1.0
        return float(self.loss_params.get("temperature", default))

    @property
    def sampled(self) -> bool:
        """Return whether evaluation ranks sampled candidates instead of the whole catalogue."""
        return self.eval_protocol != "full"


class SeqTrainer(RecommendsFromRuns, BaseTrainer):
    """Train a next-item model; validate and test by full ranking of the catalogue.

    Args:
        model: a :class:`~rec_trainers.models.sequential.SequentialModel` (SASRec, GRU4Rec,
            BERT4Rec, NARM, HSTU) or any module with the same methods.
        optimizer_fn, optimizer_params, scheduler_fn, scheduler_params, n_epoch,
        earlystop_patience, device, gpus, model_path, model_logger: as for CTRTrainer.
        loss_type: ``"cross_entropy"`` (default), ``"nce"``, ``"sampled_softmax"`` or ``"bce"``.
        loss_params: ``{"temperature", "label_smoothing", "ignore_index"}``.
        config: a :class:`SeqConfig`; keyword arguments override its fields.
    """

    config_class: ClassVar[type[TrainingConfig]] = SeqConfig
    config_defaults: ClassVar[dict[str, Any]] = {
        "max_epochs": 200,
        "early_stopping_patience": 10,
        "monitor": "val/ndcg@10",
        "mode": "max",
        "batch_size": 256,
        "save_top_k": 1,
    }
    default_model: ClassVar[str | None] = "sasrec"
    default_data: ClassVar[str | None] = "ml-100k"

    def __init__(
        self,
        model: nn.Module,
        optimizer_fn: Any = None,
        optimizer_params: dict[str, Any] | None = None,
        scheduler_fn: Any = None,
        scheduler_params: dict[str, Any] | None = None,
        n_epoch: int | None = None,
        earlystop_patience: int | None = None,
        device: str | None = None,
        gpus: list[int] | None = None,
        model_path: str | None = None,
        loss_type: str | None = None,
        loss_params: dict[str, Any] | None = None,
        model_logger: Any = None,
        **kwargs: Any,
    ) -> None:
        overrides = rechub_overrides(
            optimizer_fn=optimizer_fn, optimizer_params=optimizer_params, scheduler_fn=scheduler_fn,
            scheduler_params=scheduler_params, n_epoch=n_epoch, earlystop_patience=earlystop_patience,
            device=device, gpus=gpus, model_path=model_path, model_logger=model_logger,
            loss_type=loss_type, loss_params=loss_params,
        )
        super().__init__(model, **{**overrides, **kwargs})
        if self.config.sampled and self.config.monitor == self.config_defaults["monitor"]:
            self.config = self.config.replace(monitor="val/sampled_ndcg@10")

    # -- data ------------------------------------------------------------------------------
    @property
    def max_len(self) -> int:
        """Return the longest history the model reads (its ``max_len``; 50 if it has none)."""
        return int(getattr(self.model, "max_len", 50))

    @property
    def n_items(self) -> int:
        """Return the catalogue size, padding included (the model's ``n_items`` or ``vocab_size``)."""
        for name in ("n_items", "vocab_size"):
            if isinstance(getattr(self.model, name, None), int):
                return int(getattr(self.model, name))
        raise ConfigError(f"{type(self.model).__name__} declares neither n_items nor vocab_size")

    def make_loaders(self, data: TaskData) -> dict[str, Any]:
        """Return the training rows' loader and the validation and test queries."""
        from rec_core.data import ColumnarLoader

        config = self.config
        columns = training_columns(data, self.max_len)
        lengths = (columns["history"] != 0).sum(axis=1) if self._trims_padding else None
        loaders: dict[str, Any] = {
            "train": ColumnarLoader(columns, batch_size=config.batch_size, shuffle=True, seed=config.random_seed,
                                    bucket_key=lengths)
        }
        for split in ("val", "test"):
            queries = split_queries(data, split, self.max_len, protocol=config.eval_protocol,
                                    negatives=config.eval_negatives, seed=config.random_seed)
            if queries is not None:
                loaders[split] = queries
        return loaders

    @property
    def _trims_padding(self) -> bool:
        return bool(self.config.length_bucketing and getattr(self.model, "padding_invariant", False))

    @classmethod
    def read_interaction_file(cls, path: Path, params: dict[str, Any], config: TrainingConfig) -> TaskData:
        """Read a user's interactions (``--data FILE``): a ``user item item …`` file or a ``user,item[,time]`` table."""
        from rec_core.datasets import load_interactions

        return load_interactions(path, seed=config.random_seed, **{**SEQ_FILE_DEFAULTS, **params})

    # -- evaluation ----------------------------------------------------------------------------
    def configure_evaluator(self) -> RetrievalEvaluator:
        """Return the full-ranking evaluator (or the sampled protocol's) with ``loss`` and ``accuracy``."""
        return RetrievalEvaluator(ks=tuple(self.config.eval_ks), with_loss=True,
                                  prefix="sampled_" if self.config.sampled else "")

    def score_items(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Return ``(queries, n_items)`` scores of every item as each history's next one (float32)."""
        scores = self._scores(self.model, inputs["history"]).float()
        candidates = inputs.get("candidates")
        if candidates is not None:  # the sampled protocol ranks only the query's candidates
            kept = torch.full_like(scores, -torch.inf)
            scores = kept.scatter_(1, candidates, scores.gather(1, candidates))
        return scores

    @staticmethod
    def _scores(model: nn.Module, history: torch.Tensor) -> torch.Tensor:
        scorer = getattr(model, "scores", None)
        if callable(scorer):
            return scorer(history)
        return model(history)[:, -1]  # a torch-rechub model: (B, L, V) logits

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Evaluate ranking queries (RecBole's form), or a torch-rechub loader -> ``(loss, accuracy)``.

        ``evaluate(queries_or_loader, load_best_model=True, model_file=None,
        show_progress=None)`` returns ``{metric: value}``; a torch-rechub
        ``(seq_tokens, seq_positions, seq_time_diffs, targets)`` loader is first turned into
        queries and returns torch-rechub's ``(val_loss, val_accuracy)``.
        """
        data = args[0] if args else kwargs.pop("eval_data", kwargs.pop("data_loader", None))
        if data is not None and not isinstance(data, RetrievalQueries):
            metrics = super().evaluate(self._rechub_queries(data), *args[1:], **kwargs)
            return metrics[self._name("loss")], metrics[self._name("accuracy")]
        return super().evaluate(data, *args[1:], **kwargs)

    def _name(self, metric: str) -> str:
        return f"sampled_{metric}" if self.config.sampled else metric

    def _setup_loaders(self, train_loader: Any, val_loader: Any) -> None:
        if val_loader is not None and not isinstance(val_loader, RetrievalQueries):
            val_loader = self._rechub_queries(val_loader)
        super()._setup_loaders(train_loader, val_loader)

    def _rechub_queries(self, loader: Any) -> RetrievalQueries:
        """Turn a torch-rechub sequence loader into queries: each row's history ranks its target."""
        histories, targets = [], []
        for batch in loader:
            if not (isinstance(batch, (tuple, list)) and len(batch) == 4):
                raise DataError("SeqTrainer evaluates RetrievalQueries or torch-rechub loaders of "
                                "(seq_tokens, seq_positions, seq_time_diffs, targets) batches")
            histories.append(torch.as_tensor(batch[0]).long().cpu())
            targets.append(torch.as_tensor(batch[3]).long().reshape(-1).cpu())
        history = torch.cat(histories)
        known = [row[row.ne(0)] for row in history]
        return RetrievalQueries({"history": history}, torch.cat(targets), self.n_items, exclude=known,
                                excluded_items=[0])

    # -- training ------------------------------------------------------------------------------
    def training_step(self, batch: Any) -> torch.Tensor:
        """Return the next-item loss of a batch of histories and their next items."""
        history, target = self._training_pair(batch)
        if self._trims_padding:
            real = history.ne(0).any(dim=0)
            if bool(real.any()):
                start = int(real.to(torch.uint8).argmax())
                history, target = history[:, start:], target[:, start:]
        states, labels, items = self.network(history, target=target)
        config = self.config
        negatives = config.num_negatives or (1 if config.loss_type == "bce" else 100)
        loss_type = "cross_entropy" if config.loss_type == "nce" else config.loss_type
        return next_item_loss(
            loss_type, states, labels, items, temperature=config.temperature, num_negatives=negatives,
            memory_budget=config.logits_memory_budget,
            label_smoothing=float(config.loss_params.get("label_smoothing", 0.0)),
        )

    @staticmethod
    def _training_pair(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(history, target)`` of our loaders' dicts or torch-rechub's 4-tuples."""
        if isinstance(batch, dict):
            return batch["history"], batch["target"]
        if isinstance(batch, (tuple, list)) and len(batch) == 4:
            tokens, targets = batch[0].long(), batch[3].long().reshape(-1, 1)
            following = torch.cat([tokens[:, 1:], targets], dim=1)
            return tokens, following.masked_fill(tokens.eq(0), 0)
        raise DataError("SeqTrainer trains on {'history', 'target'} batches or torch-rechub's "
                        "(seq_tokens, seq_positions, seq_time_diffs, targets)")

    def predict_step(self, batch: Any) -> torch.Tensor:
        """Return ``(B, n_items)`` scores of the next item for a batch of histories."""
        history = batch["history"] if isinstance(batch, dict) else batch[0] if isinstance(batch, (list, tuple)) \
            else batch
        return self._scores(self.model, history)

    def fit(self, train_loader: Any, val_loader: Any = None, **kwargs: Any) -> tuple[float, Any]:
        """Train (see :meth:`BaseTrainer.fit`); the best weights also land in ``model.pth``, as torch-rechub's."""
        result = super().fit(train_loader, val_loader, **kwargs)
        write_best_weights(self, **kwargs)
        return result

    # -- rec recommend / export-index ---------------------------------------------------------------
    @torch.no_grad()
    def item_vectors(self, data: TaskData) -> np.ndarray:
        """Return the item table rows ``1..n-1`` the query states are scored against."""
        return self.model.item_embeddings()[1 : self.n_items].float().cpu().numpy()

    def user_query(self, data: TaskData, user: int, history: UserSequences) -> RetrievalQueries:
        """Return the query of one user: the last ``max_len`` items of their whole history."""
        users = one_user(user)
        return RetrievalQueries({"history": torch.from_numpy(history.padded(users, self.max_len))}, None,
                                self.n_items, exclude=ItemLists.from_csr_rows(history.offsets, history.items, users),
                                excluded_items=[0])
