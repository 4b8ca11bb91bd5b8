"""``Popularity``: rank items by their training count — the baseline every ``seq`` figure stands beside."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch

from rec_trainers.models.sequential._base import SequentialModel

if TYPE_CHECKING:
    from rec_core.datasets import TaskData

__all__ = ["Popularity"]


class Popularity(SequentialModel):
    """Score every item by one learned logit per item, whatever the history.

    :meth:`from_data` sets the logits to ``log(1 + training count)``: the popularity ranking,
    evaluated with the same evaluator as the trained models
    (``SeqTrainer(Popularity.from_data(data)).evaluate(queries)``); items with equal counts
    tie, and ties count against the target. Trained with the full softmax
    (``rec train seq --model pop``) the logits move to the log training frequencies, the
    optimum of a model that ignores the history.

    Args:
        n_items: Catalogue size, padding id 0 included.
        max_len: Longest history read (only its shape matters).
        counts: Initial ``(n_items,)`` counts (default: all zero).
    """

    padding_invariant: ClassVar[bool] = True

    def __init__(self, n_items: int, max_len: int = 50, counts: torch.Tensor | None = None) -> None:
        super().__init__()
        self.n_items = int(n_items)
        self.max_len = max_len
        initial = torch.zeros(self.n_items) if counts is None else counts.float().reshape(-1).log1p()
        self.logits = torch.nn.Parameter(initial.reshape(-1, 1))

    @classmethod
    def from_data(cls, data: TaskData, max_len: int = 50) -> Popularity:
        """Count the items of ``data``'s training interactions."""
        interactions = data.interactions
        if interactions is None or data.items is None:
            from rec_core.errors import DataError

            raise DataError(f"data set {data.name!r} has no interactions to count")
        train = interactions.items[interactions.part == 0]
        counts = np.bincount(train, minlength=data.items.n_items).astype(np.float32)
        return cls(data.items.n_items, max_len, torch.from_numpy(counts))

    def encode(self, history: torch.Tensor) -> torch.Tensor:
        """Return a constant state per position: the history does not matter."""
        return self.logits.new_ones((*history.shape, 1))

    def item_embeddings(self) -> torch.Tensor:
        """Return the item logits as one-dimensional item "embeddings"."""
        return self.logits
