"""The embedding layout contract between the trainer and the models' embedding modules.

A module that can store its embedding tables in more than one way implements
``set_embedding_layout(layout)`` with ``layout`` in ``("per-field", "fused")`` (rec-trainers'
``EmbeddingLayer`` does). The trainer resolves ``TrainingConfig.embedding_layout`` for its
device and calls it on every such module of the model before it builds the optimizer and
wraps the model for DDP. Modules without the method are left alone.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["apply_embedding_layout", "resolve_embedding_layout"]


def resolve_embedding_layout(layout: str, device: torch.device) -> str:
    """Return ``layout``, with ``"auto"`` resolved: ``"fused"`` on CUDA, ``"per-field"`` elsewhere.

    On an H200 one gather over stacked tables beat 26 per-field lookups (DeepFM, 390k -> 726k
    samples/s at batch 2048); on the project's 2-core CPUs per-field tables were faster
    (DeepFM 50 vs 87 ms a step, DSSM 6.0 vs 8.2 ms).
    """
    if layout == "auto":
        return "fused" if device.type == "cuda" else "per-field"
    return layout


def apply_embedding_layout(model: nn.Module, layout: str, device: torch.device) -> str:
    """Put every module of ``model`` that supports it in ``layout`` (resolved for ``device``); return it."""
    resolved = resolve_embedding_layout(layout, device)
    for module in model.modules():
        switch = getattr(module, "set_embedding_layout", None)
        if callable(switch):
            switch(resolved)
    return resolved
