"""rec-genrec: generative retrieval on the rec engine (RQ-VAE semantic IDs, TIGER).

The genrec API with ``genrec.`` replaced by ``rec_genrec.``: ``rec_genrec.trainers``
(``RQVAETrainer``, ``TIGERTrainer`` and their configs), ``rec_genrec.models.rqvae.RqVae``,
``rec_genrec.models.tiger.Tiger`` and ``rec_genrec.data.dataset_factory.DatasetFactory``;
the same names are importable from ``rec_genrec`` itself. Imports are lazy, so loading the
plugin to list its names imports no torch.
"""

from __future__ import annotations

from rec_genrec._lazy import lazy_exports

__version__ = "0.1.0"

__all__ = [
    "DatasetFactory",
    "RQVAETrainer",
    "RQVAETrainingConfig",
    "RqVae",
    "TIGERTrainer",
    "TIGERTrainingConfig",
    "Tiger",
]

_MODULES = {
    "DatasetFactory": "rec_genrec.data.dataset_factory",
    "RQVAETrainer": "rec_genrec.trainers.rqvae",
    "RQVAETrainingConfig": "rec_genrec.trainers.rqvae",
    "RqVae": "rec_genrec.models.rqvae",
    "TIGERTrainer": "rec_genrec.trainers.tiger",
    "TIGERTrainingConfig": "rec_genrec.trainers.tiger",
    "Tiger": "rec_genrec.models.tiger",
}


__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
