"""Training callbacks: the `Callback` base, early stopping, checkpointing, a time limit, CPU threads.

`EarlyStopper` is torch-rechub's early stopper for hand-written loops; inside
`BaseTrainer.fit` use the `EarlyStopping` and `ModelCheckpoint` callbacks.
"""

from __future__ import annotations

from rec_core.callbacks.base import Callback, CallbackList
from rec_core.callbacks.cpu_threads import CpuThreads
from rec_core.callbacks.early_stopper import EarlyStopper
from rec_core.callbacks.early_stopping import EarlyStopping
from rec_core.callbacks.model_checkpoint import ModelCheckpoint
from rec_core.callbacks.time_limit import TimeLimit

__all__ = [
    "Callback",
    "CallbackList",
    "CpuThreads",
    "EarlyStopper",
    "EarlyStopping",
    "ModelCheckpoint",
    "TimeLimit",
]
