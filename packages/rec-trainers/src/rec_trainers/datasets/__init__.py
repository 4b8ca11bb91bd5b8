"""CTR data sets: the built-in recipes, user tables and the data contract.

Built-ins (registered by the plugin under ``rec_register_datasets``):

========================  ==========================================================
``synthetic-ctr``         generated Criteo-like clicks with a known Bayes AUC (default)
``frappe``                Frappe app usage, 2 sampled negatives per log, 7:2:1 split
``criteo-sample``         torch-rechub's 115-row Criteo sample
``avazu-sample``          torch-rechub's Avazu sample with its train/valid/test files
========================  ==========================================================

Files are looked up in ``$REC_DATA_DIR``, then the cache directory (``$REC_CACHE_DIR``,
default ``~/.cache/rec``); see :func:`find_data_file`. A user's own file is read by
:func:`load_table`, whose fitted :class:`TabularEncoder` can be saved and reused.

Importing this package stays light: pandas is imported when a table is read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rec_trainers.datasets.avazu import AVAZU_SAMPLE, AvazuSampleDataset
from rec_trainers.datasets.common import CTRData, DatasetSpec, cache_root, find_data_file
from rec_trainers.datasets.criteo import CRITEO_SAMPLE, CriteoSampleDataset
from rec_trainers.datasets.frappe import FRAPPE, FrappeDataset
from rec_trainers.datasets.generator import SyntheticCTR, generate_ctr, make_criteo_like
from rec_trainers.datasets.synthetic import DEFAULT_DATASET, SYNTHETIC_CTR, SyntheticCTRDataset

if TYPE_CHECKING:
    from rec_trainers.datasets.encoding import TabularEncoder
    from rec_trainers.datasets.table import infer_kinds, load_table, read_table

__all__ = [
    "AVAZU_SAMPLE",
    "BUILTIN_DATASETS",
    "CRITEO_SAMPLE",
    "DEFAULT_DATASET",
    "FRAPPE",
    "SYNTHETIC_CTR",
    "AvazuSampleDataset",
    "CTRData",
    "CriteoSampleDataset",
    "DatasetSpec",
    "FrappeDataset",
    "SyntheticCTR",
    "SyntheticCTRDataset",
    "TabularEncoder",
    "cache_root",
    "find_data_file",
    "generate_ctr",
    "infer_kinds",
    "load_table",
    "make_criteo_like",
    "read_table",
]

BUILTIN_DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec for spec in (SYNTHETIC_CTR, FRAPPE, CRITEO_SAMPLE, AVAZU_SAMPLE)
}

_LAZY = {
    "TabularEncoder": "rec_trainers.datasets.encoding",
    "infer_kinds": "rec_trainers.datasets.table",
    "load_table": "rec_trainers.datasets.table",
    "read_table": "rec_trainers.datasets.table",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rec_trainers.datasets' has no attribute {name!r}")
