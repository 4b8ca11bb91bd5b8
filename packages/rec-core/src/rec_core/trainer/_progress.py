"""A rich progress bar for epochs: loss, throughput and ETA; silent when not wanted."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["EpochProgress"]


class EpochProgress:
    """One progress bar per epoch/evaluation; a no-op when disabled.

    Args:
        enabled: show anything at all (False off rank 0, with ``progress_bar=False``,
            or when stdout is not a terminal).
    """

    def __init__(self, enabled: bool, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self._progress: Progress | None = None
        self._task: Any = None
        self._samples = 0
        self._start = 0.0

    def start(self, description: str, total: int | None) -> None:
        """Open a bar for ``total`` batches (``None``: unknown length)."""
        self._samples, self._start = 0, time.perf_counter()
        if not self.enabled:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=self.console, transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, stats="")

    def advance(self, samples: int, loss: float | None = None) -> None:
        """Record one batch of ``samples``; show ``loss`` when given (costs a host sync)."""
        self._samples += samples
        if self._progress is None:
            return
        update: dict[str, Any] = {"advance": 1}
        if loss is not None:
            update["stats"] = f"loss {loss:.4f}  {self.throughput():,.0f} samples/s"
        self._progress.update(self._task, **update)

    def throughput(self) -> float:
        """Return samples per second since :meth:`start`."""
        return self._samples / max(time.perf_counter() - self._start, 1e-9)

    def stop(self) -> None:
        """Close the bar."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
