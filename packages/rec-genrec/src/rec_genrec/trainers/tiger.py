"""``TIGERTrainer`` and ``TIGERTrainingConfig``: generate the next item's semantic ID from a user's history.

genrec's TIGER trainer on :class:`rec_core.BaseTrainer`: the same constructor
``TIGERTrainer(model, config, dataset, logger=None)`` and methods (``_create_collate_fn``,
``create_dataloaders``, ``train``, ``train_model``, ``test``, ``evaluate_generation``),
with the engine's checkpoints, resume, loggers, mixed precision and DDP.

* Training: teacher forcing, the mean cross-entropy of the target's ``L`` codes
  (:meth:`~rec_genrec.models.tiger.Tiger.forward`).
* Validation and test: :class:`~rec_core.evaluation.GenerativeEvaluator` over beam search
  constrained to the catalogue (every generated ID is a real item): ``recall@k``,
  ``ndcg@k``, ``hit@k``, ``mrr@k`` for ``eval_k_values`` and ``mrr``, so early stopping
  follows ``val/ndcg@10`` by default. With ``eval_generation=False`` validation reports the
  teacher-forced ``loss`` only (fast, genrec's ``val_loss``).
* The catalogue (the trie) is every item of the dataset's semantic-ID table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Union

import torch
from torch import nn

from rec_core import BaseTrainer, TrainingConfig
from rec_core.errors import ConfigError, DataError
from rec_genrec.data.sequences import SemanticIdVocabulary, SequenceBatches, SequenceDataset, collate_sequences
from rec_genrec.trainers._pipeline import SemanticIdSteps
from rec_genrec.trainers._recommend import RecommendsByGeneration

if TYPE_CHECKING:
    from torch.utils.data import DataLoader, Dataset

    from rec_core.evaluation import Evaluator
    from rec_genrec.models.trie import SemanticIdTrie

__all__ = ["TIGERTrainer", "TIGERTrainingConfig"]

GENERATION_STRATEGIES = ("beam", "sample")
_DEFAULT_MONITOR = "val/ndcg@10"


@dataclass
class TIGERTrainingConfig(TrainingConfig):
    """The genrec ``TIGERTrainingConfig`` on :class:`rec_core.TrainingConfig`.

    Defaults that differ from the genrec document follow the TIGER paper (Rajput et al.
    2023) where the document's values do not fit Beauty: a 128-wide model with 4 layers and
    6 heads (``embedding_dim``, ``num_layers``, ``num_heads``; were 512, 6, 8; heads are 64
    wide as in the paper, so 6 heads need not divide 128), a 1024-wide feed-forward
    (``attn_dim``), histories of at most 20 items (``max_seq_length`` counts items), and
    ``vocab_size`` 3026 = padding + start token + 4 levels x 256 codes + 2000 hashed user
    tokens (1024 cannot hold 4-token IDs and users).

    Other changes, each for a reason:

    * ``learning_rate`` 1e-3, ``batch_size`` 256 (were 1e-4, 16): a 128-wide model on
      130k training rows; 16 rows a step would take hours an epoch.
    * ``gradient_clip_val`` 1.0: genrec's ``TrainingConfig`` clips at 1.0 (rec-core does not
      by default); transformers trained with Adam at 1e-3 need it.
    * ``monitor`` ``val/ndcg@10`` (rec-core: ``val/loss``): validation generates, so the
      ranking metrics are what it reports (``val/loss`` with ``eval_generation=False``).
    * ``max_generation_length``: semantic IDs have ``num_code_levels`` codes, so generation
      always stops there; the field stays for genrec's scripts and must be at least that.
    * ``generation_temperature``, ``generation_top_k``, ``generation_top_p``: used when
      ``generation_strategy`` is ``"sample"``; beam search (TIGER's, the default) ignores them.

    Added fields:

    * ``num_code_levels``, ``codebook_size``, ``num_user_buckets``: the token layout
      (:class:`~rec_genrec.data.sequences.SemanticIdVocabulary`); ``vocab_size`` must hold it.
    * ``generation_strategy``: ``"beam"`` or ``"sample"``, how evaluation generates.
    * ``num_beams``: beam width (at least the largest k is used).
    * ``length_bucketing``: batch training rows of similar history length (less padding).
    """

    vocab_size: int = 3026
    """Tokens of the transformer: padding, start, ``num_code_levels`` x ``codebook_size`` codes and the user
    tokens."""
    embedding_dim: int = 128
    """Width of the encoder-decoder transformer."""
    num_heads: int = 6
    """Attention heads (64 wide each)."""
    num_layers: int = 4
    """Encoder layers, and as many decoder layers."""
    attn_dim: int = 1024
    """Width of the feed-forward layers."""
    dropout: float = 0.1
    """Dropout inside the transformer."""
    max_seq_length: int = 20
    """Items of a user's history read (each is ``num_code_levels`` tokens)."""
    num_code_levels: int = 4
    """Codes per semantic ID (the RQ-VAE's levels and its collision code)."""
    codebook_size: int = 256
    """Codes per level."""
    num_user_buckets: int = 2000
    """Hashed user tokens; each history starts with its user's."""

    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 50
    gradient_clip_val: Union[float, None] = 1.0
    monitor: str = _DEFAULT_MONITOR
    length_bucketing: bool = True
    """Batch training rows of similar history length (less padding)."""

    max_generation_length: int = 50
    """Most tokens generated; generation always stops after ``num_code_levels``."""
    generation_temperature: float = 1.0
    """Sampling temperature (``generation_strategy = "sample"``)."""
    generation_top_k: int = 50
    """Sample among the k likeliest codes (``generation_strategy = "sample"``)."""
    generation_top_p: float = 0.9
    """Sample within this probability mass (``generation_strategy = "sample"``)."""
    generation_strategy: str = "beam"
    """``beam`` (TIGER's beam search over real items) or ``sample``: how evaluation generates."""
    num_beams: int = 20
    """Beam width of evaluation (at least the largest k is used)."""

    dataset_name: str = "p5_amazon"
    """genrec's data set name (its scripts and ``DatasetFactory``)."""
    dataset_split: str = "beauty"
    """genrec's split of that data set."""
    pretrained_rqvae_path: str = "checkpoints/rqvae.ckpt"
    """The RQ-VAE whose semantic IDs TIGER learns (genrec's scripts)."""

    eval_generation: bool = True
    """Validation generates and reports ranking metrics; off: ``val/loss`` only."""
    eval_k_values: list[int] = field(default_factory=lambda: [5, 10, 20])
    """Cut-offs of the ranking metrics."""

    def _check_values(self) -> None:
        super()._check_values()
        for name in ("embedding_dim", "num_heads", "num_layers", "attn_dim", "max_seq_length", "num_code_levels",
                     "codebook_size", "num_beams"):
            if getattr(self, name) < 1:
                raise ConfigError(f"config key '{name}' must be >= 1 (got {getattr(self, name)})")
        if self.num_user_buckets < 0:
            raise ConfigError(f"config key 'num_user_buckets' must be >= 0 (got {self.num_user_buckets})")
        vocabulary = SemanticIdVocabulary(self.num_code_levels, self.codebook_size, self.num_user_buckets)
        vocabulary.check_vocab_size(self.vocab_size, what="config key 'vocab_size'")
        if self.max_generation_length < self.num_code_levels:
            raise ConfigError(f"config key 'max_generation_length' ({self.max_generation_length}) cannot hold a "
                              f"semantic ID of {self.num_code_levels} codes")
        if self.generation_strategy not in GENERATION_STRATEGIES:
            raise ConfigError(f"config key 'generation_strategy' must be one of {', '.join(GENERATION_STRATEGIES)} "
                              f"(got {self.generation_strategy!r})")
        if not self.generation_temperature > 0 or not 0 < self.generation_top_p <= 1 or self.generation_top_k < 0:
            raise ConfigError("config keys generation_temperature > 0, 0 < generation_top_p <= 1 and "
                              f"generation_top_k >= 0 (got {self.generation_temperature}, {self.generation_top_p}, "
                              f"{self.generation_top_k})")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"config key 'dropout' must lie in [0, 1) (got {self.dropout})")
        ks = self.eval_k_values
        if not ks or any(k < 1 for k in ks) or len(set(ks)) != len(ks):
            raise ConfigError(f"config key 'eval_k_values' must be distinct positive integers (got {ks!r})")


class TIGERTrainer(RecommendsByGeneration, SemanticIdSteps, BaseTrainer):
    """Train a :class:`~rec_genrec.models.tiger.Tiger`; evaluate it by constrained beam search.

    Args:
        model: The Tiger (or a module with its ``forward``/``generate``/``set_catalogue`` and sizes).
        config: A :class:`TIGERTrainingConfig` (``None``: the defaults).
        dataset: The data: a :class:`~rec_genrec.data.sequences.SequenceDataset` (its
            validation and test companions serve ``create_dataloaders``), or any dataset of
            ``{"input_ids", "labels"}`` rows with a ``semantic_ids`` table. ``None`` when
            the loaders come from elsewhere; then call :meth:`set_catalogue` before evaluating.
        logger: A logger or a list of loggers (genrec's name for ``loggers``).
        **kwargs: Any config field, or rec-core's ``callbacks``, ``loggers`` and torch-rechub names.

    Raises:
        ConfigError: The model does not fit the data's tokens (too small a vocabulary, other
            levels or codebook, shorter histories than the dataset's).
    """

    config_class: ClassVar[type[TrainingConfig]] = TIGERTrainingConfig

    def __init__(
        self,
        model: nn.Module,
        config: TrainingConfig | None = None,
        dataset: Dataset | None = None,
        logger: Any = None,
        **kwargs: Any,
    ) -> None:
        if logger is not None:
            if kwargs.get("loggers") is not None:
                raise ConfigError("TIGERTrainer: pass logger= or loggers=, not both")
            kwargs["loggers"] = logger
        super().__init__(model, config, **kwargs)
        if not self.config.eval_generation and self.config.monitor == _DEFAULT_MONITOR:
            self.config = self.config.replace(monitor="val/loss")
        self.dataset = dataset
        self.collate_fn = self._create_collate_fn()
        self.trie: SemanticIdTrie | None = None
        if dataset is not None:
            table = getattr(dataset, "semantic_ids", None)
            if table is None:
                raise DataError(f"TIGERTrainer needs the catalogue: {type(dataset).__name__} has no semantic_ids table")
            self.set_catalogue(table, getattr(dataset, "vocabulary", None))
            max_history = getattr(dataset, "max_history", None)
            model_history = getattr(model, "max_seq_length", None)
            if max_history is not None and model_history is not None and max_history > model_history:
                raise ConfigError(f"the dataset's histories hold up to {max_history} items but the model reads "
                                  f"max_seq_length={model_history}; raise it or lower max_history")

    # -- the catalogue ---------------------------------------------------------------------------
    def set_catalogue(self, semantic_ids: Any, vocabulary: SemanticIdVocabulary | None = None) -> SemanticIdTrie:
        """Check the model against the data's tokens and build the trie generation is constrained to.

        Args:
            semantic_ids: The semantic-ID table ``(n_items + 1, L)`` of every catalogue item.
            vocabulary: The data's token layout (default: the config's codebook and user buckets).

        Raises:
            ConfigError: The model's levels, codebook or ``vocab_size`` do not fit (one line).
            DataError: The table is malformed or two items share an ID.
        """
        table = torch.as_tensor(semantic_ids)
        if vocabulary is None:
            levels = table.shape[1] if table.ndim == 2 else self.config.num_code_levels
            vocabulary = SemanticIdVocabulary(levels, self.config.codebook_size, self.config.num_user_buckets)
        model = self.model
        shape = (getattr(model, "num_levels", None), getattr(model, "codebook_size", None))
        if shape != (vocabulary.num_levels, vocabulary.codebook_size):
            raise ConfigError(f"the model generates {shape[0]} levels x {shape[1]} codes but the data's semantic IDs "
                              f"have {vocabulary.num_levels} x {vocabulary.codebook_size}")
        vocabulary.check_vocab_size(int(getattr(model, "vocab_size", 0)), what=f"the model ({type(model).__name__})")
        self.trie = model.set_catalogue(table)
        return self.trie

    # -- genrec's data methods ----------------------------------------------------------------------
    def _create_collate_fn(self) -> Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]]:
        """Return genrec's collate: ``input_ids`` padded with 0, ``labels`` with -100, a float ``attention_mask``."""
        return collate_sequences

    def create_dataloaders(self) -> tuple[Any, Any, Any]:
        """Return ``(train_loader, val_loader, test_loader)`` for the trainer's dataset.

        A :class:`~rec_genrec.data.sequences.SequenceDataset` gives its own splits: the
        training rows (batched by :class:`~rec_genrec.data.sequences.SequenceBatches`,
        shuffled, seeded) and its leave-one-out validation and test companions (``None``
        where a split has no rows). Any other dataset is split at random 80/10/10 as genrec
        does. That split is kept only for such datasets: it puts rows of the same user
        (overlapping prefixes of one history) on both sides, so its test metrics leak.

        Raises:
            ConfigError: The trainer has no dataset.
        """
        if self.dataset is None:
            raise ConfigError("TIGERTrainer.create_dataloaders needs a dataset: TIGERTrainer(model, config, dataset)")
        config = self.config
        if isinstance(self.dataset, SequenceDataset):
            train = self.dataset.companion("train")
            loaders = [SequenceBatches(train, config.batch_size, shuffle=True, seed=config.random_seed,
                                       bucket_by_length=config.length_bucketing)]
            for split in ("val", "test"):
                rows = self.dataset.companion(split)
                loaders.append(self.eval_loader(rows) if len(rows) else None)
            return loaders[0], loaders[1], loaders[2]
        from torch.utils.data import random_split

        n_train = int(0.8 * len(self.dataset))
        n_val = int(0.1 * len(self.dataset))
        parts = random_split(self.dataset, [n_train, n_val, len(self.dataset) - n_train - n_val],
                             generator=torch.Generator().manual_seed(config.random_seed))
        return self._loader(parts[0], shuffle=True), self._loader(parts[1]), self._loader(parts[2])

    def eval_loader(self, dataset: SequenceDataset) -> DataLoader:
        """Return a ``DataLoader`` over ``dataset``'s rows, shortest histories first (less padding per batch)."""
        from torch.utils.data import Subset

        order = torch.from_numpy(dataset.history_lengths()).argsort(stable=True)
        return self._loader(Subset(dataset, order.tolist()))

    def _loader(self, dataset: Dataset, *, shuffle: bool = False) -> DataLoader:
        from torch.utils.data import DataLoader

        generator = torch.Generator().manual_seed(self.config.random_seed) if shuffle else None
        return DataLoader(dataset, batch_size=self.config.batch_size, shuffle=shuffle, generator=generator,
                          num_workers=self.config.num_workers, collate_fn=self.collate_fn,
                          pin_memory=self.device.type == "cuda")

    # -- genrec's training methods ------------------------------------------------------------------------
    def train(self, train_loader: Any, val_loader: Any = None) -> tuple[float, dict[str, float] | None]:
        """Train (genrec's ``train``: the engine's ``fit``); return the best score and its metrics."""
        return self.fit(train_loader, val_loader)

    def train_model(self) -> nn.Module:
        """Build the loaders, train, and test when ``config.run_test``; return the model (best weights).

        The test metrics are kept in ``self.test_results``.
        """
        train_loader, val_loader, test_loader = self.create_dataloaders()
        self.train(train_loader, val_loader)
        if self.config.run_test and test_loader is not None:
            self.test_results = self.test(test_loader)
        return self.model

    test_results: dict[str, float] | None = None

    # -- the steps the engine calls -------------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Return the teacher-forced cross-entropy of the batch's label codes."""
        return self.network(batch["input_ids"], batch.get("attention_mask"), batch["labels"]).loss

    def configure_evaluator(self) -> Evaluator:
        """Return the generative evaluator (``eval_k_values``), or the loss-only one without ``eval_generation``."""
        from rec_core.evaluation import BatchEvaluator, GenerativeEvaluator

        if self.config.eval_generation:
            return GenerativeEvaluator(ks=tuple(self.config.eval_k_values))
        return BatchEvaluator()

    def generate(self, batch: dict[str, torch.Tensor], k: int) -> torch.Tensor:
        """Return the ``(B, k)`` item ids generated for ``batch``, best first (``-1`` pads a short catalogue).

        Beam search of width ``max(k, num_beams)`` (or sampling with ``generation_strategy="sample"``).

        Raises:
            ConfigError: No catalogue was set.
        """
        config = self.config
        out = self.model.generate(
            batch["input_ids"], batch.get("attention_mask"), num_return_sequences=k,
            num_beams=max(k, config.num_beams), do_sample=config.generation_strategy == "sample",
            temperature=config.generation_temperature, top_k=config.generation_top_k,
            top_p=config.generation_top_p, max_length=config.max_generation_length, trie=self._trie())
        return out.items

    def generation_targets(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Return each row's target item: ``batch["target"]``, or the item the label codes name."""
        if "target" in batch:
            return batch["target"]
        labels = batch["labels"]
        return self._trie().lookup(self.model.vocabulary.token_codes(labels.masked_fill(labels < 0, 0)))

    def evaluate_generation(self, test_dataloader: Any, k_values: list[int] | None = None) -> dict[str, float]:
        """Return genrec's ``{"recall@k", "ndcg@k"}`` of the loader by constrained generation.

        Scored by :func:`rec_core.metrics.ranked_list_metrics` (one target per row: Recall@K
        is the hit rate, NDCG@K ``1 / log2(rank + 1)``); the model's current weights are used.
        """
        from rec_core.evaluation import GenerativeEvaluator

        ks = tuple(k_values if k_values is not None else self.config.eval_k_values)
        metrics = GenerativeEvaluator(ks=ks).evaluate(self, self.dist.shard_eval(test_dataloader),
                                                       description="generate")
        return {f"{name}@{k}": metrics[f"{name}@{k}"] for k in ks for name in ("recall", "ndcg")}

    def _trie(self) -> SemanticIdTrie:
        if self.trie is None:
            raise ConfigError("TIGERTrainer has no catalogue to generate from: give it a dataset with semantic_ids "
                              "or call set_catalogue(semantic_ids)")
        return self.trie
