"""``ItemDataset``: one text embedding per catalogue item, the input of RQ-VAE."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch.utils.data import Dataset

from rec_core.errors import DataError

if TYPE_CHECKING:
    from pathlib import Path

    from rec_core.datasets import ItemCatalogue, TaskData
    from rec_genrec.data.text import TextEncoder

__all__ = ["TEXT_EMBEDDING", "ItemDataset", "attach_text_embeddings"]

TEXT_EMBEDDING = "text_embedding"
"""The item attribute (``TaskData.items.attributes``) holding each item's text embedding (row 0: padding)."""


class ItemDataset(Dataset):
    """The catalogue's items as text embeddings; ``dataset[i]`` is item ``item_ids[i]``'s vector.

    Args:
        embeddings: ``(n, dim)`` float vectors, one per item.
        item_ids: The items' encoded ids (default ``1..n``, the catalogue order).
        titles: The items' text, row-aligned (for display and export).
        name: The data set's name.
        encoder: The name of the text encoder that made the embeddings.
    """

    def __init__(self, embeddings: torch.Tensor | np.ndarray, item_ids: torch.Tensor | np.ndarray | None = None,
                 titles: list[str] | None = None, *, name: str = "", encoder: str = "") -> None:
        vectors = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
        if vectors.ndim != 2 or len(vectors) == 0:
            raise DataError(f"item embeddings of {name or 'the data set'} must be a non-empty (items, dim) array, "
                            f"got shape {tuple(vectors.shape)}")
        if not torch.isfinite(vectors).all():
            row = int((~torch.isfinite(vectors)).any(dim=1).nonzero()[0, 0])
            raise DataError(f"item embedding {row} of {name or 'the data set'} is not finite")
        ids = torch.arange(1, len(vectors) + 1) if item_ids is None else torch.as_tensor(np.asarray(item_ids))
        if ids.shape != (len(vectors),):
            raise DataError(f"{len(vectors)} item embeddings but {tuple(ids.shape)} item ids")
        if titles is not None and len(titles) != len(vectors):
            raise DataError(f"{len(vectors)} item embeddings but {len(titles)} titles")
        self.embeddings, self.item_ids, self.titles = vectors, ids.long(), titles
        self.name, self.encoder = name, encoder

    def __len__(self) -> int:
        return len(self.embeddings)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.embeddings[index]

    @property
    def input_dim(self) -> int:
        """Return the size of one embedding (``RqVae``'s ``input_dim``)."""
        return int(self.embeddings.shape[1])

    @classmethod
    def from_task_data(cls, data: TaskData, encoder: str | TextEncoder | None = None, *,
                       cache_dir: str | Path | None = None, pm: Any = None) -> ItemDataset:
        """Return the data set's catalogue (every item, id order) as text embeddings.

        Uses the embeddings already attached by :func:`attach_text_embeddings`, else encodes
        the catalogue's text with ``encoder`` (cached).

        Raises:
            DataError: The data set has no item text.
        """
        data = attach_text_embeddings(data, encoder, cache_dir=cache_dir, pm=pm)
        items = cast("ItemCatalogue", data.items)  # attach_text_embeddings checked it
        vectors = items.attributes[TEXT_EMBEDDING][1:]
        return cls(vectors, np.arange(1, len(vectors) + 1), list(items.text[1:]) if items.text else None,
                   name=data.name, encoder=str(data.info.get("text_encoder", "")))


def attach_text_embeddings(data: TaskData, encoder: str | TextEncoder | None = None, *,
                           cache_dir: str | Path | None = None, pm: Any = None) -> TaskData:
    """Return ``data`` with each catalogue item's text embedding as the item attribute ``text_embedding``.

    Row 0 (padding) is zeros; ``info["text_encoder"]`` names the encoder. Data that already
    carries embeddings is returned as it is.

    Raises:
        DataError: The data set has no item catalogue or no item text.
    """
    import dataclasses

    from rec_genrec.data.text import item_text_embeddings, resolve_text_encoder, text_encoder_spec

    items = data.items
    if items is None or not items.text:
        raise DataError(f"data set '{data.name}' has no item text to encode (RQ-VAE learns semantic IDs from "
                        "item text: use a data set with titles, e.g. amazon-beauty)")
    if TEXT_EMBEDDING in items.attributes:
        return data
    text_encoder = resolve_text_encoder(encoder, pm=pm)
    vectors = item_text_embeddings(list(items.text[1:]), text_encoder, cache_dir=cache_dir, label=data.name or "items")
    table = np.zeros((len(vectors) + 1, vectors.shape[1]), dtype=np.float32)
    table[1:] = vectors
    catalogue = dataclasses.replace(items, attributes={**items.attributes, TEXT_EMBEDDING: table})
    # a registered name (re-resolvable later, e.g. by `rec genrec semantic-ids`), else the instance's own name
    recorded = text_encoder_spec(encoder) if encoder is None or isinstance(encoder, str) else text_encoder.name
    return dataclasses.replace(data, items=catalogue, info={**data.info, "text_encoder": recorded})
