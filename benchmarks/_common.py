"""What the quality benchmarks share: ``--set key=value`` parsing and a budgeted fit followed by a test."""

from __future__ import annotations

import os
import time
from typing import Any


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """Return ``key=value`` pairs as a dict, values parsed as TOML (as ``rec train --set`` does)."""
    from rec_core.config import parse_value

    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = parse_value(value)
    return out


def fit_and_test(trainer: Any, loaders: dict[str, Any], *, verbose: bool = False) -> dict[str, Any]:
    """Fit on ``loaders["train"]`` with ``loaders["val"]``, then test the best weights.

    Returns:
        ``{"test": metrics, "wall_s", "epochs", "best_epoch", "s_per_epoch"}``.
    """
    started = time.perf_counter()
    trainer.fit(loaders["train"], loaders["val"], verbose=verbose)
    wall = time.perf_counter() - started
    best = best_epoch(trainer)
    test = trainer.evaluate(loaders["test"])
    epochs = trainer.current_epoch
    return {"test": test, "wall_s": wall, "epochs": epochs, "best_epoch": best, "s_per_epoch": wall / max(epochs, 1)}


def best_epoch(trainer: Any) -> int | None:
    """Return the 1-based epoch of the best checkpoint (from its file name), or ``None``."""
    checkpoint = trainer._checkpoint_callback()
    path = getattr(checkpoint, "best_model_path", None) if checkpoint is not None else None
    if not path:
        return None
    name = os.path.basename(path)
    return int(name.split("epoch=")[1].split("-")[0]) + 1 if "epoch=" in name else None
