"""rec-tracking: Weights & Biases, SwanLab and tensorboardX loggers for rec.

``from rec_tracking import WandbLogger`` replaces torch-rechub's
``from torch_rechub.basic.tracking import WandbLogger``; the constructors take the same
arguments. Each tracker SDK is an optional extra (``pip install "rec-tracking[wandb]"``,
``[swanlab]``, ``[tensorboardx]``, ``[all]``) imported only when its logger is created, so
importing this package (and the ``rec`` plugin) loads no SDK and no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rec_tracking._swanlab import SwanLabLogger
    from rec_tracking._tensorboardx import TensorBoardXLogger
    from rec_tracking._wandb import WandbLogger

__version__ = "0.1.0"

__all__ = ["SwanLabLogger", "TensorBoardXLogger", "WandbLogger", "__version__"]

_LAZY = {
    "SwanLabLogger": "rec_tracking._swanlab",
    "TensorBoardXLogger": "rec_tracking._tensorboardx",
    "WandbLogger": "rec_tracking._wandb",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rec_tracking' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
