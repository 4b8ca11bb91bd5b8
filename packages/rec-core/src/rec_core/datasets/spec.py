"""Named data sets: the :class:`DatasetSpec` contract and :class:`TableDataset`, the base of tabular ones.

A named data set is a recipe object, registered under ``rec_register_datasets`` with its
name and description (the registration is the only place the name is written)::

    register("frappe", "rec_trainers.datasets.frappe:FRAPPE", task="ctr", description="…")

``spec.load(seed=…, **options)`` returns a :class:`~rec_core.datasets.task_data.TaskData`;
the pipeline then sets ``TaskData.name`` to the registered name. Called directly, a spec
names its data by :attr:`TableDataset.default_name`: the class name without ``Dataset``,
in kebab case (``FrappeDataset`` -> ``"frappe"``).

:class:`TableDataset` owns what every table-shaped data set (CTR, multi-task) repeats: it
checks the options, lets the subclass build one table of encoded columns and targets
(:class:`Table`), splits its rows by fractions and a seed or by a given part of each row,
and assembles the :class:`TaskData` with the standard facts in ``info``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from rec_core.datasets.splits import parts_to_rows, split_indices
from rec_core.datasets.task_data import SPLIT_NAMES, Split, TaskData
from rec_core.errors import ConfigError

if TYPE_CHECKING:
    from rec_core.datasets.encoding import TabularEncoder
    from rec_core.features import DenseFeature, SequenceFeature, SparseFeature

__all__ = ["DatasetSpec", "LoadContext", "Table", "TableDataset", "check_params", "table_task_data", "unknown_option"]

DEFAULT_SEED = 2022


@runtime_checkable
class DatasetSpec(Protocol):
    """A named data set: a recipe that turns files (or a seed) into :class:`TaskData`."""

    def load(
        self, *, data_dir: Path | None = ..., cache_dir: Path | None = ..., seed: int = ...,
        embed_dim: int | None = ..., **params: Any,
    ) -> TaskData:  # fmt: skip
        """Build the data set (defaults: no ``data_dir``/``cache_dir``, seed 2022, the data set's ``embed_dim``).

        Args:
            data_dir: Folder to look for data files in before ``$REC_DATA_DIR``.
            cache_dir: Cache folder instead of ``$REC_CACHE_DIR`` / ``~/.cache/rec``.
            seed: Seed of every random step (sampling, splitting).
            embed_dim: Embedding size of the sparse features (``None``: the data set's default).
            **params: Data-set specific options (the user's ``data.*`` settings).

        Raises:
            DataError: If a file is missing or malformed.
            ConfigError: On an unknown or invalid option.
        """
        ...


def check_params(dataset: str, params: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``defaults`` updated with ``params``, refusing options the data set does not know.

    Raises:
        ConfigError: If ``params`` holds an unknown option (the message lists the known ones).
    """
    unknown = set(params) - set(defaults)
    if unknown:
        raise unknown_option(f"data set {dataset!r}", unknown, defaults)
    return {**defaults, **params}


def unknown_option(subject: str, names: Iterable[str], known: Iterable[str]) -> ConfigError:
    """Return the error for unknown options: ``unknown option 'x' for <subject> (options: a, b)``.

    Args:
        subject: What the options are for, e.g. ``"data set 'frappe'"`` or ``"a table file"``.
        names: The unknown option names (the first in sorted order is named).
        known: The valid option names.
    """
    listed = ", ".join(sorted(known)) or "none"
    return ConfigError(f"unknown option {sorted(names)[0]!r} for {subject} (options: {listed})")


@dataclass(frozen=True)
class LoadContext:
    """What :meth:`TableDataset.build` gets besides its options: where files are, the seed, the embedding size.

    Attributes:
        data_dir: Folder to look for data files in before ``$REC_DATA_DIR``.
        cache_dir: Cache folder, or ``None`` for ``$REC_CACHE_DIR`` / ``~/.cache/rec``.
        seed: Seed of every random step (sampling, splitting).
        embed_dim: Embedding size of the sparse features.
    """

    data_dir: Path | None
    cache_dir: Path | None
    seed: int
    embed_dim: int

    def file(self, relative_path: str, sha256: str) -> Path:
        """Return a data file found by :func:`~rec_core.datasets.files.verified_data_file`, its SHA-256 checked.

        Raises:
            DataError: If the file is missing, unreadable or not the expected one.
        """
        from rec_core.datasets.files import verified_data_file

        return verified_data_file(relative_path, sha256, data_dir=self.data_dir, cache_dir=self.cache_dir)


@dataclass
class Table:
    """One table of encoded rows, and how to split it.

    Give either ``split`` (fractions; rows are shuffled with the seed and cut, see
    :func:`~rec_core.datasets.splits.split_indices`) or ``part`` (the split of each row:
    0 train, 1 validation, 2 test); with neither, every row is train (in shuffled order).

    Attributes:
        columns: Model input column -> values, one row per table row.
        targets: Target name -> values (``float32``), one row per table row.
        features: One feature definition per column.
        source: The file (or folder) read, for ``info["source"]``; ``""`` when generated.
        split: ``(train, val, test)`` fractions; a 0 leaves that split out.
        part: ``int8`` split of each row, instead of ``split``.
        shuffle: With ``part``: put the rows of each split in random order (seeded), so any
            slice of a split is a random sample of it; ``False`` keeps the table's order.
        kinds: Target name -> kind (default ``"binary"`` for every target).
        info: Further facts for ``TaskData.info``.
        split_info: Called with the row indices of each split, returns more facts (e.g. the
            Bayes AUC of a generated test split).
        encoder: The fitted encoding, for a user's file.
    """

    columns: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    features: list[SparseFeature | DenseFeature | SequenceFeature]
    source: str = ""
    split: Sequence[float] | None = None
    part: np.ndarray | None = None
    shuffle: bool = True
    kinds: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    split_info: Callable[[dict[str, np.ndarray]], dict[str, Any]] | None = None
    encoder: TabularEncoder | None = None

    def rows(self, seed: int) -> dict[str, np.ndarray]:
        """Return split name -> row indices (every split, possibly empty).

        Raises:
            ConfigError: On bad ``split`` fractions.
        """
        if self.part is not None:
            parts = parts_to_rows(self.part, seed if self.shuffle else None)
        else:
            parts = list(split_indices(self._length(), self.split or (1.0, 0.0, 0.0), seed))
        return dict(zip(SPLIT_NAMES, parts, strict=True))

    def _length(self) -> int:
        for values in (*self.targets.values(), *self.columns.values()):
            return len(values)
        return 0


def table_task_data(name: str, table: Table, seed: int) -> TaskData:
    """Split ``table`` and assemble its :class:`TaskData` (empty validation or test splits are left out).

    ``info`` holds ``rows``, ``train_rows``, ``val_rows``, ``test_rows``, the positive rate of
    the binary targets over all rows (``positive_rate`` for a single target,
    ``positive_rate_<target>`` for each of several), ``source`` when known, then the table's
    own facts.

    Raises:
        ConfigError: On bad ``split`` fractions.
    """
    rows = table.rows(seed)
    kinds = {target: table.kinds.get(target, "binary") for target in table.targets}
    splits = {
        part: Split(
            {column: values[index] for column, values in table.columns.items()},
            {target: values[index] for target, values in table.targets.items()},
        )
        for part, index in rows.items()
        if len(index) or part == "train"
    }
    info: dict[str, Any] = {"rows": sum(len(index) for index in rows.values())}
    info.update({f"{part}_rows": len(index) for part, index in rows.items()})
    binary = [target for target, kind in kinds.items() if kind == "binary"]
    for target in binary:
        key = "positive_rate" if len(table.targets) == 1 else f"positive_rate_{target}"
        info[key] = round(float(table.targets[target].mean()), 4) if len(table.targets[target]) else 0.0
    if table.source:
        info["source"] = table.source
    info.update(table.info)
    if table.split_info is not None:
        info.update(table.split_info(rows))
    return TaskData(name, table.features, splits, kinds, encoder=table.encoder, info=info)


def _kebab(class_name: str) -> str:
    stem = class_name.removesuffix("Dataset") or class_name
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", stem).lower()


class TableDataset:
    """Base of named data sets that end as one table of encoded rows (CTR, multi-task).

    A subclass sets :attr:`options` (its ``load(**params)`` options with their defaults)
    and :attr:`default_embed_dim`, and implements :meth:`build`.
    """

    options: ClassVar[dict[str, Any]] = {}
    default_embed_dim: ClassVar[int] = 16

    @property
    def default_name(self) -> str:
        """Return the name of this data set when loaded directly (``FrappeDataset`` -> ``"frappe"``).

        The pipeline replaces it with the registered name; messages of :meth:`load` use it.
        """
        return _kebab(type(self).__name__)

    def load(
        self,
        *,
        data_dir: Path | None = None,
        cache_dir: Path | None = None,
        seed: int = DEFAULT_SEED,
        embed_dim: int | None = None,
        **params: Any,
    ) -> TaskData:
        """Check the options, build the table and split it (see :class:`DatasetSpec`).

        Raises:
            ConfigError: On an unknown option, or one :meth:`build` refuses.
            DataError: If a file is missing, damaged or malformed.
        """
        options = check_params(self.default_name, params, self.options)
        dim = self.default_embed_dim if embed_dim is None else embed_dim
        table = self.build(options, LoadContext(data_dir, cache_dir, seed, dim))
        return table_task_data(self.default_name, table, seed)

    def build(self, options: dict[str, Any], context: LoadContext) -> Table:
        """Read (or generate) and encode the data set's rows.

        Args:
            options: :attr:`options` updated with the caller's.
            context: Where to find files, the seed and the embedding size.
        """
        raise NotImplementedError
