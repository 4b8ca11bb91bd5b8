"""``frappe``: context-aware app usage (Baltrunas et al. 2015), built the way the NFM paper built it.

Source: ``frappe/raw-baltrunas/frappe.csv.gz`` (96,203 usage logs of 957 users and 4,082
apps; tab-separated). Every log is a positive with its ten fields ``user, item, daytime,
weekday, isweekend, homework, cost, weather, country, city``. For each positive, two
negatives keep the user and the other eight context fields and take an app that the
user did *not* use in that exact context (sampled uniformly from all apps, two distinct
ones). That gives 288,609 rows, a third of them positive. Each field is encoded by the
id rule (sorted values -> ``1..n``, id 0 reserved for padding/unknown; 5,382 values in
all) and the rows are split 7:2:1 at random.

The source file's SHA-256 is checked. The built arrays are cached
(``<cache>/frappe/frappe-<key>.npz`` plus a ``.json`` with the vocabularies, the seed and
that checksum), so later loads skip the build. Sizes match the NFM/BARS ``Frappe_x1``
data, but the rows do not: their negatives and split came from another random draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from rec_core.datasets.files import cache_root, read_cached_arrays, write_cached_arrays
from rec_core.datasets.spec import LoadContext, Table, TableDataset
from rec_core.datasets.splits import random_split, split_sizes
from rec_core.errors import ConfigError
from rec_core.features import SparseFeature

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FIELDS", "FRAPPE", "FRAPPE_FILE", "FrappeBuild", "FrappeDataset", "build_frappe"]

FRAPPE_FILE = "frappe/raw-baltrunas/frappe.csv.gz"
FRAPPE_SHA256 = "f07a0a396f3c42a8474ae772c56640c714572d548527f58154655be35ed81835"
FIELDS = ("user", "item", "daytime", "weekday", "isweekend", "homework", "cost", "weather", "country", "city")
CONTEXT = tuple(f for f in FIELDS if f != "item")
BUILD_VERSION = 3  # 2: rows shuffled within each split; 3: ids 1..n (0 reserved)


class FrappeBuild:
    """The built Frappe table: encoded fields, labels, split part of each row, vocabularies.

    Attributes:
        columns: Field -> ``int64`` ids ``1..n``.
        labels: ``float32`` 0/1.
        part: ``int8`` split of each row: 0 train, 1 validation, 2 test.
        vocabularies: Field -> the original values, in id order (id 1 first).
        positives: Number of positive rows (the logs).
    """

    def __init__(
        self,
        columns: dict[str, np.ndarray],
        labels: np.ndarray,
        part: np.ndarray,
        vocabularies: dict[str, list[str]],
        positives: int,
    ) -> None:
        self.columns = columns
        self.labels = labels
        self.part = part
        self.vocabularies = vocabularies
        self.positives = positives

    @property
    def vocab_sizes(self) -> dict[str, int]:
        """Return field -> number of ids, padding id 0 included."""
        return {name: len(values) + 1 for name, values in self.vocabularies.items()}


def _read_logs(path: Path) -> pd.DataFrame:
    from rec_core.datasets.encoding import check_columns
    from rec_core.datasets.tables import read_table

    logs = read_table(path, sep="\t")  # tab-separated despite the .csv name
    check_columns(logs, FIELDS, str(path))
    return logs


def _sample_negatives(
    context: np.ndarray, items: np.ndarray, n_items: int, negatives: int, rng: np.random.Generator
) -> np.ndarray:
    """Return ``(rows, negatives)`` distinct item indices that each row's context never used.

    ``context`` and ``items`` are integer codes of the positives; candidates are drawn
    uniformly and redrawn (vectorised) while they hit a used (context, item) pair or an
    earlier negative of the same row.
    """
    used = np.unique(context * n_items + items)
    chosen = np.empty((len(items), negatives), dtype=np.int64)
    for k in range(negatives):
        todo = np.arange(len(items))
        while len(todo):
            draw = rng.integers(0, n_items, len(todo))
            keys = context[todo] * n_items + draw
            hit = used[np.minimum(np.searchsorted(used, keys), len(used) - 1)] == keys
            hit |= (chosen[todo, :k] == draw[:, None]).any(axis=1)
            chosen[todo[~hit], k] = draw[~hit]
            todo = todo[hit]
    return chosen


def build_frappe(
    path: Path, *, seed: int, negatives: int = 2, split: tuple[float, ...] = (0.7, 0.2, 0.1)
) -> FrappeBuild:
    """Build the Frappe CTR table from the raw logs at ``path`` (see the module docs).

    Raises:
        DataError: If the file cannot be read or lacks a field.
    """
    from rec_core.datasets.ids import encode_ids

    logs = _read_logs(path)
    n = len(logs)
    context = logs.groupby(list(CONTEXT), sort=True, dropna=False).ngroup().to_numpy(dtype=np.int64)
    columns: dict[str, np.ndarray] = {}
    vocabularies: dict[str, list[str]] = {}
    for field in FIELDS:
        (ids,), encoder = encode_ids(logs[field])
        vocabularies[field] = encoder.values
        if field == "item":
            rng = np.random.default_rng(seed)
            sampled = _sample_negatives(context, ids - 1, len(encoder.values), negatives, rng) + 1
            columns[field] = np.concatenate([ids, sampled.T.reshape(-1)])
        else:
            columns[field] = np.tile(ids, negatives + 1)
    labels = np.concatenate([np.ones(n), np.zeros(n * negatives)]).astype(np.float32)
    return FrappeBuild(columns, labels, random_split(len(labels), split, seed), vocabularies, n)


def _cache_stem(cache_dir: Path | None, seed: int, negatives: int, split: tuple[float, ...], sha: str) -> Path:
    ratios = "-".join(f"{r:g}".replace(".", "p") for r in split)
    return cache_root(cache_dir) / "frappe" / f"frappe-v{BUILD_VERSION}-seed{seed}-neg{negatives}-{ratios}-{sha[:16]}"


def _cached_build(
    path: Path, stem: Path, *, seed: int, negatives: int, split: tuple[float, ...]
) -> tuple[FrappeBuild, str]:
    """Return the build from the cache (``"hit"``), or build and cache it (``"written"``, ``"off"`` if read-only)."""
    expected = {"build_version": BUILD_VERSION, "seed": seed, "negatives": negatives, "split": list(split),
                "source_sha256": FRAPPE_SHA256}
    cached = read_cached_arrays(stem, expected)
    if cached is not None:
        arrays, meta = cached
        try:
            columns = {field: arrays[field].astype(np.int64) for field in FIELDS}
            build = FrappeBuild(columns, arrays["label"], arrays["part"], meta["vocabularies"], int(meta["positives"]))
        except (KeyError, TypeError, ValueError):
            pass  # an entry of another layout: rebuild
        else:
            return build, "hit"
    build = build_frappe(path, seed=seed, negatives=negatives, split=split)
    meta = {
        **expected,
        "source": FRAPPE_FILE,
        "rows": len(build.labels),
        "positives": build.positives,
        "vocab_sizes": build.vocab_sizes,
        "vocabularies": build.vocabularies,
    }
    arrays = {**{k: v.astype(np.int32) for k, v in build.columns.items()}, "label": build.labels, "part": build.part}
    return build, "written" if write_cached_arrays(stem, arrays, meta) else "off"


class FrappeDataset(TableDataset):
    """Frappe with two sampled negatives per log and a seeded 7:2:1 split (NFM's recipe).

    Options (``load(**params)``): ``negatives`` per positive (2) and ``split``
    ((0.7, 0.2, 0.1)). ``embed_dim`` defaults to 10. Rows come in random (seeded) order
    within each split.
    """

    options: ClassVar[dict[str, Any]] = {"negatives": 2, "split": (0.7, 0.2, 0.1)}
    default_embed_dim: ClassVar[int] = 10

    def build(self, options: dict[str, Any], context: LoadContext) -> Table:
        """Build (or read from the cache) the Frappe table.

        Raises:
            DataError: If ``frappe/raw-baltrunas/frappe.csv.gz`` is missing, damaged or
                not the expected file.
            ConfigError: On a bad ``negatives`` or ``split``.
        """
        split_sizes(0, options["split"])  # ConfigError on bad fractions
        split = tuple(float(r) for r in options["split"])
        negatives = options["negatives"]
        if isinstance(negatives, bool) or not isinstance(negatives, int) or not 1 <= negatives <= 100:
            raise ConfigError(
                f"data set {self.default_name!r}: negatives must be an integer from 1 to 100, got {negatives!r}"
            )
        path = context.file(FRAPPE_FILE, FRAPPE_SHA256)
        stem = _cache_stem(context.cache_dir, context.seed, negatives, split, FRAPPE_SHA256)
        build, cache = _cached_build(path, stem, seed=context.seed, negatives=negatives, split=split)
        sizes = build.vocab_sizes
        return Table(
            columns=build.columns,
            targets={"label": build.labels},
            features=[SparseFeature(field, sizes[field], context.embed_dim) for field in FIELDS],
            source=str(path),
            part=build.part,
            info={
                "positives": build.positives,
                "features": sum(len(values) for values in build.vocabularies.values()),
                "cache": cache,
            },
        )


FRAPPE = FrappeDataset()
