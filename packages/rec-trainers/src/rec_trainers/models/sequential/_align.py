"""Left-aligning padded histories, for recurrent models whose states must not see padding."""

from __future__ import annotations

import torch

__all__ = ["left_align", "restore_order"]


def left_align(history: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each row's items to the front, in order, and the padding behind them.

    A recurrent network run over the result reaches each item after the same items
    whatever padding preceded them, so its states at real positions are padding-invariant.

    Args:
        history: ``(B, L)`` item ids, 0 = padding.

    Returns:
        ``(aligned, order)``: ``aligned = history.gather(1, order)`` and ``order`` the
        ``(B, L)`` permutation that :func:`restore_order` undoes.
    """
    order = torch.argsort(history.eq(0).to(torch.int8), dim=1, stable=True)
    return history.gather(1, order), order


def restore_order(states: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Return the ``(B, L, d)`` states of :func:`left_align`'s output at the rows' original positions."""
    inverse = order.argsort(dim=1)
    return states.gather(1, inverse.unsqueeze(-1).expand_as(states))
