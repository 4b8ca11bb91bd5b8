"""Run a test's DDP worker as real processes (gloo on CPU) and collect what each rank saved.

A worker is a module-level function ``worker(index, port, out)`` that joins the process
group at ``tcp://127.0.0.1:port``, saves its result to ``out/rank{index}.pt`` with
``torch.save`` and leaves through :func:`rec_core.distributed.shutdown` (a barrier, so no rank
exits while its peer still talks to it) or, on failure, writes its traceback to
``out/rank{index}.error`` and exits. A rank still running 10 s before the deadline dumps
every thread's stack to ``out/rank{index}.stack``; a hang's failure message shows them.
"""

from __future__ import annotations

import faulthandler
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp

from .test_ddp import _START_METHOD, _free_port

__all__ = ["run_ranks"]

_STACK_FILES: list[Any] = []  # kept open until faulthandler writes to them


def run_ranks(
    worker: Callable[..., None], out: Path, *, module: str, deadline_s: float = 90.0, nprocs: int = 2
) -> list[Any]:
    """Run ``worker`` on ``nprocs`` ranks; return each rank's saved result, in rank order.

    ``module`` (the test module's ``__name__``) is preloaded by the fork server so workers
    start without re-importing torch. A port taken by another process between choosing and
    binding it (EADDRINUSE) gets one retry; any other failure or a hang fails the test with
    every rank's traceback.
    """
    if _START_METHOD == "forkserver":
        import multiprocessing

        multiprocessing.set_forkserver_preload(["torch", module])
    for attempt in range(2):
        for stale in out.glob("*.error"):
            stale.unlink()
        failure = _run(worker, out, deadline_s, nprocs)
        if failure is None:
            return [torch.load(out / f"rank{rank}.pt", weights_only=False) for rank in range(nprocs)]
        if "EADDRINUSE" not in failure or attempt == 1:
            pytest.fail(failure)
    raise AssertionError("unreachable")


def _traced(index: int, worker: Callable[..., None], stack_after_s: float, port: int, out: str) -> None:
    """Run ``worker`` on rank ``index``, dumping its stacks if it is still running after ``stack_after_s``."""
    stack = open(Path(out) / f"rank{index}.stack", "w")
    _STACK_FILES.append(stack)
    faulthandler.dump_traceback_later(stack_after_s, file=stack)
    worker(index, port, out)
    faulthandler.cancel_dump_traceback_later()


def _run(worker: Callable[..., None], out: Path, deadline_s: float, nprocs: int) -> str | None:
    context = mp.start_processes(
        _traced,
        args=(worker, max(1.0, deadline_s - 10), _free_port(), str(out)),
        nprocs=nprocs,
        join=False,
        start_method=_START_METHOD,
    )
    deadline = time.monotonic() + deadline_s
    try:
        while not context.join(timeout=max(0.1, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                stacks = "\n".join(
                    f"--- {path.stem} ---\n{path.read_text()}"
                    for path in sorted(out.glob("*.stack"))
                    if path.stat().st_size
                )
                return f"the DDP workers did not finish within {deadline_s:.0f} s (a hang?)\n{stacks}"
    except (mp.ProcessRaisedException, mp.ProcessExitedException) as exc:
        reports = "\n".join(path.read_text() for path in sorted(out.glob("*.error")))
        return f"a DDP worker failed: {exc}\n{reports}"
    finally:
        for process in context.processes:
            if process.is_alive():
                process.terminate()
                process.join(5)
    return None
