"""Whole-array metrics: binary classification and regression.

Each function accepts torch tensors, numpy arrays or lists, shaped (N,) or (N, 1), and
returns a Python ``float``: :func:`auc` (exact, ties averaged like scikit-learn),
:func:`log_loss`, :func:`accuracy`, :func:`mse` and :func:`rmse`.

Example:
    >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import torch

from rec_core.errors import DataError

__all__ = ["ArrayLike", "accuracy", "auc", "log_loss", "mse", "rmse"]

ArrayLike: TypeAlias = "torch.Tensor | np.ndarray | Sequence[float]"


def _to_numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        # float64 first: numpy has no bfloat16, and the sums below need the precision
        return x.detach().to(device="cpu", dtype=torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _vector(x: ArrayLike, name: str) -> np.ndarray:
    array = _to_numpy(x)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DataError(f"{name} must be 1-D or (N, 1), got shape {tuple(array.shape)}")
    return array


def _check_pair(y_true: np.ndarray, y_pred: np.ndarray, pred_name: str) -> None:
    if len(y_true) != len(y_pred):
        raise DataError(f"y_true has {len(y_true)} rows but {pred_name} has {len(y_pred)}")
    if len(y_true) == 0:
        raise DataError("cannot compute a metric on empty arrays")


def _check_binary(y_true: np.ndarray) -> None:
    bad = (y_true != 0) & (y_true != 1)
    if bad.any():
        raise DataError(f"y_true must hold binary labels 0/1, found {y_true[bad][0]!r}")


def auc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Compute the exact area under the ROC curve of binary labels.

    Tied scores get their average rank, which gives the same value as
    ``sklearn.metrics.roc_auc_score``. Runs in O(N log N) and is vectorised.

    Args:
        y_true: Binary labels (0/1 or bool), shape (N,) or (N, 1).
        y_score: Scores or probabilities, higher meaning more likely positive.

    Returns:
        The ROC-AUC, or ``nan`` (without a warning) when only one class is present or a
        score is NaN.

    Raises:
        DataError: If the lengths differ, the input is empty or a label is not 0/1.
    """
    y, s = _vector(y_true, "y_true"), _vector(y_score, "y_score")
    _check_pair(y, s, "y_score")
    _check_binary(y)
    n_pos = float(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0 or np.isnan(s).any():
        return float("nan")
    order = np.argsort(s, kind="stable")
    s_sorted = s[order]
    starts_group = np.empty(len(s), dtype=bool)
    starts_group[0] = True
    np.not_equal(s_sorted[1:], s_sorted[:-1], out=starts_group[1:])
    starts = np.flatnonzero(starts_group)
    ends = np.append(starts[1:], len(s))
    # ranks start..end-1 (0-based) share the 1-based average rank (start + end + 1) / 2
    average_rank = (starts + ends + 1) / 2.0
    ranks = average_rank[np.cumsum(starts_group) - 1]
    positive_rank_sum = float(ranks[y[order] == 1].sum())
    return (positive_rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def log_loss(y_true: ArrayLike, y_prob: ArrayLike, eps: float = 1e-7) -> float:
    """Compute the mean binary cross-entropy of predicted probabilities.

    Args:
        y_true: Binary labels (0/1 or bool).
        y_prob: Predicted probabilities of the positive class; clipped to
            ``[eps, 1 - eps]`` so a confident mistake costs ``-log(eps)``, not infinity.
        eps: Clipping bound.

    Returns:
        The mean negative log-likelihood (natural log).

    Raises:
        DataError: If the lengths differ, the input is empty or a label is not 0/1.
    """
    y, p = _vector(y_true, "y_true"), _vector(y_prob, "y_prob")
    _check_pair(y, p, "y_prob")
    _check_binary(y)
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def accuracy(y_true: ArrayLike, y_pred: ArrayLike, threshold: float = 0.5) -> float:
    """Compute the fraction of correct predictions.

    Args:
        y_true: Binary labels, or class indices when ``y_pred`` is (N, C).
        y_pred: Probabilities of the positive class, shape (N,) or (N, 1), predicted
            positive when strictly greater than ``threshold``; or (N, C) class scores,
            whose argmax is the predicted class.
        threshold: Decision threshold for binary predictions.

    Returns:
        The accuracy in [0, 1].

    Raises:
        DataError: If the lengths differ, the input is empty, the shapes are not
            supported or a binary label is not 0/1.
    """
    y, p = _vector(y_true, "y_true"), _to_numpy(y_pred)
    if p.ndim == 2 and p.shape[1] > 1:
        _check_pair(y, p, "y_pred")
        return float(np.mean(p.argmax(axis=1) == y))
    p = _vector(p, "y_pred")
    _check_pair(y, p, "y_pred")
    _check_binary(y)
    return float(np.mean((p > threshold) == (y == 1)))


def mse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Compute the mean squared error.

    Raises:
        DataError: If the lengths differ or the input is empty.
    """
    y, p = _vector(y_true, "y_true"), _vector(y_pred, "y_pred")
    _check_pair(y, p, "y_pred")
    return float(np.mean(np.square(y - p)))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Compute the root mean squared error.

    Raises:
        DataError: If the lengths differ or the input is empty.
    """
    return math.sqrt(mse(y_true, y_pred))
