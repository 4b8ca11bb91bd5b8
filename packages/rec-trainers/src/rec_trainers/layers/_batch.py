"""Read feature columns out of a batch dict (internal helpers)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from rec_core.errors import DataError
from rec_core.features import DenseFeature

__all__ = ["column", "dense_value"]


def column(x: Mapping[str, torch.Tensor], name: str) -> torch.Tensor:
    """Return the column ``name`` of the batch ``x``.

    Raises:
        DataError: If the batch has no such column (the message lists the columns).
    """
    try:
        return x[name]
    except KeyError:
        raise DataError(f"feature {name!r} missing from the batch (columns: {', '.join(map(str, x))})") from None


def dense_value(x: Mapping[str, torch.Tensor], feature: DenseFeature) -> torch.Tensor:
    """Return a dense feature's values as a float ``(B, embed_dim)`` tensor."""
    value = column(x, feature.name).float()
    return value.unsqueeze(1) if value.dim() == 1 else value.reshape(value.shape[0], -1)
