"""Build train/validation/test loaders the way torch-rechub scripts ask for them.

``DataGenerator`` and ``MatchDataGenerator`` keep torch-rechub's constructors and
``generate_dataloader`` signatures, but return :class:`~rec_core.data.ColumnarLoader`
objects instead of ``DataLoader`` ones: same batches, cut from contiguous columns.

``num_workers`` is accepted and ignored. Slicing whole batches in the training process
is cheaper than what a worker process does (index each sample, collate, pickle the
batch through shared memory), and on small CPU machines a worker also takes a core
away from the model: a torch-rechub DeepFM epoch got slower with ``num_workers=1``
(see ``shared/notes/cpu-threads.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rec_core.data.columnar import ColumnarDataset, PredictDataset, TorchDataset
from rec_core.data.loader import ColumnarLoader
from rec_core.errors import ConfigError, DataError

__all__ = ["DataGenerator", "MatchDataGenerator", "df_to_dict", "split_lengths"]

logger = logging.getLogger(__name__)


def split_lengths(total: int, split_ratio: Sequence[float]) -> tuple[int, int, int]:
    """Return torch-rechub's ``(train, val, test)`` sizes for ``split_ratio``.

    ``train = int(total * split_ratio[0])``, ``val = int(total * split_ratio[1])`` and
    the test part gets the rest (a third ratio, if given, is not used).

    Raises:
        ConfigError: If the ratios are not two or three numbers in ``[0, 1]`` whose
            first two sum to at most 1.
    """
    ratios = list(split_ratio)
    if len(ratios) not in (2, 3) or not all(
        isinstance(r, (int, float)) and not isinstance(r, bool) and 0 <= r <= 1 for r in ratios
    ):
        raise ConfigError(f"split_ratio must be [train, val] fractions in [0, 1], got {split_ratio!r}")
    if ratios[0] + ratios[1] > 1 + 1e-9:
        raise ConfigError(f"split_ratio {split_ratio!r} leaves no room: train + val must be <= 1")
    train = int(total * ratios[0])
    val = min(int(total * ratios[1]), total - train)
    return train, val, total - train - val


def _draw_seed() -> int:
    """Take a loader seed from torch's global RNG, so ``torch.manual_seed`` governs it."""
    return int(torch.randint(0, 2**62, (1,)).item())


def _split_order(total: int, seed: int | None) -> torch.Tensor:
    # Without a seed this draws exactly what torch.utils.data.random_split draws, so a
    # script that calls torch.manual_seed gets torch-rechub's split.
    if seed is None:
        return torch.randperm(total)
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))


def _labelled(x: Any, y: Any, part: str) -> TorchDataset | None:
    if x is None:
        if y is not None:
            raise DataError(f"y_{part} was given without x_{part}")
        return None
    if y is None:
        raise DataError(f"x_{part} was given without y_{part}")
    return TorchDataset(x, y)


class DataGenerator:
    """Split labelled columns into train/validation/test loaders.

    Args:
        x: Column name -> array-like, or a pandas DataFrame.
        y: Labels, 1-D or 2-D (multi-task).

    Example:
        >>> dg = DataGenerator(x, y)
        >>> train_dl, val_dl, test_dl = dg.generate_dataloader(split_ratio=[0.7, 0.1], batch_size=256)
    """

    def __init__(self, x: Any, y: Any) -> None:
        self.dataset = TorchDataset(x, y)
        self.length = len(self.dataset)

    def generate_dataloader(
        self,
        x_val: Any = None,
        y_val: Any = None,
        x_test: Any = None,
        y_test: Any = None,
        split_ratio: Sequence[float] | None = None,
        batch_size: int = 16,
        num_workers: int = 8,
        *,
        seed: int | None = None,
    ) -> tuple[ColumnarLoader, ColumnarLoader | None, ColumnarLoader | None]:
        """Return ``(train, val, test)`` loaders; train is shuffled, the others not.

        With ``split_ratio`` the data given to the constructor is split at random
        into the three parts (sizes from :func:`split_lengths`). Without it, that
        data is the training set and ``x_val``/``x_test`` (with their labels) make
        the other two; a part left out yields ``None``.

        Args:
            x_val: Validation columns (when not splitting).
            y_val: Validation labels.
            x_test: Test columns (when not splitting).
            y_test: Test labels.
            split_ratio: ``[train, val]`` fractions; the test part gets the rest.
            batch_size: Samples per batch.
            num_workers: Ignored; batches are sliced in-process (see module docs).
            seed: Seed of the split and of the training order. ``None`` draws both
                from torch's global RNG, so ``torch.manual_seed`` makes them
                reproducible, as in torch-rechub.

        Raises:
            ConfigError: If ``split_ratio`` is invalid.
            DataError: If a part has columns without labels, or the reverse.
        """
        del num_workers  # accepted for torch-rechub compatibility only
        val: ColumnarDataset | None
        test: ColumnarDataset | None
        if split_ratio is not None:
            lengths = split_lengths(self.length, split_ratio)
            logger.info("the samples of train : val : test are %d : %d : %d", *lengths)
            parts = torch.split(_split_order(self.length, seed), list(lengths))
            train, val, test = (self.dataset.subset(part) for part in parts)
        else:
            train = self.dataset
            val = _labelled(x_val, y_val, "val")
            test = _labelled(x_test, y_test, "test")
        train_seed = _draw_seed() if seed is None else seed
        return (
            ColumnarLoader(train, batch_size=batch_size, shuffle=True, seed=train_seed),
            None if val is None else ColumnarLoader(val, batch_size=batch_size),
            None if test is None else ColumnarLoader(test, batch_size=batch_size),
        )


class MatchDataGenerator:
    """Build the loaders of a matching (retrieval) model: train, test users, all items.

    Args:
        x: Training columns.
        y: Training labels; leave out (or pass an empty list) for pair-wise models
            trained without labels, whose batches are then ``x_dict`` alone.
    """

    def __init__(self, x: Any, y: Any = None) -> None:
        if y is None or len(y) == 0:
            self.dataset: ColumnarDataset = PredictDataset(x)
        else:
            self.dataset = TorchDataset(x, y)

    def generate_dataloader(
        self,
        x_test_user: Any,
        x_all_item: Any,
        batch_size: int,
        num_workers: int = 8,
        *,
        seed: int | None = None,
    ) -> tuple[ColumnarLoader, ColumnarLoader, ColumnarLoader]:
        """Return ``(train, test_user, all_item)`` loaders; only train is shuffled.

        The user and item loaders keep input order, so embeddings line up with the
        ground truth.

        Args:
            x_test_user: Columns of the users to evaluate.
            x_all_item: Columns of every candidate item.
            batch_size: Samples per batch.
            num_workers: Ignored; batches are sliced in-process.
            seed: Seed of the training order; ``None`` draws it from torch's RNG.
        """
        del num_workers  # accepted for torch-rechub compatibility only
        train_seed = _draw_seed() if seed is None else seed
        return (
            ColumnarLoader(self.dataset, batch_size=batch_size, shuffle=True, seed=train_seed),
            ColumnarLoader(PredictDataset(x_test_user), batch_size=batch_size),
            ColumnarLoader(PredictDataset(x_all_item), batch_size=batch_size),
        )


def df_to_dict(data: Any) -> dict[str, np.ndarray]:
    """Return a DataFrame as a column name -> numpy array dict (list cells become 2-D).

    Args:
        data: A pandas DataFrame; columns holding equal-length lists (padded
            sequences) become 2-D arrays.
    """
    result: dict[str, np.ndarray] = {}
    for name in data.columns:
        values = data[name].to_numpy()
        if values.dtype == object:
            values = np.array(values.tolist())
        result[name] = values
    return result
