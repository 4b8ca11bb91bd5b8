"""Experiment loggers: the :class:`BaseLogger` contract, fan-out and the built-in JSONL logger.

Importing this package is cheap: it never imports torch, so the command line can list and
build loggers without loading the training stack. Tracker back-ends (wandb, swanlab,
tensorboardx) live in ``rec-tracking``.
"""

from __future__ import annotations

from rec_core.loggers.base import FINISH_STATUSES, BaseLogger, flatten_params, plain_params, to_number
from rec_core.loggers.group import LoggerGroup, LoggerLike
from rec_core.loggers.jsonl import METRICS_FILENAME, JsonlLogger, read_metrics_jsonl

__all__ = [
    "FINISH_STATUSES",
    "METRICS_FILENAME",
    "BaseLogger",
    "JsonlLogger",
    "LoggerGroup",
    "LoggerLike",
    "flatten_params",
    "plain_params",
    "read_metrics_jsonl",
    "to_number",
]
