"""``RetrievalQueries``: what the retrieval evaluator ranks the catalogue for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from rec_core.errors import DataError
from rec_core.metrics._item_lists import ItemLists

__all__ = ["RetrievalQueries"]


@dataclass(eq=False)
class RetrievalQueries:
    """Queries (users, sessions) whose targets are found by ranking the whole catalogue.

    Args:
        inputs: Tensors with one row per query, e.g. ``{"user_id": ..., "history": ...}``;
            the evaluator hands row slices of them to ``trainer.score_items``.
        targets: Each query's target items: a LongTensor (Q,) (one each), a list of
            per-query tensors, or :class:`~rec_core.metrics.ItemLists`. ``None`` for
            queries that are only recommended for (no metrics).
        n_items: The catalogue size; items are ``0 .. n_items - 1``.
        exclude: Each query's known items (e.g. its training history), never ranked nor
            recommended: the same forms as ``targets``, or ``None``.
        excluded_items: Items never ranked for any query (e.g. the padding id 0), or ``None``.

    Raises:
        DataError: If the inputs disagree on the number of queries, an item index lies
            outside the catalogue, or a query has no target.

    ``targets`` and ``exclude`` are stored as :class:`ItemLists`. Under DDP the evaluator
    gives each rank an interleaved share of the queries itself, so the trainer's
    ``shard_eval`` passes this object through untouched (``shards_itself``).
    """

    shards_itself: ClassVar[bool] = True

    inputs: Mapping[str, torch.Tensor]
    targets: Any
    n_items: int
    exclude: Any = None
    excluded_items: torch.Tensor | Sequence[int] | None = None
    _size: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        if not isinstance(self.n_items, int) or isinstance(self.n_items, bool) or self.n_items < 1:
            raise DataError(f"RetrievalQueries n_items must be a positive integer, got {self.n_items!r}")
        if not self.inputs:
            raise DataError("RetrievalQueries inputs are empty; give at least one tensor with a row per query")
        sizes = {name: _rows(name, value) for name, value in self.inputs.items()}
        if len(set(sizes.values())) != 1:
            raise DataError(f"RetrievalQueries inputs disagree on the number of queries: {sizes}")
        self._size = next(iter(sizes.values()))
        if self._size == 0:
            raise DataError("RetrievalQueries holds no query")
        if self.targets is not None:
            self.targets = ItemLists.coerce(self.targets, self._size, what="targets")
            self.targets.check_range(self.n_items, what="targets")
            empty = self.targets.lengths == 0
            if bool(empty.any()):
                query = int(empty.nonzero()[0, 0])
                raise DataError(f"query {query} has no target item; drop queries without targets before evaluating")
        if self.exclude is not None:
            self.exclude = ItemLists.coerce(self.exclude, self._size, what="exclude")
            self.exclude.check_range(self.n_items, what="exclude")
        if self.excluded_items is not None:
            items = torch.as_tensor(self.excluded_items, dtype=torch.long).reshape(-1).cpu()
            ItemLists.from_column(items).check_range(self.n_items, what="excluded_items")
            self.excluded_items = items

    def __len__(self) -> int:
        return self._size

    def take(self, rows: torch.Tensor) -> RetrievalQueries:
        """Return the queries at ``rows`` (a non-empty 1-D index tensor), in that order."""
        rows = rows.long().cpu()
        return RetrievalQueries(
            inputs={name: value[rows.to(value.device)] for name, value in self.inputs.items()},
            targets=None if self.targets is None else self.targets.take(rows),
            n_items=self.n_items,
            exclude=None if self.exclude is None else self.exclude.take(rows),
            excluded_items=self.excluded_items,
        )

    def exclude_mask(self, device: torch.device | str | None = None) -> torch.Tensor | None:
        """Return the (queries, n_items) bool mask of items never ranked, or ``None`` if there are none."""
        mask = None if self.exclude is None else self.exclude.mask(self.n_items, device)
        if self.excluded_items is not None and len(self.excluded_items):
            if mask is None:
                mask = torch.zeros((self._size, self.n_items), dtype=torch.bool, device=device)
            mask[:, self.excluded_items.to(mask.device)] = True
        return mask


def _rows(name: str, value: Any) -> int:
    if not isinstance(value, torch.Tensor) or value.ndim == 0:
        raise DataError(f"RetrievalQueries input {name!r} must be a tensor with a row per query")
    return int(value.shape[0])
