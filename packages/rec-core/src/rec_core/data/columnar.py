"""Hold a data set as one contiguous tensor per column.

A :class:`ColumnarDataset` converts its input once: integer columns become ``int64``
(ready for embedding lookups), floating columns ``float32``, boolean columns stay
``bool``. 2-D columns (padded sequences, vectors) keep their second dimension. Batches
are then cut from these tensors by slicing or ``index_select``
(:class:`~rec_core.data.ColumnarLoader`), never sample by sample.

The classes are map-style :class:`torch.utils.data.Dataset` objects too, so a plain
``DataLoader`` over them yields the same ``(x_dict, y)`` batches as torch-rechub's
``TorchDataset``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from rec_core.errors import DataError

__all__ = ["ColumnarDataset", "PredictDataset", "TorchDataset", "to_column"]

Batch = tuple[dict[str, torch.Tensor], torch.Tensor]

_NUMPY_DTYPES = {
    torch.bool: np.dtype(np.bool_),
    torch.int64: np.dtype(np.int64),
    torch.float32: np.dtype(np.float32),
}


def _target_dtype(name: str, dtype: torch.dtype | np.dtype) -> torch.dtype:
    """Map a source dtype to the column dtype, or raise for non-numeric data."""
    if isinstance(dtype, torch.dtype):
        if dtype == torch.bool:
            return torch.bool
        if dtype.is_floating_point:
            return torch.float32
        if not dtype.is_complex:
            return torch.int64
    elif dtype.kind == "b":
        return torch.bool
    elif dtype.kind in "iu":
        return torch.int64
    elif dtype.kind == "f":
        return torch.float32
    raise DataError(
        f"column {name!r} has dtype {dtype}, which is not numeric; encode categorical "
        "values as integer ids first (e.g. with pandas.factorize or a LabelEncoder)"
    )


def _as_numpy(name: str, values: Any) -> np.ndarray:
    """Turn a pandas Series, list or other array-like into a numeric numpy array."""
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    try:
        arr = np.asarray(values)
        if arr.dtype == object:
            # e.g. a DataFrame column holding equal-length lists (padded sequences)
            arr = np.asarray(arr.tolist())
    except ValueError as exc:
        raise DataError(
            f"column {name!r} cannot be made into one array ({exc}); pad sequences to a common length first"
        ) from None
    return arr


def to_column(name: str, values: Any) -> torch.Tensor:
    """Convert one column to a contiguous tensor with the dataset's dtype rules.

    Args:
        name: Column name, used in error messages.
        values: A tensor, numpy array, pandas Series, list or other array-like whose
            first dimension is the row.

    Returns:
        An ``int64``, ``float32`` or ``bool`` tensor. It shares memory with ``values``
        when no conversion is needed (a writable, contiguous array or tensor of the
        target dtype).

    Raises:
        DataError: If the values are not numeric, are ragged or are a scalar.
    """
    if isinstance(values, torch.Tensor):
        tensor = values.detach()
        tensor = tensor.to(_target_dtype(name, tensor.dtype)).contiguous()
    else:
        arr = _as_numpy(name, values)
        target = _target_dtype(name, arr.dtype)
        wanted = _NUMPY_DTYPES[target]
        ready = arr.dtype == wanted and arr.flags.c_contiguous and arr.flags.writeable
        if not ready:
            # A fresh writable copy: torch.from_numpy warns on read-only arrays.
            arr = np.array(arr, dtype=wanted, order="C")
        tensor = torch.from_numpy(arr)
    if tensor.dim() == 0:
        raise DataError(f"column {name!r} is a scalar; expected one value per row")
    return tensor


def _row_view(column: torch.Tensor) -> Any:
    """Return a numpy view of a CPU column (cheap to index per sample), else the tensor."""
    return column.numpy() if column.device.type == "cpu" else column


def _columns_of(x: Any) -> dict[str, Any]:
    """Return ``x`` (a mapping or a pandas DataFrame) as a plain name -> values dict."""
    if isinstance(x, Mapping):
        items = dict(x)
    elif hasattr(x, "columns") and hasattr(x, "to_numpy"):
        items = {col: x[col] for col in x.columns}
    else:
        raise DataError(f"x must be a dict of columns or a pandas DataFrame, got {type(x).__name__}")
    if not items:
        raise DataError("x has no columns")
    for key in items:
        if not isinstance(key, str):
            raise DataError(f"column names must be strings, got {key!r}")
    return items


class ColumnarDataset(Dataset):
    """Hold feature columns (and optional labels) as contiguous tensors of equal length.

    Args:
        x: Column name -> array-like (numpy array, tensor, pandas Series, list), or a
            pandas DataFrame. Each column becomes one tensor, see :func:`to_column`.
        y: Optional labels: 1-D, or 2-D ``(rows, tasks)`` for multi-task models.
            Same dtype rules as the columns (integer labels stay ``int64``; trainers
            cast them, as torch-rechub's do).

    Raises:
        DataError: If a column is not numeric, or the lengths differ (the message
            names the column and both lengths).

    Example:
        >>> ds = ColumnarDataset({"user": [1, 2, 3], "age": [0.1, 0.5, 0.9]}, y=[0, 1, 1])
        >>> x_row, y_row = ds[0]
        >>> int(x_row["user"]), int(y_row)
        (1, 0)
    """

    def __init__(self, x: Any, y: Any = None) -> None:
        self.x: dict[str, torch.Tensor] = {name: to_column(name, values) for name, values in _columns_of(x).items()}
        first, length = next((name, len(col)) for name, col in self.x.items())
        for name, column in self.x.items():
            if len(column) != length:
                raise DataError(f"column {name!r} has {len(column)} rows but column {first!r} has {length}")
        self._length = length
        self.y: torch.Tensor | None = None
        if y is not None:
            labels = to_column("y", y)
            if labels.dim() > 2:
                raise DataError(f"y must be 1-D or 2-D, got shape {tuple(labels.shape)}")
            if len(labels) != length:
                raise DataError(f"y has {len(labels)} rows but column {first!r} has {length}")
            self.y = labels

    @property
    def columns(self) -> list[str]:
        """Return the column names, in input order."""
        return list(self.x)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, Any] | tuple[dict[str, Any], Any]:
        """Return sample ``index`` as ``(x_dict, y)``, or ``x_dict`` without labels.

        Values from CPU columns are numpy scalars or row views, as with torch-rechub's
        dataset: a ``DataLoader`` collates them into exactly the tensors a
        :class:`~rec_core.data.ColumnarLoader` yields, several times faster than
        indexing tensors one sample at a time would.
        """
        x_views, y_view = self._row_views()
        row = {name: column[index] for name, column in x_views.items()}
        if y_view is None:
            return row
        return row, y_view[index]

    def _row_views(self) -> tuple[dict[str, Any], Any]:
        views = self.__dict__.get("_views")
        if views is None:
            views = (
                {name: _row_view(column) for name, column in self.x.items()},
                None if self.y is None else _row_view(self.y),
            )
            self.__dict__["_views"] = views
        return views

    @property
    def nbytes(self) -> int:
        """Return the bytes the columns and labels occupy."""
        tensors = [*self.x.values(), *([] if self.y is None else [self.y])]
        return sum(t.numel() * t.element_size() for t in tensors)

    @property
    def device(self) -> torch.device:
        """Return the device of the columns."""
        return next(iter(self.x.values())).device

    def to(self, device: torch.device | str) -> ColumnarDataset:
        """Return this dataset with every column and the labels on ``device`` (itself if already there)."""
        device = torch.device(device)
        if all(t.device == device for t in [*self.x.values(), *([] if self.y is None else [self.y])]):
            return self
        moved = object.__new__(type(self))
        moved.x = {n: c.to(device) for n, c in self.x.items()}
        moved.y = None if self.y is None else self.y.to(device)
        moved._length = self._length
        return moved

    def subset(self, indices: torch.Tensor) -> ColumnarDataset:
        """Return a new dataset holding the rows at ``indices``, in that order."""
        indices = torch.as_tensor(indices, dtype=torch.int64)
        part = object.__new__(type(self))
        part.x = {n: c.index_select(0, indices.to(c.device)) for n, c in self.x.items()}
        part.y = None if self.y is None else self.y.index_select(0, indices.to(self.y.device))
        part._length = len(indices)
        return part

    def __repr__(self) -> str:
        labels = "no labels" if self.y is None else f"y {tuple(self.y.shape)}"
        return f"{type(self).__name__}({self._length} rows, {len(self.x)} columns, {labels})"


class TorchDataset(ColumnarDataset):
    """Labelled columnar dataset under torch-rechub's name: ``TorchDataset(x, y)``.

    ``dataset[i]`` is ``(x_dict, y)``; use it with a plain ``DataLoader`` or with
    :class:`~rec_core.data.ColumnarLoader` (much faster).
    """

    def __init__(self, x: Any, y: Any) -> None:
        if y is None:
            raise DataError("TorchDataset needs labels y; use PredictDataset(x) without")
        super().__init__(x, y)


class PredictDataset(ColumnarDataset):
    """Unlabelled columnar dataset under torch-rechub's name: ``dataset[i]`` is ``x_dict``."""

    def __init__(self, x: Any) -> None:
        super().__init__(x, None)
