"""``frappe``: context-aware app usage (Baltrunas et al. 2015), built the way the NFM paper built it.

Source: ``frappe/raw-baltrunas/frappe.csv.gz`` (96,203 usage logs of 957 users and 4,082
apps; tab-separated). Every log is a positive with its ten fields ``user, item, daytime,
weekday, isweekend, homework, cost, weather, country, city``. For each positive, two
negatives keep the user and the other eight context fields and take an app that the
user did *not* use in that exact context (sampled uniformly from all apps, two distinct
ones). That gives 288,609 rows, a third of them positive. Each field is label-encoded
(sorted values -> ``0..n-1``; 5,382 ids in all) and the rows are split 7:2:1 at random.

The source file's SHA-256 is checked. The built arrays are cached
(``<cache>/frappe/frappe-<key>.npz`` plus a ``.json`` with the vocabularies, the seed and
that checksum), so later loads skip the build. Sizes match the NFM/BARS ``Frappe_x1``
data, but the rows do not: their negatives and split came from another random draw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from rec_core.errors import ConfigError, DataError
from rec_core.features import SparseFeature
from rec_core.files import atomic_write, write_json_atomically
from rec_trainers.datasets.common import (
    CTRData,
    cache_root,
    check_params,
    split_indices,
    take,
    take_or_none,
    verified_data_file,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FIELDS", "FRAPPE", "FRAPPE_FILE", "FrappeBuild", "FrappeDataset", "build_frappe"]

FRAPPE_FILE = "frappe/raw-baltrunas/frappe.csv.gz"
FRAPPE_SHA256 = "f07a0a396f3c42a8474ae772c56640c714572d548527f58154655be35ed81835"
FIELDS = ("user", "item", "daytime", "weekday", "isweekend", "homework", "cost", "weather", "country", "city")
CONTEXT = tuple(f for f in FIELDS if f != "item")
BUILD_VERSION = 2  # 2: rows shuffled within each split
_DEFAULTS: dict[str, Any] = {"negatives": 2, "split": (0.7, 0.2, 0.1)}


class FrappeBuild:
    """The built Frappe table: encoded fields, labels, split part of each row, vocabularies.

    Attributes:
        columns: Field -> ``int64`` ids.
        labels: ``float32`` 0/1.
        part: ``int8`` split of each row: 0 train, 1 validation, 2 test.
        vocabularies: Field -> the original values, in id order.
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
        """Return field -> number of ids."""
        return {name: len(values) for name, values in self.vocabularies.items()}


def _read_logs(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        logs = pd.read_csv(path, sep="\t")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(f"cannot read {path} as tab-separated Frappe logs: {' '.join(str(exc).split())}") from None
    missing = [f for f in FIELDS if f not in logs.columns]
    if missing:
        raise DataError(f"column {missing[0]!r} missing in {path} (columns: {', '.join(logs.columns)})")
    if len(logs) == 0:
        raise DataError(f"{path} has no data rows")
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
    import pandas as pd

    logs = _read_logs(path)
    n = len(logs)
    context = logs.groupby(list(CONTEXT), sort=True, dropna=False).ngroup().to_numpy(dtype=np.int64)
    item_codes, item_values = pd.factorize(logs["item"], sort=True)
    rng = np.random.default_rng(seed)
    sampled = _sample_negatives(context, item_codes.astype(np.int64), len(item_values), negatives, rng)

    columns: dict[str, np.ndarray] = {}
    vocabularies: dict[str, list[str]] = {}
    for field in FIELDS:
        if field == "item":
            codes = np.concatenate([item_codes, sampled.T.reshape(-1)])
            values = item_values
        else:
            field_codes, values = pd.factorize(logs[field], sort=True)
            codes = np.tile(field_codes, negatives + 1)
        columns[field] = codes.astype(np.int64)
        vocabularies[field] = [str(v) for v in values]
    labels = np.concatenate([np.ones(n), np.zeros(n * negatives)]).astype(np.float32)
    part = np.zeros(len(labels), dtype=np.int8)
    _, val_rows, test_rows = split_indices(len(labels), split, seed)
    part[val_rows], part[test_rows] = 1, 2
    return FrappeBuild(columns, labels, part, vocabularies, n)


def _cache_paths(cache_dir: Path | None, seed: int, negatives: int, split: tuple[float, ...], sha: str) -> Path:
    ratios = "-".join(f"{r:g}".replace(".", "p") for r in split)  # no dots: the stem gets suffixes
    return cache_root(cache_dir) / "frappe" / f"frappe-v{BUILD_VERSION}-seed{seed}-neg{negatives}-{ratios}-{sha[:16]}"


def _read_cache(stem: Path, sha: str, seed: int) -> FrappeBuild | None:
    meta_path, arrays_path = stem.with_suffix(".json"), stem.with_suffix(".npz")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("source_sha256") != sha or meta.get("seed") != seed or meta.get("build_version") != BUILD_VERSION:
            return None
        with np.load(arrays_path) as arrays:
            columns = {field: arrays[field].astype(np.int64) for field in FIELDS}
            labels, part = arrays["label"], arrays["part"]
    except (OSError, ValueError, KeyError):
        return None  # absent or damaged: rebuild
    return FrappeBuild(columns, labels, part, meta["vocabularies"], int(meta["positives"]))


def _write_cache(stem: Path, build: FrappeBuild, meta: dict[str, Any]) -> bool:
    arrays = {**{k: v.astype(np.int32) for k, v in build.columns.items()}, "label": build.labels, "part": build.part}

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle

    try:
        atomic_write(stem.with_suffix(".npz"), save)
        write_json_atomically(stem.with_suffix(".json"), meta)  # written last: marks the cache complete
    except OSError:
        return False  # a read-only cache only costs a rebuild next time
    return True


class FrappeDataset:
    """Frappe with two sampled negatives per log and a seeded 7:2:1 split (NFM's recipe).

    Options (``load(**params)``): ``negatives`` per positive (2) and ``split``
    ((0.7, 0.2, 0.1)). ``embed_dim`` defaults to 10.
    """

    name: ClassVar[str] = "frappe"
    task: ClassVar[str] = "ctr"
    description: ClassVar[str] = "Frappe app usage in context, 2 sampled negatives per log, 7:2:1 split (NFM)"
    default_embed_dim: ClassVar[int] = 10

    def load(
        self,
        *,
        data_dir: Path | None = None,
        cache_dir: Path | None = None,
        seed: int = 2022,
        embed_dim: int | None = None,
        **params: Any,
    ) -> CTRData:
        """Build (or read from the cache) and split the Frappe table.

        Raises:
            DataError: If ``frappe/raw-baltrunas/frappe.csv.gz`` is missing, damaged or
                not the expected file.
            ConfigError: On an unknown option or a bad ``negatives`` or ``split``.
        """
        options = check_params(self.name, params, _DEFAULTS)
        split = tuple(float(r) for r in options["split"])
        negatives = options["negatives"]
        if isinstance(negatives, bool) or not isinstance(negatives, int) or not 1 <= negatives <= 100:
            raise ConfigError(f"data set 'frappe': negatives must be an integer from 1 to 100, got {negatives!r}")
        path = verified_data_file(FRAPPE_FILE, FRAPPE_SHA256, data_dir=data_dir, cache_dir=cache_dir)
        sha = FRAPPE_SHA256
        stem = _cache_paths(cache_dir, seed, negatives, split, sha)
        build = _read_cache(stem, sha, seed)
        cache = "hit"
        if build is None:
            build = build_frappe(path, seed=seed, negatives=negatives, split=split)
            meta = {
                "dataset": self.name,
                "build_version": BUILD_VERSION,
                "seed": seed,
                "negatives": negatives,
                "split": list(split),
                "source": FRAPPE_FILE,
                "source_sha256": sha,
                "rows": len(build.labels),
                "positives": build.positives,
                "vocab_sizes": build.vocab_sizes,
                "vocabularies": build.vocabularies,
            }
            cache = "written" if _write_cache(stem, build, meta) else "off"
        return self._to_ctr_data(build, embed_dim, cache, path, seed)

    def _to_ctr_data(self, build: FrappeBuild, embed_dim: int | None, cache: str, path: Path, seed: int) -> CTRData:
        dim = embed_dim if embed_dim is not None else self.default_embed_dim
        sizes = build.vocab_sizes
        shuffle = np.random.default_rng(seed)  # rows in random order within a split, like random_split
        parts = [shuffle.permutation(np.flatnonzero(build.part == k)) for k in range(3)]
        return CTRData(
            name=self.name,
            label="label",
            features=[SparseFeature(field, sizes[field], dim) for field in FIELDS],
            train=take(build.columns, build.labels, parts[0]),
            val=take_or_none(build.columns, build.labels, parts[1]),
            test=take_or_none(build.columns, build.labels, parts[2]),
            info={
                "rows": len(build.labels),
                "positives": build.positives,
                "train_rows": len(parts[0]),
                "val_rows": len(parts[1]),
                "test_rows": len(parts[2]),
                "features": sum(sizes.values()),
                "cache": cache,
                "source": str(path),
            },
        )


FRAPPE = FrappeDataset()
