"""Read a user's labelled table (CSV, TSV, Parquet) and turn it into :class:`TaskData`.

Every check runs before any training: a missing file or column, an unknown format, an
unreadable or empty file, a bad label, a table too small for its split, and a binary label
without both values in the training or validation rows each raise one
:class:`~rec_core.errors.DataError` whose message names the file, the column and the row.

Targets: ``label`` names one column or several (multi-task). Each is **binary** (0/1 or
booleans; any other value is an error naming its row) unless named in ``regression``,
which makes it a real-valued target. Binary is the default because a stray value in a
click column must be an error, not a silent switch to regression.

Column kinds, unless named with ``sparse=`` / ``dense=`` / ``sequence=`` (the rest are
inferred; ``ignore=`` drops columns):

* text, boolean and categorical columns are **sparse**;
* integer columns with at most 1,000 distinct values are **sparse** (ids, codes, small
  counts); those with more are **dense**, so name id columns such as ``user_id`` in
  ``sparse=`` when they have more values;
* floating-point columns are **dense**;
* sequence columns are never inferred.

Options from a config file or the command line (``data.*``) go through
:func:`load_table_options` (or straight to :func:`load_table`, which checks them too): an
unknown option is a :class:`~rec_core.errors.ConfigError` naming it and listing the valid ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rec_core.datasets.encoding import TabularEncoder, check_columns, encode_labels, encode_values
from rec_core.datasets.spec import Table, table_task_data, unknown_option
from rec_core.datasets.splits import check_split_rows, split_sizes
from rec_core.datasets.tables import read_table
from rec_core.datasets.task_data import TaskData
from rec_core.errors import ConfigError, DataError

__all__ = ["LOAD_TABLE_OPTIONS", "MAX_SPARSE_INTEGER_VALUES", "infer_kinds", "load_table", "load_table_options"]

MAX_SPARSE_INTEGER_VALUES = 1000
_COLUMN_LISTS = ("label", "sparse", "dense", "sequence", "ignore", "regression")
LOAD_TABLE_OPTIONS = (*_COLUMN_LISTS, "min_count", "split")
"""The options of a table file (``data.*``); ``seed`` and ``embed_dim`` come from the training settings."""
_PART_NAMES = {"train": "training", "val": "validation", "test": "test"}




def load_table_options(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check a user's raw ``data.*`` options for :func:`load_table` and return them as its keywords.

    Column lists may be lists of names or one comma-separated string (``"city,age"``).

    Raises:
        ConfigError: On an unknown option (named, with the valid ones), a missing ``label``,
            or a value of the wrong type.
    """
    unknown = [name for name in params if name not in LOAD_TABLE_OPTIONS]
    if unknown:
        raise unknown_option("a table file", unknown, LOAD_TABLE_OPTIONS)
    options: dict[str, Any] = {}
    for name in _COLUMN_LISTS:
        value = params.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"option {name!r} of a table file must be column names, got {value!r}")
        options[name] = list(value)
    if not options.get("label"):
        raise ConfigError("a table file needs option 'label': the target column (or columns, comma-separated)")
    if "min_count" in params:
        count = params["min_count"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"option 'min_count' of a table file must be an integer >= 1, got {count!r}")
        options["min_count"] = count
    if "split" in params:
        split_sizes(0, params["split"])  # ConfigError on bad fractions
        options["split"] = tuple(params["split"])
    return options


def infer_kinds(df: pd.DataFrame, columns: Sequence[str], source: str) -> dict[str, str]:
    """Return ``"sparse"`` or ``"dense"`` for each of ``columns``, by the module's rule.

    Raises:
        DataError: If a column's type fits neither kind (e.g. dates).
    """
    kinds: dict[str, str] = {}
    for name in columns:
        column = df[name]
        dtype = column.dtype
        if (
            pd.api.types.is_bool_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
            or pd.api.types.is_string_dtype(dtype)
            or pd.api.types.is_object_dtype(dtype)
        ):
            kinds[name] = "sparse"
        elif pd.api.types.is_integer_dtype(dtype):
            kinds[name] = "sparse" if column.nunique() <= MAX_SPARSE_INTEGER_VALUES else "dense"
        elif pd.api.types.is_float_dtype(dtype):
            kinds[name] = "dense"
        else:
            raise DataError(
                f"column {name!r} in {source} has type {dtype}, which is neither sparse nor dense; "
                "name it in sparse or dense, or ignore it"
            )
    return kinds


def _names(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _resolve_kinds(
    df: pd.DataFrame, labels: list[str], source: str, explicit: dict[str, list[str]], ignore: list[str]
) -> dict[str, list[str]]:
    """Check the named columns and infer the kinds of the others."""
    check_columns(df, labels, source, "label column")
    seen: dict[str, str] = {}
    for kind, names in explicit.items():
        check_columns(df, names, source, f"{kind} column")
        for name in names:
            if name in labels:
                raise DataError(f"{kind} column {name!r} of {source} is the label column")
            if name in seen and seen[name] != kind:
                raise DataError(f"column {name!r} of {source} is named both {seen[name]} and {kind}")
            seen[name] = kind
    check_columns(df, ignore, source, "ignored column")
    rest = [c for c in df.columns if c not in labels and c not in seen and c not in ignore]
    inferred = infer_kinds(df, rest, source)
    kinds = {kind: [c for c in df.columns if seen.get(c, inferred.get(c)) == kind] for kind in explicit}
    if not any(kinds.values()):
        shown = ", ".join(repr(label) for label in labels)
        raise DataError(f"{source} has no feature columns besides the label {shown}")
    return kinds


def _encode_targets(df: pd.DataFrame, labels: list[str], regression: list[str], source: str) -> dict[str, np.ndarray]:
    for name in regression:
        if name not in labels:
            raise DataError(f"regression column {name!r} of {source} is not a label (labels: {', '.join(labels)})")
    return {
        name: encode_values(df, name, source) if name in regression else encode_labels(df, name, source)
        for name in labels
    }


def _check_both_values(targets: dict[str, np.ndarray], kinds: dict[str, str], rows: dict[str, np.ndarray],
                       source: str) -> None:
    """Refuse a binary label with one value only in the training, validation or test rows (AUC undefined)."""
    for part, index in rows.items():
        for name, values in targets.items():
            if kinds[name] != "binary" or not len(index):
                continue
            seen = np.unique(values[index])
            if len(seen) > 1:
                continue
            where = f"the {_PART_NAMES[part]} rows ({len(index)} row{'' if len(index) == 1 else 's'})"
            fix = (
                "the file needs both 0 and 1 labels"
                if part == "train"
                else f"use a larger file, a larger {_PART_NAMES[part]} fraction in split, or another seed"
            )
            raise DataError(f"label {name!r} of {source} has only the value {seen[0]:g} in {where}; "
                            f"AUC is undefined: {fix}")


def load_table(
    path: str | Path,
    *,
    label: str | Sequence[str],
    sparse: Sequence[str] | None = None,
    dense: Sequence[str] | None = None,
    sequence: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    regression: Sequence[str] | None = None,
    min_count: int = 1,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 2022,
    embed_dim: int | None = None,
    **unknown: Any,
) -> TaskData:
    """Read a labelled table, split it with ``seed`` and encode it (fitted on the train rows).

    Args:
        path: A ``.csv``, ``.tsv`` (optionally compressed) or ``.parquet`` file.
        label: The target column, or several (multi-task), in model output order.
        sparse: Columns to treat as categorical; others are inferred (module docs).
        dense: Columns to treat as numeric.
        sequence: Columns of id lists (``"3|17|9"``).
        ignore: Columns to leave out.
        regression: Labels that are real-valued targets; the others are binary (0/1).
        min_count: Categories seen fewer times in the train rows map to id 0.
        split: ``(train, val, test)`` fractions; a 0 leaves that split out.
        seed: Seed of the random split.
        embed_dim: Embedding size of every sparse and sequence feature (default 16).
        **unknown: Refused: any other option is a :class:`ConfigError` (so raw ``data.*``
            options can be passed on safely).

    Returns:
        The :class:`~rec_core.datasets.task_data.TaskData`, named by the file name, with
        ``targets`` label -> ``"binary"`` or ``"regression"`` and the fitted
        :class:`TabularEncoder` in ``encoder``.

    Raises:
        DataError: On any problem with the file, its columns or its labels (module docs).
        ConfigError: On an unknown option, or if ``split`` is not three fractions summing to 1.
    """
    if unknown:
        raise unknown_option("a table file", unknown, LOAD_TABLE_OPTIONS)
    source = Path(path)
    name = str(source)
    df = read_table(source)
    labels, targets_regression = _names(label), _names(regression)
    explicit = {"sparse": _names(sparse), "dense": _names(dense), "sequence": _names(sequence)}
    kinds = _resolve_kinds(df, labels, name, explicit, _names(ignore))
    targets = _encode_targets(df, labels, targets_regression, name)
    target_kinds = {t: "regression" if t in targets_regression else "binary" for t in labels}
    encoder = TabularEncoder(**kinds, label=label if isinstance(label, str) else labels, min_count=min_count)
    encoder.validate(df, name)  # so an error names the file's first bad row, whichever split it falls in
    check_split_rows(len(df), split, name)
    table = Table({}, targets, [], source=name, split=split, kinds=target_kinds)
    rows = table.rows(seed)
    _check_both_values(targets, target_kinds, rows, name)
    encoder.fit(df.iloc[rows["train"]], name)
    table.columns, table.features, table.encoder = encoder.transform(df, name), encoder.features(embed_dim), encoder
    table.info = {kind: names for kind, names in kinds.items() if names}
    return table_task_data(source.name, table, seed)
