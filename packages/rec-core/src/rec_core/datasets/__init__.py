"""The task-neutral data layer: data contract, readers, encoders, splits, file lookup and cache.

Every data set, named or read from a user's file, ends as a :class:`TaskData` (see
:mod:`~rec_core.datasets.task_data`). The pieces, one job per module:

==================  =====================================================================
``task_data``       :class:`TaskData`, :class:`Split`, :class:`ItemCatalogue`, :class:`Interactions`
``files``           data-file lookup (``$REC_DATA_DIR``, cache), SHA-256 checks, the array cache
``tables``          :func:`read_table`: CSV, TSV, Parquet and RecBole atomic files
``ids``             the id rule (0 = padding/unknown, values ``1..n``): :class:`IdEncoder`, :func:`encode_ids`
``encoding``        :class:`TabularEncoder` (saved with a run), label checks
``splits``          seeded row splits; leave-one-out, temporal and random interaction splits
``spec``            :class:`DatasetSpec`, :class:`TableDataset` (the base of tabular named data sets)
``user_table``      :func:`load_table`: a user's labelled table (one or several targets)
``interactions``    :func:`load_interactions`: user-item interactions, user histories
==================  =====================================================================

Importing this package is light: every name is imported on first use, and pandas only
when a table is read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rec_core.datasets.encoding import TabularEncoder, check_columns, encode_labels, encode_values
    from rec_core.datasets.files import (
        cache_root,
        file_sha256,
        find_data_file,
        read_cached_arrays,
        verified_data_file,
        write_cached_arrays,
    )
    from rec_core.datasets.ids import IdEncoder, canonical_text, encode_ids
    from rec_core.datasets.interactions import (
        INTERACTION_OPTIONS,
        UserSequences,
        attach_users,
        interactions_from_frame,
        known_before,
        load_interactions,
        next_item_rows,
        user_sequences,
    )
    from rec_core.datasets.spec import DatasetSpec, LoadContext, Table, TableDataset, check_params, table_task_data
    from rec_core.datasets.splits import (
        INTERACTION_SPLITS,
        leave_one_out,
        random_split,
        split_indices,
        split_interactions,
        split_sizes,
        temporal_split,
    )
    from rec_core.datasets.tables import read_table
    from rec_core.datasets.task_data import SPLIT_NAMES, TARGET_KINDS, Interactions, ItemCatalogue, Split, TaskData
    from rec_core.datasets.user_table import LOAD_TABLE_OPTIONS, infer_kinds, load_table, load_table_options

_MODULES = {
    "encoding": ("TabularEncoder", "check_columns", "encode_labels", "encode_values"),
    "files": (
        "cache_root",
        "file_sha256",
        "find_data_file",
        "read_cached_arrays",
        "verified_data_file",
        "write_cached_arrays",
    ),
    "ids": ("IdEncoder", "canonical_text", "encode_ids"),
    "interactions": (
        "INTERACTION_OPTIONS",
        "UserSequences",
        "attach_users",
        "interactions_from_frame",
        "known_before",
        "load_interactions",
        "next_item_rows",
        "user_sequences",
    ),
    "spec": ("DatasetSpec", "LoadContext", "Table", "TableDataset", "check_params", "table_task_data"),
    "splits": (
        "INTERACTION_SPLITS",
        "leave_one_out",
        "random_split",
        "split_indices",
        "split_interactions",
        "split_sizes",
        "temporal_split",
    ),
    "tables": ("read_table",),
    "task_data": ("SPLIT_NAMES", "TARGET_KINDS", "Interactions", "ItemCatalogue", "Split", "TaskData"),
    "user_table": ("LOAD_TABLE_OPTIONS", "infer_kinds", "load_table", "load_table_options"),
}
_LAZY = {name: f"rec_core.datasets.{module}" for module, names in _MODULES.items() for name in names}

__all__ = [
    "INTERACTION_OPTIONS",
    "INTERACTION_SPLITS",
    "LOAD_TABLE_OPTIONS",
    "SPLIT_NAMES",
    "TARGET_KINDS",
    "DatasetSpec",
    "IdEncoder",
    "Interactions",
    "ItemCatalogue",
    "LoadContext",
    "Split",
    "Table",
    "TableDataset",
    "TabularEncoder",
    "TaskData",
    "UserSequences",
    "attach_users",
    "cache_root",
    "canonical_text",
    "check_columns",
    "check_params",
    "encode_ids",
    "encode_labels",
    "encode_values",
    "file_sha256",
    "find_data_file",
    "infer_kinds",
    "interactions_from_frame",
    "known_before",
    "leave_one_out",
    "load_interactions",
    "load_table",
    "load_table_options",
    "next_item_rows",
    "random_split",
    "read_cached_arrays",
    "read_table",
    "split_indices",
    "split_interactions",
    "split_sizes",
    "table_task_data",
    "temporal_split",
    "user_sequences",
    "verified_data_file",
    "write_cached_arrays",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rec_core.datasets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
