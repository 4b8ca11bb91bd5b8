"""rec-trainers: CTR, matching, multi-task and sequential trainers and models for rec.

``from rec_trainers import CTRTrainer, MatchTrainer, MTLTrainer, SeqTrainer`` mirrors
``from torch_rechub.trainers import ...``.
The trainers are imported on first access so that loading the plugin stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rec_trainers.trainers.ctr import CTRTrainer
    from rec_trainers.trainers.match import MatchTrainer
    from rec_trainers.trainers.mtl import MTLTrainer
    from rec_trainers.trainers.seq import SeqTrainer

__version__ = "0.1.0"

__all__ = ["CTRTrainer", "MTLTrainer", "MatchTrainer", "SeqTrainer", "__version__"]

_LAZY = {
    "CTRTrainer": "rec_trainers.trainers.ctr",
    "MatchTrainer": "rec_trainers.trainers.match",
    "MTLTrainer": "rec_trainers.trainers.mtl",
    "SeqTrainer": "rec_trainers.trainers.seq",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rec_trainers' has no attribute {name!r}")
