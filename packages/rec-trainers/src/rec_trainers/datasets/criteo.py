"""``criteo-sample``: torch-rechub's 115-row Criteo sample, for smoke tests.

Source: ``rechub-samples/criteo/criteo_sample.csv`` (``label``, dense ``I1..I13``,
sparse ``C1..C26``). Preprocessing follows torch-rechub's Criteo example: missing dense
values become 0 and are log-transformed (``sign(v) * log(1 + |v|)``; counts span six
orders of magnitude); missing sparse values become the token ``"-1"``; every sparse
column is encoded over the whole sample (sorted values -> ``1..n``, id 0 reserved). Rows
are split 70/15/15 with the seed. Far too small to learn from: use it to check that a
pipeline runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from rec_core.datasets.spec import LoadContext, Table, TableDataset
from rec_core.features import DenseFeature, SparseFeature

__all__ = ["CRITEO_SAMPLE", "CRITEO_SAMPLE_FILE", "CriteoSampleDataset"]

CRITEO_SAMPLE_FILE = "rechub-samples/criteo/criteo_sample.csv"
CRITEO_SAMPLE_SHA256 = "6da856f4e05fbeecfbe81f92c3a218fde8db0781a079f043cdb1eeed456aa760"
DENSE = tuple(f"I{i}" for i in range(1, 14))
SPARSE = tuple(f"C{i}" for i in range(1, 27))
MISSING = "-1"


class CriteoSampleDataset(TableDataset):
    """The 115-row Criteo sample shipped with torch-rechub's examples.

    Options (``load(**params)``): ``split`` ((0.7, 0.15, 0.15)). ``embed_dim`` defaults to 16.
    """

    options: ClassVar[dict[str, Any]] = {"split": (0.7, 0.15, 0.15)}
    default_embed_dim: ClassVar[int] = 16

    def build(self, options: dict[str, Any], context: LoadContext) -> Table:
        """Read and preprocess the sample.

        Raises:
            DataError: If the file is missing or malformed.
        """
        from rec_core.datasets.encoding import check_columns, encode_labels  # pandas: only when loading
        from rec_core.datasets.ids import encode_ids
        from rec_core.datasets.tables import read_table

        path = context.file(CRITEO_SAMPLE_FILE, CRITEO_SAMPLE_SHA256)
        df = read_table(path)
        check_columns(df, ["label", *DENSE, *SPARSE], str(path))
        labels = encode_labels(df, "label", str(path))
        columns: dict[str, np.ndarray] = {}
        for name in DENSE:
            values = df[name].fillna(0).to_numpy(dtype=np.float64)
            columns[name] = (np.sign(values) * np.log1p(np.abs(values))).astype(np.float32)
        sizes: dict[str, int] = {}
        for name in SPARSE:
            (columns[name],), encoder = encode_ids(df[name].astype(object).fillna(MISSING).astype(str))
            sizes[name] = encoder.vocab_size
        features: list[Any] = [DenseFeature(name) for name in DENSE]
        features += [SparseFeature(name, sizes[name], context.embed_dim) for name in SPARSE]
        return Table(columns, {"label": labels}, features, source=str(path), split=options["split"])


CRITEO_SAMPLE = CriteoSampleDataset()
