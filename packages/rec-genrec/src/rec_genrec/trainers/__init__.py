"""The generative-retrieval trainers and their configs (genrec's ``genrec.trainers``).

Imported lazily: ``from rec_genrec.trainers import RQVAETrainer`` loads only the RQ-VAE module.
"""

from __future__ import annotations

from rec_genrec._lazy import lazy_exports

__all__ = ["RQVAETrainer", "RQVAETrainingConfig", "TIGERTrainer", "TIGERTrainingConfig"]

_MODULES = {
    "RQVAETrainer": "rec_genrec.trainers.rqvae",
    "RQVAETrainingConfig": "rec_genrec.trainers.rqvae",
    "TIGERTrainer": "rec_genrec.trainers.tiger",
    "TIGERTrainingConfig": "rec_genrec.trainers.tiger",
}


__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
