"""rec-tracking's plugin: registers the loggers by lazy ``"module:Class"`` reference.

Only registration happens here; importing this module loads no tracker SDK and no torch.
"""

from __future__ import annotations

from rec_core.hookspecs import Register, hookimpl


@hookimpl
def rec_register_loggers(register: Register) -> None:
    """Register the ``wandb``, ``swanlab`` and ``tensorboardx`` loggers."""
    register("wandb", "rec_tracking._wandb:WandbLogger",
             description='Weights & Biases (pip install "rec-tracking[wandb]")')
    register("swanlab", "rec_tracking._swanlab:SwanLabLogger",
             description='SwanLab (pip install "rec-tracking[swanlab]")')
    register("tensorboardx", "rec_tracking._tensorboardx:TensorBoardXLogger",
             description='TensorBoard event files (pip install "rec-tracking[tensorboardx]")')
