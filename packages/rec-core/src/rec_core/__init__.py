"""rec-core: the engine, contracts, plugin system and command line of rec.

Light names (hook markers, errors, config) are imported eagerly; the engine's torch-based
classes are imported on first access so that ``import rec_core`` and ``rec --help`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rec_core.config import TrainingConfig
from rec_core.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    PluginLoadError,
    RecError,
    UnknownNameError,
)
from rec_core.hookspecs import hookimpl, hookspec
from rec_core.plugins import make_plugin_manager

if TYPE_CHECKING:
    from rec_core.trainer import BaseTrainer
    from rec_core.weighting import BaseLossWeighter, EqualWeighter

__version__ = "0.1.0"

__all__ = [
    "BaseLossWeighter",
    "BaseTrainer",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "EqualWeighter",
    "PluginLoadError",
    "RecError",
    "TrainingConfig",
    "UnknownNameError",
    "__version__",
    "hookimpl",
    "hookspec",
    "make_plugin_manager",
]

_LAZY = {
    "BaseTrainer": "rec_core.trainer",
    "BaseLossWeighter": "rec_core.weighting",
    "EqualWeighter": "rec_core.weighting",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rec_core' has no attribute {name!r}")
