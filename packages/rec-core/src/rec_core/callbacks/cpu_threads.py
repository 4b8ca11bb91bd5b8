"""``CpuThreads``: the number of intra-op threads torch uses while a CPU run trains.

torch runs every op on all cores by default. A recommender step is many small ops (a
dozen embedding lookups, 256-row MLPs), and waking the other threads for each of them can
cost more than it saves: with ``OMP_WAIT_POLICY=PASSIVE`` (which ``rec`` sets, so idle
threads never spin on a shared machine) a two-tower DSSM step on 2 cores ran 2.4x faster
on one thread than on two, while SASRec's full softmax ran 1.4x faster on two. No fixed
count suits both, so ``"auto"`` measures: it times the first training steps on each
candidate count and keeps the fastest.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from rec_core.callbacks.base import Callback, TrainerLike
from rec_core.config import check_cpu_threads
from rec_core.errors import ConfigError

__all__ = ["CpuThreads"]

class CpuThreads(Callback):
    """Set torch's intra-op thread count for the training of a CPU run, and restore it after ``fit``.

    With a number, training runs on that many threads. With ``"auto"``, the first steps run
    ``warmup_steps + probe_steps`` steps on each candidate count (torch's current count, then
    halving down to 1); the count with the lowest median step time is kept, unless it is not
    at least ``margin`` faster than torch's count, which is then kept. The probe steps are
    ordinary training steps. The choice is logged as ``cpu_threads`` and saved in
    checkpoints, so a resumed run keeps it.

    Thread counts change floating-point summation order, so two ``"auto"`` runs with one seed
    are identical only when they choose the same count: set a number for bit-for-bit
    repeatable runs. With ``deterministic=True`` in the config, ``"auto"`` keeps torch's count.
    Runs on another device than the CPU are left alone.

    Args:
        threads: A positive number of threads, or ``"auto"``.
        probe_steps: Timed steps per candidate (``"auto"``).
        warmup_steps: Untimed steps per candidate before those (``"auto"``).
        margin: How much faster (0.1 = 10 %) a count must be than torch's to replace it.

    Raises:
        ConfigError: For a bad argument.
    """

    def __init__(self, threads: int | str = "auto", *, probe_steps: int = 8, warmup_steps: int = 2,
                 margin: float = 0.1) -> None:
        if threads is None:
            raise ConfigError("CpuThreads threads must be a positive integer or 'auto' (got None)")
        self.threads = check_cpu_threads(threads, "CpuThreads threads")
        for name, value, least in (("probe_steps", probe_steps, 1), ("warmup_steps", warmup_steps, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"CpuThreads {name} must be an integer >= {least} (got {value!r})")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin < 1:
            raise ConfigError(f"CpuThreads margin must lie in [0, 1) (got {margin!r})")
        self.probe_steps, self.warmup_steps, self.margin = probe_steps, warmup_steps, float(margin)
        self.chosen: int | None = None
        """The count training runs on once decided (``None`` while probing or off)."""
        self.timings: dict[int, float] = {}
        """Median seconds per step of each probed count (``"auto"``)."""
        self._previous: int | None = None
        self._candidates: list[int] = []
        self._samples: list[float] = []
        self._started: float | None = None

    @property
    def state_key(self) -> str:
        return self._generate_state_key(threads=self.threads)

    # -- hooks ------------------------------------------------------------------------------
    def on_fit_start(self, trainer: TrainerLike) -> None:
        self._candidates, self._samples = [], []
        device = getattr(trainer, "device", torch.device("cpu"))
        if torch.device(device).type != "cpu":
            return
        self._previous = torch.get_num_threads()
        if self.chosen is None and isinstance(self.threads, int):
            self.chosen = self.threads
        if self.chosen is None and getattr(trainer.config, "deterministic", False):
            self.chosen = self._previous
        if self.chosen is not None:
            torch.set_num_threads(self.chosen)
            return
        count, candidates = self._previous, []
        while True:
            candidates.append(count)
            if count == 1:
                break
            count = max(1, count // 2)
        self._candidates = candidates
        self.timings = {}
        torch.set_num_threads(self._candidates[0])

    def on_train_batch_start(self, trainer: TrainerLike, batch: Any, batch_idx: int) -> None:
        if self._candidates:
            self._started = time.perf_counter()

    def on_train_batch_end(self, trainer: TrainerLike, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not self._candidates or self._started is None:
            return
        self._samples.append(time.perf_counter() - self._started)
        self._started = None
        if len(self._samples) < self.warmup_steps + self.probe_steps:
            return
        self.timings[self._candidates.pop(0)] = statistics.median(self._samples[self.warmup_steps :])
        self._samples = []
        if self._candidates:
            torch.set_num_threads(self._candidates[0])
            return
        self.chosen = self._decide()
        torch.set_num_threads(self.chosen)
        loggers = getattr(trainer, "loggers", None)
        if loggers is not None and trainer.is_global_zero:
            loggers.log_metrics({"cpu_threads": float(self.chosen)}, step=trainer.global_step)

    def on_fit_end(self, trainer: TrainerLike) -> None:
        self._restore()

    def on_exception(self, trainer: TrainerLike, exception: BaseException) -> None:
        self._restore()

    def state_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen} if self.chosen is not None and self.threads == "auto" else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.chosen = int(state["chosen"])

    # -- helpers ------------------------------------------------------------------------------
    def _decide(self) -> int:
        default = self._previous if self._previous is not None else torch.get_num_threads()
        fastest = min(self.timings, key=lambda count: (self.timings[count], count))
        if fastest != default and self.timings[fastest] > (1 - self.margin) * self.timings[default]:
            return default
        return fastest

    def _restore(self) -> None:
        self._candidates, self._samples, self._started = [], [], None
        if self._previous is not None:
            torch.set_num_threads(self._previous)
            self._previous = None
