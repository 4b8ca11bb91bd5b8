"""``criteo-sample``: torch-rechub's 115-row Criteo sample, for smoke tests.

Source: ``rechub-samples/criteo/criteo_sample.csv`` (``label``, dense ``I1..I13``,
sparse ``C1..C26``). Preprocessing follows torch-rechub's Criteo example: missing dense
values become 0 and are log-transformed (``sign(v) * log(1 + |v|)``; counts span six
orders of magnitude); missing sparse values become the token ``"-1"``; every sparse
column is label-encoded over the whole sample. Rows are split 70/15/15 with the seed.
Far too small to learn from: use it to check that a pipeline runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rec_core.features import DenseFeature, SparseFeature
from rec_trainers.datasets.common import (
    CTRData,
    check_params,
    label_encode,
    split_indices,
    take,
    take_or_none,
    verified_data_file,
)

__all__ = ["CRITEO_SAMPLE", "CRITEO_SAMPLE_FILE", "CriteoSampleDataset"]

CRITEO_SAMPLE_FILE = "rechub-samples/criteo/criteo_sample.csv"
CRITEO_SAMPLE_SHA256 = "6da856f4e05fbeecfbe81f92c3a218fde8db0781a079f043cdb1eeed456aa760"
DENSE = tuple(f"I{i}" for i in range(1, 14))
SPARSE = tuple(f"C{i}" for i in range(1, 27))
MISSING = "-1"
_DEFAULTS: dict[str, Any] = {"split": (0.7, 0.15, 0.15)}


class CriteoSampleDataset:
    """The 115-row Criteo sample shipped with torch-rechub's examples.

    Options (``load(**params)``): ``split`` ((0.7, 0.15, 0.15)). ``embed_dim`` defaults to 16.
    """

    name: ClassVar[str] = "criteo-sample"
    task: ClassVar[str] = "ctr"
    description: ClassVar[str] = "Criteo display ads, torch-rechub's 115-row sample (smoke tests)"
    default_embed_dim: ClassVar[int] = 16

    def load(
        self,
        *,
        data_dir: Path | None = None,
        cache_dir: Path | None = None,
        seed: int = 2022,
        embed_dim: int | None = None,
        **params: Any,
    ) -> CTRData:
        """Read, preprocess and split the sample.

        Raises:
            DataError: If the file is missing or malformed.
        """
        from rec_trainers.datasets.encoding import check_columns, encode_labels  # pandas: only when loading
        from rec_trainers.datasets.table import read_table

        options = check_params(self.name, params, _DEFAULTS)
        path = verified_data_file(CRITEO_SAMPLE_FILE, CRITEO_SAMPLE_SHA256, data_dir=data_dir, cache_dir=cache_dir)
        df = read_table(path)
        check_columns(df, ["label", *DENSE, *SPARSE], str(path))
        labels = encode_labels(df, "label", str(path))
        columns: dict[str, np.ndarray] = {}
        for name in DENSE:
            values = df[name].fillna(0).to_numpy(dtype=np.float64)
            columns[name] = (np.sign(values) * np.log1p(np.abs(values))).astype(np.float32)
        sizes: dict[str, int] = {}
        for name in SPARSE:
            (columns[name],), sizes[name] = label_encode([df[name].astype(object).fillna(MISSING).astype(str)])
        dim = embed_dim if embed_dim is not None else self.default_embed_dim
        features: list[Any] = [DenseFeature(name) for name in DENSE]
        features += [SparseFeature(name, sizes[name], dim) for name in SPARSE]
        train, val, test = split_indices(len(df), options["split"], seed)
        return CTRData(
            name=self.name,
            label="label",
            features=features,
            train=take(columns, labels, train),
            val=take_or_none(columns, labels, val),
            test=take_or_none(columns, labels, test),
            info={
                "rows": len(df),
                "train_rows": len(train),
                "val_rows": len(val),
                "test_rows": len(test),
                "positive_rate": round(float(labels.mean()), 4),
                "source": str(path),
            },
        )


CRITEO_SAMPLE = CriteoSampleDataset()
