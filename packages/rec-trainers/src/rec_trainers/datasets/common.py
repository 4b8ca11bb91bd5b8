"""The CTR data contract, data-file lookup, the cache directory and seeded splits.

Every CTR data set, built-in or read from a user's file, ends as a :class:`CTRData`:
feature definitions plus ``(columns, labels)`` numpy arrays per split. Named data sets are
:class:`DatasetSpec` objects, registered under ``rec_register_datasets``.

Files of named data sets are never shipped with the package: :func:`find_data_file`
looks in ``$REC_DATA_DIR`` and then in the cache directory (``$REC_CACHE_DIR`` or
``~/.cache/rec``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from rec_core.errors import ConfigError, DataError

if TYPE_CHECKING:
    from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
    from rec_trainers.datasets.encoding import TabularEncoder

__all__ = [
    "CTRData",
    "Columns",
    "DatasetSpec",
    "Split",
    "cache_root",
    "check_params",
    "file_sha256",
    "find_data_file",
    "label_encode",
    "split_indices",
    "split_sizes",
    "take",
    "take_or_none",
    "verified_data_file",
]

Columns = dict[str, np.ndarray]
Split = tuple[Columns, np.ndarray]

DATA_DIR_ENV = "REC_DATA_DIR"
CACHE_DIR_ENV = "REC_CACHE_DIR"


@dataclass
class CTRData:
    """A CTR data set ready for training: features and ``(columns, labels)`` splits.

    Attributes:
        name: Data-set name (the registry name, or the file name of a user file).
        label: Name of the label column.
        features: One feature definition per model input column, in column order.
        train: ``(columns, labels)``; columns are ``int64`` ids (2-D for sequences) or
            ``float32`` values, labels ``float32`` 0/1.
        val: Validation split, or ``None``.
        test: Test split, or ``None``.
        encoder: The fitted encoding of a user file, ``None`` for built-in data sets.
        info: Facts shown in the run summary, e.g. ``{"rows": 288609, "bayes_auc": 0.8}``.
    """

    name: str
    label: str
    features: list[SparseFeature | DenseFeature | SequenceFeature]
    train: Split
    val: Split | None = None
    test: Split | None = None
    encoder: TabularEncoder | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def splits(self) -> dict[str, Split]:
        """Return the splits that exist, keyed ``"train"``, ``"val"``, ``"test"``."""
        parts = {"train": self.train, "val": self.val, "test": self.test}
        return {key: part for key, part in parts.items() if part is not None}


@runtime_checkable
class DatasetSpec(Protocol):
    """A named data set: a recipe that turns files (or a seed) into :class:`CTRData`.

    Attributes:
        name: Registry name, lowercase ``[a-z0-9-]``.
        task: The trainer that can use it (``"ctr"``).
        description: One line for ``rec list datasets``.
    """

    name: ClassVar[str]
    task: ClassVar[str]
    description: ClassVar[str]

    def load(
        self,
        *,
        data_dir: Path | None = None,
        cache_dir: Path | None = None,
        seed: int = 2022,
        embed_dim: int | None = None,
        **params: Any,
    ) -> CTRData:
        """Build the data set.

        Args:
            data_dir: Folder to look for data files in before ``$REC_DATA_DIR``.
            cache_dir: Cache folder instead of ``$REC_CACHE_DIR`` / ``~/.cache/rec``.
            seed: Seed of every random step (sampling, splitting).
            embed_dim: Embedding size of the sparse features (``None``: the data set's default).
            **params: Data-set specific options.

        Raises:
            DataError: If a file is missing or malformed.
        """
        ...


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the cache directory: ``cache_dir``, else ``$REC_CACHE_DIR``, else ``~/.cache/rec``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env)
    return Path.home() / ".cache" / "rec"


def find_data_file(
    relative_path: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Locate a data file by its path relative to the data root.

    Looks in ``data_dir`` (when given), then ``$REC_DATA_DIR``, then the cache
    directory (see :func:`cache_root`).

    Args:
        relative_path: e.g. ``"frappe/raw-baltrunas/frappe.csv.gz"``.
        data_dir: A data root searched first.
        cache_dir: The cache directory to search instead of the default one.

    Returns:
        The path of the first existing file.

    Raises:
        DataError: If no candidate exists; the message lists where it looked and
            says to set ``REC_DATA_DIR``.
    """
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir))
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        roots.append(Path(env))
    roots.append(cache_root(cache_dir))
    candidates = [root / relative_path for root in roots]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    top = Path(relative_path).parts[0]
    unset = "" if env else f" ({DATA_DIR_ENV} is not set)"
    raise DataError(
        f"data file {relative_path!r} not found (looked in: {looked}){unset}; "
        f"set {DATA_DIR_ENV} to the data root, the folder that contains {top}/"
    )


def verified_data_file(
    relative_path: str,
    sha256: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Locate a data file with :func:`find_data_file` and check its SHA-256.

    Raises:
        DataError: If the file is missing, or its bytes are not the expected ones.
    """
    path = find_data_file(relative_path, data_dir=data_dir, cache_dir=cache_dir)
    actual = file_sha256(path)
    if actual != sha256:
        raise DataError(
            f"{path} has SHA-256 {actual[:12]}…, expected {sha256[:12]}…; "
            f"the file is damaged or not the expected {Path(relative_path).name}"
        )
    return path


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def split_sizes(total: int, ratios: Sequence[float]) -> tuple[int, int, int]:
    """Return ``(train, val, test)`` row counts for ``(train, val, test)`` fractions.

    Validation and test get ``round(total * ratio)`` rows; train gets the rest.

    Raises:
        ConfigError: If the ratios are not three numbers in ``[0, 1]`` summing to 1.
    """
    parts = list(ratios)
    if (
        len(parts) != 3
        or not all(isinstance(r, (int, float)) and not isinstance(r, bool) and 0 <= r <= 1 for r in parts)
        or abs(sum(parts) - 1.0) > 1e-6
        or parts[0] <= 0
    ):
        raise ConfigError(f"split must be (train, val, test) fractions summing to 1 with train > 0, got {ratios!r}")
    val = round(total * parts[1])
    test = round(total * parts[2])
    return total - val - test, val, test


def split_indices(total: int, ratios: Sequence[float], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle ``range(total)`` with ``seed`` and cut it into train, validation and test indices.

    Rows come in shuffled order within each part (as with ``torch.utils.data.random_split``),
    so any slice of a split is a random sample of it.
    """
    n_train, n_val, _ = split_sizes(total, ratios)
    order = np.random.default_rng(seed).permutation(total)
    return tuple(np.split(order, [n_train, n_train + n_val]))  # type: ignore[return-value]


def take(columns: Columns, labels: np.ndarray, rows: np.ndarray) -> Split:
    """Return the rows ``rows`` of a table as a ``(columns, labels)`` split."""
    return {name: values[rows] for name, values in columns.items()}, labels[rows]


def take_or_none(columns: Columns, labels: np.ndarray, rows: np.ndarray) -> Split | None:
    """Like :func:`take`, but ``None`` when ``rows`` is empty (an absent validation or test split)."""
    return take(columns, labels, rows) if len(rows) else None


def check_params(dataset: str, params: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Return ``defaults`` updated with ``params``, refusing options the data set does not know.

    Raises:
        ConfigError: If ``params`` holds an unknown option (the message lists the known ones).
    """
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        known = ", ".join(sorted(defaults)) or "none"
        raise ConfigError(f"unknown option {unknown[0]!r} for data set {dataset!r} (options: {known})")
    return {**defaults, **params}


def label_encode(values: Sequence[Any]) -> tuple[list[np.ndarray], int]:
    """Label-encode one column over several tables: sorted distinct values -> ``0..n-1``.

    Args:
        values: The column's values in each table (arrays or pandas Series, no NaN).

    Returns:
        One ``int64`` id array per table, and the number of distinct values.
    """
    import pandas as pd

    joined = pd.concat([pd.Series(np.asarray(v)) for v in values], ignore_index=True)
    codes, uniques = pd.factorize(joined, sort=True)
    bounds = np.cumsum([len(v) for v in values])[:-1]
    return [part.astype(np.int64) for part in np.split(codes, bounds)], len(uniques)
