"""``RetrievalEvaluator``: full ranking of the catalogue, chunk by chunk of queries.

The trainer contract (a match or sequential trainer implements it):

* ``score_items(inputs) -> Tensor`` — score the whole catalogue for a chunk of queries:
  ``inputs`` holds the chunk's rows of :attr:`RetrievalQueries.inputs` (on the trainer's
  device); the result is a fresh (chunk, n_items) float tensor, higher is better, which the
  evaluator may overwrite. Use ``self.model``, not the DDP wrapper ``self.network``: ranks
  score different numbers of chunks, and the wrapper's collectives would wait for each other.
  No autocast is applied: scores rounded to bf16 tie often, and ties count against the target.
* optionally ``scoring_session()`` — a context manager entered once around all chunks,
  e.g. to compute the item tower's embeddings once and drop them afterwards.

Memory stays bounded: at most ``chunk × n_items`` scores (plus two bool masks and the
known-items mask of the chunk) exist at once, never users × items. Per metric only a
float64 sum and a query count are kept, reduced across ranks at the end.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import torch

from rec_core.errors import ConfigError, DataError
from rec_core.evaluation.base import Evaluator, evaluation_mode, require_methods
from rec_core.evaluation.queries import RetrievalQueries
from rec_core.metrics.names import ranking_metric_names
from rec_core.metrics.ranking import _check_ks, _check_scores, _ranking_rows

if TYPE_CHECKING:
    from rec_core.trainer import BaseTrainer

__all__ = ["RetrievalEvaluator", "RetrievalResult"]

BYTES_PER_SCORE = 8
"""Working memory per (query, item) cell: a float32 score, the known-items mask and the ranking's two bool masks."""


@dataclass
class RetrievalResult:
    """What :meth:`RetrievalEvaluator.run` returns.

    Attributes:
        metrics: ``{metric: mean over the queries}`` (empty without targets).
        top_items: (queries, k) LongTensor of the best unexcluded items, best first, in
            query order, ``-1`` where fewer than k items can be ranked; ``None`` unless asked.
    """

    metrics: dict[str, float]
    top_items: torch.Tensor | None = None


class RetrievalEvaluator(Evaluator):
    """Rank the whole catalogue for every query, excluding its known items.

    Args:
        ks: Cut-offs of Recall/NDCG/HitRate/MRR@K (MRR without a cut-off is reported too).
        chunk_size: Queries scored at once; ``None`` derives it from ``memory_budget``.
        memory_budget: Bytes the ranking of one chunk may use (``BYTES_PER_SCORE`` per
            query × item); the scorer's own temporaries come on top. The default, 64 MiB,
            is 167 queries of a 50k-item catalogue; on CPUs larger chunks are not faster
            (``benchmarks/retrieval_eval.py``).
        with_loss: Also report ``loss``, the softmax cross-entropy of each query's first
            target over the scores of every item but ``excluded_items`` (the training loss
            of a next-item model; known items are not masked here), and ``accuracy``, the
            share of queries whose first ranked item is a target (hit@1, ties against it).
        prefix: Put before every metric name, e.g. ``"sampled_"`` for a protocol that ranks
            sampled candidates rather than the catalogue, so its figures are never mistaken
            for full-ranking ones.

    Raises:
        ConfigError: If ``ks`` are not distinct positive integers or a size is not positive.
    """

    def __init__(
        self, ks: Iterable[int] = (5, 10, 20), chunk_size: int | None = None, memory_budget: int = 64 * 2**20,
        with_loss: bool = False, prefix: str = "",
    ) -> None:
        self.ks = _check_ks(ks)
        if len(set(self.ks)) != len(self.ks):
            raise ConfigError(f"RetrievalEvaluator ks must be distinct, got {self.ks!r}")
        if chunk_size is not None and (type(chunk_size) is not int or chunk_size < 1):
            raise ConfigError(f"RetrievalEvaluator chunk_size must be a positive integer or None, got {chunk_size!r}")
        if type(memory_budget) is not int or memory_budget < 1:
            raise ConfigError(f"RetrievalEvaluator memory_budget must be a positive byte count, got {memory_budget!r}")
        self.chunk_size = chunk_size
        self.memory_budget = memory_budget
        self.with_loss = bool(with_loss)
        self.prefix = prefix

    def metric_names(self, trainer: BaseTrainer | None = None) -> list[str]:
        """Return ``recall@k``, ``ndcg@k``, ``hit@k``, ``mrr@k`` for each k, ``mrr`` (and loss, accuracy), prefixed."""
        return [self.prefix + name for name in self._names()]

    def _names(self) -> list[str]:
        return ranking_metric_names(self.ks) + (["loss", "accuracy"] if self.with_loss else [])

    def _ks_with_top1(self) -> tuple[int, ...]:
        return (*self.ks, 1) if self.with_loss and 1 not in self.ks else self.ks

    def rows_per_chunk(self, n_items: int) -> int:
        """Return how many queries are scored at once for a catalogue of ``n_items``."""
        if self.chunk_size is not None:
            return self.chunk_size
        return max(1, self.memory_budget // (n_items * BYTES_PER_SCORE))

    def evaluate(self, trainer: BaseTrainer, data: Any, *, description: str = "eval") -> dict[str, float]:
        """Return the mean full-ranking metrics of ``data`` (:class:`RetrievalQueries` with targets)."""
        queries = _as_queries(data)
        if queries.targets is None:
            raise DataError("RetrievalEvaluator: the queries have no targets to evaluate against")
        return self.run(trainer, queries, description=description).metrics

    def recommend(self, trainer: BaseTrainer, queries: RetrievalQueries, k: int) -> torch.Tensor:
        """Return the (queries, k) best items per query, known items excluded (see :class:`RetrievalResult`)."""
        return cast(torch.Tensor, self.run(trainer, queries, top_k=k, description="recommend").top_items)

    def run(
        self, trainer: BaseTrainer, queries: RetrievalQueries, *, top_k: int | None = None, description: str = "eval"
    ) -> RetrievalResult:
        """Score ``queries`` chunk by chunk: metrics (when they have targets) and optionally the top items.

        Under DDP every rank must call this with the same queries; each scores an
        interleaved share, and every rank returns the global result.
        """
        require_methods(trainer, type(self).__name__, "score_items")
        queries = _as_queries(queries)
        if top_k is not None and (type(top_k) is not int or top_k < 1):
            raise ConfigError(f"top_k must be a positive integer, got {top_k!r}")
        dist, device = trainer.dist, trainer.device
        mine = torch.arange(len(queries))[dist.rank :: dist.world_size]
        chunks = [rows for rows in mine.split(self.rows_per_chunk(queries.n_items)) if len(rows)]
        names = self._names() if queries.targets is not None else []
        sums = torch.zeros(len(names) + 1, dtype=torch.float64, device=device)  # the last one counts queries
        tops: list[torch.Tensor] = []
        progress = trainer._progress
        progress.start(description, len(chunks))
        try:
            with evaluation_mode(trainer.model), _scoring_session(trainer):
                for rows in chunks:
                    part = queries.take(rows)
                    scores = _check_scores(trainer.score_items(trainer.transfer_batch(dict(part.inputs))))
                    if scores.shape != (len(rows), queries.n_items):
                        raise DataError(
                            f"{type(trainer).__name__}.score_items returned shape {tuple(scores.shape)} for "
                            f"{len(rows)} queries; expected ({len(rows)}, {queries.n_items})"
                        )
                    exclude = part.exclude_mask(scores.device)
                    if names:
                        index, valid = part.targets.padded(scores.device)
                        if self.with_loss:
                            loss = _first_target_loss(scores, index, queries.excluded_items)
                        per_row = _ranking_rows(scores, index, valid, exclude, self._ks_with_top1())
                        if self.with_loss:
                            per_row["loss"], per_row["accuracy"] = loss, per_row["hit@1"]
                        sums[:-1] += torch.stack([per_row[name].sum() for name in names]).to(device)
                    sums[-1] += len(rows)
                    if top_k is not None:
                        tops.append(_top_items(scores, exclude, top_k))
                    del scores, exclude
                    progress.advance(len(rows))
        finally:
            progress.stop()
        totals = dist.all_reduce_sum(sums).cpu()
        metrics = {self.prefix + name: float(totals[i] / totals[-1]) for i, name in enumerate(names)}
        top_items = _gather_rows(trainer, tops, mine, len(queries), top_k) if top_k is not None else None
        return RetrievalResult(metrics, top_items)


def _first_target_loss(scores: torch.Tensor, index: torch.Tensor, excluded: torch.Tensor | None) -> torch.Tensor:
    """Return each row's cross-entropy of its first target over all items but ``excluded`` (float64)."""
    logits = scores.double()
    if excluded is not None and len(excluded):
        logits = logits.index_fill(1, excluded.to(scores.device), -math.inf)
    return torch.logsumexp(logits, dim=1) - logits.gather(1, index[:, :1]).squeeze(1)


def _as_queries(data: Any) -> RetrievalQueries:
    if not isinstance(data, RetrievalQueries):
        raise ConfigError(f"RetrievalEvaluator evaluates RetrievalQueries, got a {type(data).__name__}")
    return data


def _scoring_session(trainer: Any) -> Any:
    session = getattr(trainer, "scoring_session", None)
    return session() if callable(session) else contextlib.nullcontext()


def _top_items(scores: torch.Tensor, exclude: torch.Tensor | None, k: int) -> torch.Tensor:
    """Return the chunk's (rows, k) best unexcluded items on the CPU, ``-1``-padded."""
    if exclude is not None:
        scores.masked_fill_(exclude, -math.inf)
    _, items = scores.topk(min(k, scores.shape[1]), dim=1)
    if exclude is not None:
        items = torch.where(exclude.gather(1, items), -1, items)
    if items.shape[1] < k:
        items = torch.cat([items, items.new_full((items.shape[0], k - items.shape[1]), -1)], dim=1)
    return items.cpu()


def _gather_rows(trainer: Any, parts: list[torch.Tensor], mine: torch.Tensor, total: int, width: int) -> torch.Tensor:
    """Put every rank's rows (``mine`` of ``total``) back together, in query order."""
    local = torch.cat(parts) if parts else torch.empty((0, width), dtype=torch.long)
    dist = trainer.dist
    if not dist.is_distributed:
        return local
    gathered = dist.gather(local.to(trainer.device)).cpu()
    order = torch.cat([torch.arange(total)[rank :: dist.world_size] for rank in range(dist.world_size)])
    out = torch.empty_like(gathered)
    out[order] = gathered
    return out
