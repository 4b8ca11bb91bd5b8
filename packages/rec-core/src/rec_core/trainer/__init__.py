"""The training loop shared by every rec trainer."""

from __future__ import annotations

from rec_core.trainer.base import BaseTrainer

__all__ = ["BaseTrainer"]
