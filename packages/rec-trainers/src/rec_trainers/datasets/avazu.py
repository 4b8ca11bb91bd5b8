"""``avazu-sample``: torch-rechub's Avazu sample with its given train/valid/test files.

Source: ``rechub-samples/avazu/{train,valid,test}_sample.csv`` (70/10/20 rows; ``label``
and ``feat_1..feat_22``, each an integer id of one original Avazu field). Every field is
encoded over the three files together (sorted values -> ``1..n``, id 0 reserved), as
torch-rechub's example does, so the validation and test ids are all known. For smoke
tests only.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from rec_core.datasets.spec import LoadContext, Table, TableDataset
from rec_core.features import SparseFeature

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


class AvazuSampleDataset(TableDataset):
    """The Avazu sample shipped with torch-rechub's examples, with its own three splits (in file order).

    No options (``seed`` is unused: the splits are given). ``embed_dim`` defaults to 16.
    """

    default_embed_dim: ClassVar[int] = 16

    def build(self, options: dict[str, Any], context: LoadContext) -> Table:
        """Read and encode the three files.

        Raises:
            DataError: If a file is missing or malformed.
        """
        from rec_core.datasets.encoding import check_columns, encode_labels  # pandas: only when loading
        from rec_core.datasets.ids import encode_ids
        from rec_core.datasets.tables import read_table

        paths = [context.file(relative, sha256) for relative, sha256 in AVAZU_SAMPLE_FILES.values()]
        frames = [read_table(path) for path in paths]
        for df, path in zip(frames, paths, strict=True):
            check_columns(df, ["label", *FIELDS], str(path))
        labels = np.concatenate([encode_labels(df, "label", str(path)) for df, path in zip(frames, paths, strict=True)])
        columns: dict[str, np.ndarray] = {}
        sizes: dict[str, int] = {}
        for name in FIELDS:
            parts, encoder = encode_ids(*(df[name] for df in frames))
            columns[name], sizes[name] = np.concatenate(parts), encoder.vocab_size
        part = np.repeat(np.arange(3, dtype=np.int8), [len(df) for df in frames])
        return Table(
            columns,
            {"label": labels},
            [SparseFeature(name, sizes[name], context.embed_dim) for name in FIELDS],
            source=str(paths[0].parent),
            part=part,
            shuffle=False,
        )


AVAZU_SAMPLE = AvazuSampleDataset()
