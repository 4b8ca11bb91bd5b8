"""Columnar data sets, the batch loader and torch-rechub's data generators.

Typical use, as in a torch-rechub script::

    from rec_core.data import DataGenerator

    dg = DataGenerator(x, y)
    train_dl, val_dl, test_dl = dg.generate_dataloader(split_ratio=[0.7, 0.1], batch_size=256)

or directly::

    from rec_core.data import ColumnarLoader

    loader = ColumnarLoader(x, y, batch_size=2048, shuffle=True, seed=42)
    for x_dict, y in loader:
        ...
"""

from __future__ import annotations

from rec_core.data.batch import batch_size_of, move_batch
from rec_core.data.columnar import ColumnarDataset, PredictDataset, TorchDataset, to_column
from rec_core.data.generator import DataGenerator, MatchDataGenerator, df_to_dict, split_lengths
from rec_core.data.loader import ColumnarLoader
from rec_core.data.sequences import pad_sequences
from rec_core.features import get_auto_embedding_dim

__all__ = [
    "ColumnarDataset",
    "ColumnarLoader",
    "DataGenerator",
    "MatchDataGenerator",
    "PredictDataset",
    "TorchDataset",
    "batch_size_of",
    "df_to_dict",
    "get_auto_embedding_dim",
    "move_batch",
    "pad_sequences",
    "split_lengths",
    "to_column",
]
