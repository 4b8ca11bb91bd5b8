"""Run a ``rec train`` request: validate everything, then write the run folder and train.

The order is the contract (see :class:`~rec_core.runfolder.RunFolder`)::

    trainer_cls.from_request(request)      data, model, trainer, loaders: all validated here
    trainer.check_monitor()                the monitored metric is one the trainer computes
    trainer.resume_checkpoint(...)         a corrupt or foreign checkpoint fails here
    check logger options
    RunFolder.start(...)                   the first byte written: config, run, model, encoder
    loggers, fit, test, summary.json

So bad input of any kind leaves no run folder, and a failed ``--resume`` leaves the
existing run byte-identical. Nothing here prints or exits: the command line does that with
the returned summary, or with :class:`RunInterrupted` after Ctrl-C.
"""

from __future__ import annotations

import inspect
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rec_core.errors import ConfigError
from rec_core.runfolder import RunFolder

if TYPE_CHECKING:
    from collections.abc import Callable

    from rec_core.config import TrainingConfig
    from rec_core.datasets import TaskData
    from rec_core.run import TrainRequest
    from rec_core.trainer import BaseTrainer

__all__ = ["PreparedRun", "RunInterrupted", "build_loggers", "run_training"]


@dataclass
class PreparedRun:
    """What a trainer class builds from a request: the trainer, its loaders and its record.

    Attributes:
        trainer: The trainer, configured for the run.
        train_loader, val_loader, test_loader: The data (``None`` where absent).
        data: The task data the loaders were made from, if any.
        description: How to rebuild the model (written to ``model.json``; read by ``rec predict``).
        info: Facts shown in the summary (``model`` and ``data`` name the run's model and data).
    """

    trainer: BaseTrainer
    train_loader: Any
    val_loader: Any = None
    test_loader: Any = None
    data: TaskData | None = None
    description: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)


class RunInterrupted(Exception):
    """Training stopped on Ctrl-C; ``checkpoint`` is the saved ``last.ckpt`` (or ``None``)."""

    def __init__(self, folder: RunFolder, task: str, checkpoint: Path | None) -> None:
        super().__init__(f"interrupted: {folder.path}")
        self.folder, self.task, self.checkpoint = folder, task, checkpoint


def run_training(trainer_cls: type[BaseTrainer], request: TrainRequest, *,
                 on_start: Callable[[], None] | None = None) -> dict[str, Any]:
    """Run ``request`` with ``trainer_cls``; write and return the summary.

    ``on_start`` is called (on rank 0) once everything is validated, just before the run
    folder is written: the command line announces the applied recipe there.

    Raises:
        RecError: any user mistake, before the run folder is touched.
        RunInterrupted: after Ctrl-C (the last checkpoint is saved first).
    """
    from rec_core.distributed import shutdown
    from rec_core.reproducibility import seed_everything

    folder = RunFolder(request.output)
    config: TrainingConfig = request.config.replace(
        checkpoint_dir=str(folder.checkpoint_dir), log_dir=str(folder.path)
    )
    seed_everything(config.random_seed)
    prepared = trainer_cls.from_request(request, config=config, loggers=[])
    trainer = prepared.trainer
    trainer.check_monitor(validating=prepared.val_loader is not None)
    if request.resume is not None:
        trainer.resume_checkpoint(request.resume)
    check_logger_options(request)
    rank0 = int(os.environ.get("RANK", "0") or 0) == 0
    if rank0:
        if on_start is not None:
            on_start()
        folder.start(config=config, run=_run_record(trainer_cls, request, prepared),
                     description=prepared.description, encoder=getattr(prepared.data, "encoder", None))
    try:
        try:
            trainer.set_loggers(build_loggers(request, folder.path))
        except BaseException:
            if rank0:
                folder.rollback()  # no tracker could start: the run never began
            raise
        summary = _fit_and_test(trainer, prepared, request, config, folder)
    except BaseException:
        shutdown(barrier=False)  # a failed rank must not wait for the others
        raise
    if rank0:
        folder.write_json(RunFolder.SUMMARY, summary)
    shutdown(barrier=True)
    return summary


def _fit_and_test(trainer: BaseTrainer, prepared: PreparedRun, request: TrainRequest, config: TrainingConfig,
                  folder: RunFolder) -> dict[str, Any]:
    from rec_core.callbacks import CpuThreads

    started = time.perf_counter()
    try:
        best_score, best_result = trainer.fit(prepared.train_loader, prepared.val_loader)
    except KeyboardInterrupt:
        last = folder.last_checkpoint
        raise RunInterrupted(folder, request.task, last if last.is_file() else None) from None
    test_metrics: dict[str, float] = {}
    if prepared.test_loader is not None and config.run_test:
        test_metrics = trainer.test(prepared.test_loader)
    checkpoint = trainer._checkpoint_callback()
    threads = [c.chosen for c in trainer.callbacks if isinstance(c, CpuThreads) and c.chosen is not None]
    return {
        "task": request.task,
        "model": _model_name(request, prepared),
        "data": _data_name(request, prepared),
        "output": str(folder.path),
        "monitor": trainer.monitor,
        "best_score": best_score if best_result is not None else None,
        "best": best_result or {},
        "test": test_metrics,
        "best_checkpoint": checkpoint.best_model_path if checkpoint is not None else None,
        "last_checkpoint": checkpoint.last_model_path if checkpoint is not None else None,
        "epochs": trainer.current_epoch,
        "global_step": trainer.global_step,
        "seconds": round(time.perf_counter() - started, 3),
        **({"cpu_threads": threads[0]} if threads else {}),
        **_capture_summary(trainer),
        "info": {k: v for k, v in prepared.info.items() if k not in ("model", "data")},
    }


def _capture_summary(trainer: BaseTrainer) -> dict[str, Any]:
    """Return how many steps a ``capture_step`` run replayed, and why it fell back if it did."""
    stats = trainer.capture_stats
    if stats is None:
        return {}
    return {"captured_steps": stats.replays, **({"capture_fallback": stats.fallback} if stats.fallback else {})}


def _run_record(trainer_cls: type[BaseTrainer], request: TrainRequest, prepared: PreparedRun) -> dict[str, Any]:
    record = {
        "task": request.task,
        "trainer": f"{trainer_cls.__module__}:{trainer_cls.__qualname__}",
        "model": _model_name(request, prepared),
        "data": _data_name(request, prepared),
    }
    if isinstance(request.data, Path):
        record["data_file"] = str(request.data.resolve())
    for key, given in (("model_params", request.model_params), ("data_params", request.data_params)):
        if given:  # what `rec train --resume RUN` starts from again
            record[key] = dict(given)
    if request.recipe is not None:
        record["recipe"] = request.recipe.to_json()
    return record


def _model_name(request: TrainRequest, prepared: PreparedRun) -> str | None:
    return request.model.name if request.model else prepared.info.get("model")


def _data_name(request: TrainRequest, prepared: PreparedRun) -> str | None:
    if isinstance(request.data, Path):
        return str(request.data)
    if request.data is not None:
        return str(request.data.name)
    if prepared.data is not None:
        return prepared.data.name
    return prepared.info.get("data")


# -- loggers ------------------------------------------------------------------------------------
def _logger_factory(cls: Any) -> tuple[Any, Any]:
    """Return ``(factory, checked)``: what builds the logger, and the callable its options must fit."""
    factory = getattr(cls, "from_run", None)
    return (factory, cls) if factory is not None else (cls, cls)


def check_logger_options(request: TrainRequest) -> None:
    """Check every ``[logger.NAME]`` option against the logger's constructor, before anything starts.

    Raises:
        ConfigError: an option the logger does not take.
    """
    for entry, options in request.loggers:
        if entry.name == "jsonl" or not options:
            continue
        _, checked = _logger_factory(entry.load())
        try:
            signature = inspect.signature(checked)
        except (TypeError, ValueError):  # a builtin or C callable: nothing to check against
            continue
        try:
            signature.bind_partial(**options)
        except TypeError as exc:
            raise ConfigError(f"logger '{entry.name}': bad options {options}: {exc}") from None


def build_loggers(request: TrainRequest, run_dir: Path) -> list[Any]:
    """Return the run's loggers: the built-in ``jsonl`` plus every ``--logger``."""
    from rec_core.loggers import JsonlLogger

    loggers: list[Any] = [JsonlLogger(run_dir)]
    for entry, options in request.loggers:
        if entry.name == "jsonl":
            continue
        cls = entry.load()
        factory, _ = _logger_factory(cls)
        try:
            loggers.append(factory(run_dir, **options) if factory is not cls else cls(**options))
        except TypeError as exc:
            raise ConfigError(f"logger '{entry.name}': bad options {options}: {exc}") from None
    return loggers
