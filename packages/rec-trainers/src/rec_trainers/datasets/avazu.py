"""``avazu-sample``: torch-rechub's Avazu sample with its given train/valid/test files.

Source: ``rechub-samples/avazu/{train,valid,test}_sample.csv`` (70/10/20 rows; ``label``
and ``feat_1..feat_22``, each an integer id of one original Avazu field). Every field is
label-encoded over the three files together (as torch-rechub's example does), so the
validation and test ids are all known. For smoke tests only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rec_core.features import SparseFeature
from rec_trainers.datasets.common import CTRData, check_params, label_encode, verified_data_file

__all__ = ["AVAZU_SAMPLE", "AVAZU_SAMPLE_FILES", "AvazuSampleDataset"]

# split -> (file, SHA-256)
AVAZU_SAMPLE_FILES = {
    "train": (
        "rechub-samples/avazu/train_sample.csv",
        "14cc4d40ee2f146cdd0859a888cdcd2462ae253b97f07fca79b3ccf3e2c95b8b",
    ),
    "val": (
        "rechub-samples/avazu/valid_sample.csv",
        "e822e9d92e845a25d2968eb67053e1f2915ce9909d4f426506d68f2ab2a944d5",
    ),
    "test": (
        "rechub-samples/avazu/test_sample.csv",
        "2d7c06ef10681736ba02bfb243b04ed5808b3c33f3eb55df058565d8e25426c1",
    ),
}
FIELDS = tuple(f"feat_{i}" for i in range(1, 23))


class AvazuSampleDataset:
    """The Avazu sample shipped with torch-rechub's examples, with its own three splits.

    No options. ``embed_dim`` defaults to 16.
    """

    name: ClassVar[str] = "avazu-sample"
    task: ClassVar[str] = "ctr"
    description: ClassVar[str] = "Avazu mobile ads, torch-rechub's 70/10/20-row sample (smoke tests)"
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
        """Read and encode the three files (``seed`` is unused: the splits are given).

        Raises:
            DataError: If a file is missing or malformed.
        """
        from rec_trainers.datasets.encoding import check_columns, encode_labels  # pandas: only when loading
        from rec_trainers.datasets.table import read_table

        check_params(self.name, params, {})
        paths = {
            part: verified_data_file(relative, sha256, data_dir=data_dir, cache_dir=cache_dir)
            for part, (relative, sha256) in AVAZU_SAMPLE_FILES.items()
        }
        frames = {part: read_table(path) for part, path in paths.items()}
        labels: dict[str, np.ndarray] = {}
        for part, df in frames.items():
            check_columns(df, ["label", *FIELDS], str(paths[part]))
            labels[part] = encode_labels(df, "label", str(paths[part]))
        columns: dict[str, dict[str, np.ndarray]] = {part: {} for part in frames}
        sizes: dict[str, int] = {}
        for name in FIELDS:
            encoded, sizes[name] = label_encode([df[name] for df in frames.values()])
            for part, ids in zip(frames, encoded, strict=True):
                columns[part][name] = ids
        dim = embed_dim if embed_dim is not None else self.default_embed_dim
        return CTRData(
            name=self.name,
            label="label",
            features=[SparseFeature(name, sizes[name], dim) for name in FIELDS],
            train=(columns["train"], labels["train"]),
            val=(columns["val"], labels["val"]),
            test=(columns["test"], labels["test"]),
            info={
                "rows": sum(len(y) for y in labels.values()),
                "train_rows": len(labels["train"]),
                "val_rows": len(labels["val"]),
                "test_rows": len(labels["test"]),
                "positive_rate": round(float(labels["train"].mean()), 4),
                "source": str(paths["train"].parent),
            },
        )


AVAZU_SAMPLE = AvazuSampleDataset()
