"""The generative-retrieval trainers and their configs (genrec's ``genrec.trainers``).

Imported lazily: ``from rec_genrec.trainers import RQVAETrainer`` loads only the RQ-VAE module.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["RQVAETrainer", "RQVAETrainingConfig", "TIGERTrainer", "TIGERTrainingConfig"]

_MODULES = {
    "RQVAETrainer": "rec_genrec.trainers.rqvae",
    "RQVAETrainingConfig": "rec_genrec.trainers.rqvae",
    "TIGERTrainer": "rec_genrec.trainers.tiger",
    "TIGERTrainingConfig": "rec_genrec.trainers.tiger",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULES[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
