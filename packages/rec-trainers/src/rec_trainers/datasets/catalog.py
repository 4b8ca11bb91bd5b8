"""The built-in data sets as lazy references, for registration without importing them.

``rec_trainers.plugin`` registers these under ``rec_register_datasets``; the registry
imports a data set's module only when it is used, so ``rec --help`` and
``rec list datasets`` stay fast. Each reference names a :class:`DatasetSpec` object.
"""

from __future__ import annotations

__all__ = ["CATALOG"]

# name -> ("module:ATTRIBUTE" of the spec object, one-line description)
CATALOG: dict[str, tuple[str, str]] = {
    "synthetic-ctr": (
        "rec_trainers.datasets.synthetic:SYNTHETIC_CTR",
        "Generated Criteo-like clicks with a user history; Bayes-optimal AUC known",
    ),
    "frappe": (
        "rec_trainers.datasets.frappe:FRAPPE",
        "Frappe app usage in context, 2 sampled negatives per log, 7:2:1 split (NFM)",
    ),
    "criteo-sample": (
        "rec_trainers.datasets.criteo:CRITEO_SAMPLE",
        "Criteo display ads, torch-rechub's 115-row sample (smoke tests)",
    ),
    "avazu-sample": (
        "rec_trainers.datasets.avazu:AVAZU_SAMPLE",
        "Avazu mobile ads, torch-rechub's 70/10/20-row sample (smoke tests)",
    ),
}
