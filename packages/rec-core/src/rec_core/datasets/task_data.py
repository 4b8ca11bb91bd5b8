"""The task-neutral data contract: what every data set, named or read from a file, returns.

A :class:`TaskData` holds named splits of row-aligned model inputs and targets, the
feature definitions the models are built from, and optional side tables: the item
catalogue (attributes, text) and the interactions (user histories as sequences). One id
rule holds everywhere: id 0 is padding / unknown; real values are ``1..n``.

CTR data has one binary target per row; multi-task data several; sequential, matching and
generative data read interactions once and view them as sequences, pairs or rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rec_core.errors import DataError

if TYPE_CHECKING:
    from rec_core.datasets.encoding import TabularEncoder
    from rec_core.features import DenseFeature, SequenceFeature, SparseFeature

__all__ = ["SPLIT_NAMES", "TARGET_KINDS", "Columns", "Interactions", "ItemCatalogue", "Split", "TaskData"]

Columns = dict[str, np.ndarray]
SPLIT_NAMES = ("train", "val", "test")
TARGET_KINDS = ("binary", "regression", "multiclass", "item")
"""What a target holds: 0/1 labels, real values, class ids, or item ids (next item, retrieval)."""


@dataclass
class Split:
    """One named part of a data set: model input columns and target columns, row-aligned.

    Attributes:
        columns: Input column -> values (``int64`` ids, 2-D for padded sequences; ``float32``).
        targets: Target name -> values (``float32`` labels or values, ``int64`` ids).
    """

    columns: Columns
    targets: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        for values in (*self.columns.values(), *self.targets.values()):
            return len(values)
        return 0

    @property
    def target(self) -> np.ndarray:
        """Return the only target column.

        Raises:
            DataError: The split has no target or several (use :attr:`targets`).
        """
        if len(self.targets) != 1:
            raise DataError(f"expected exactly one target, this split has {sorted(self.targets) or 'none'}")
        return next(iter(self.targets.values()))

    def stacked_targets(self, names: Iterable[str] | None = None) -> np.ndarray:
        """Return the targets as one array: ``(rows,)`` for one target, ``(rows, T)`` for several."""
        chosen = list(names) if names is not None else list(self.targets)
        if len(chosen) == 1:
            return self.targets[chosen[0]]
        return np.stack([self.targets[name].astype(np.float32) for name in chosen], axis=1)

    def take(self, rows: np.ndarray) -> Split:
        """Return the rows ``rows`` (an index array) of this split."""
        return Split(
            {name: values[rows] for name, values in self.columns.items()},
            {name: values[rows] for name, values in self.targets.items()},
        )


@dataclass
class ItemCatalogue:
    """The items of a data set, indexed by their encoded id (row 0 is padding).

    Attributes:
        ids: Original item id of each encoded id, as text; ``ids[0]`` is ``""`` (padding).
        attributes: Attribute column -> values, row-aligned with ``ids`` (row 0 padding).
        text: Item text (e.g. titles) row-aligned with ``ids``, or ``None``.
    """

    ids: list[str]
    attributes: Columns = field(default_factory=dict)
    text: list[str] | None = None

    @property
    def n_items(self) -> int:
        """Return the number of ids, padding id 0 included."""
        return len(self.ids)

    def index(self) -> dict[str, int]:
        """Return original id -> encoded id."""
        return {item: code for code, item in enumerate(self.ids) if code}


@dataclass
class Interactions:
    """User-item interactions sorted by user, then time (then file order), with their split.

    Attributes:
        users: Encoded user id of each interaction (``1..n_users - 1``).
        items: Encoded item id of each interaction (``1..n_items - 1``).
        part: Split of each interaction: index into :data:`SPLIT_NAMES` (0 train, 1 val, 2 test).
        user_ids: Original user id of each encoded id, as text (``user_ids[0] == ""``).
        timestamps: Time of each interaction, or ``None`` when the source has none.
    """

    users: np.ndarray
    items: np.ndarray
    part: np.ndarray
    user_ids: list[str]
    timestamps: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        """Return the number of user ids, padding id 0 included."""
        return len(self.user_ids)

    def __len__(self) -> int:
        return len(self.users)


@dataclass
class TaskData:
    """A data set ready for training: features, named splits, targets and side tables.

    Attributes:
        name: Data-set name (the registry name, or the file name of a user file).
        features: One feature definition per model input column.
        splits: ``"train"``, ``"val"``, ``"test"`` -> :class:`Split`; absent parts are left out.
        targets: Target name -> kind (one of :data:`TARGET_KINDS`), in model output order.
        items: The item catalogue, or ``None``.
        interactions: User histories, or ``None``.
        users: User attributes, row-aligned with the encoded user ids (an
            :class:`ItemCatalogue` keyed by user: ``ids`` are the original user ids), or ``None``.
        encoder: The fitted encoding of a user file (saved with a run), ``None`` for built-ins.
        info: Facts shown in the run summary, e.g. ``{"rows": 288609}``.
    """

    name: str
    features: list[SparseFeature | DenseFeature | SequenceFeature]
    splits: dict[str, Split]
    targets: dict[str, str] = field(default_factory=dict)
    items: ItemCatalogue | None = None
    interactions: Interactions | None = None
    encoder: TabularEncoder | None = None
    info: dict[str, Any] = field(default_factory=dict)
    users: ItemCatalogue | None = None

    @property
    def train(self) -> Split:
        """Return the training split.

        Raises:
            DataError: The data set has none.
        """
        if "train" not in self.splits:
            raise DataError(f"data set {self.name!r} has no training split")
        return self.splits["train"]

    @property
    def val(self) -> Split | None:
        """Return the validation split, or ``None``."""
        return self.splits.get("val")

    @property
    def test(self) -> Split | None:
        """Return the test split, or ``None``."""
        return self.splits.get("test")

    @property
    def target_names(self) -> list[str]:
        """Return the target names in model output order."""
        return list(self.targets)


def check_split_names(splits: Mapping[str, Any], source: str) -> None:
    """Raise :class:`DataError` if ``splits`` holds a name other than train, val, test."""
    unknown = sorted(set(splits) - set(SPLIT_NAMES))
    if unknown:
        raise DataError(f"{source}: unknown split {unknown[0]!r} (splits are {', '.join(SPLIT_NAMES)})")
