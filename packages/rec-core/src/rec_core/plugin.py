"""rec-core's built-in plugin: registered through the same hooks as any third party.

Objects are registered as lazy ``"module:Attribute"`` references so that listing them
(``rec list loggers``) does not import torch.
"""

from __future__ import annotations

from rec_core.hookspecs import Register, hookimpl


@hookimpl
def rec_register_loggers(register: Register) -> None:
    """Register the built-in ``jsonl`` logger."""
    register("jsonl", "rec_core.loggers.jsonl:JsonlLogger", description="metrics.jsonl in the run folder")


@hookimpl
def rec_register_loss_weighters(register: Register) -> None:
    """Register the built-in ``equal`` loss weighter."""
    register("equal", "rec_core.weighting:EqualWeighter", description="sum of the task losses")


@hookimpl
def rec_register_callbacks(register: Register) -> None:
    """Register the built-in callbacks."""
    register(
        "early-stopping",
        "rec_core.callbacks.early_stopping:EarlyStopping",
        description="stop when the monitored metric stops improving",
    )
    register(
        "checkpoint",
        "rec_core.callbacks.model_checkpoint:ModelCheckpoint",
        description="keep the top-k checkpoints and the last one",
    )
    register(
        "time-limit",
        "rec_core.callbacks.time_limit:TimeLimit",
        description="stop after the epoch that ends a wall-clock budget (seconds=1800)",
    )
