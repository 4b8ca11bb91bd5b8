"""Run a ``rec train`` request: the run folder, loggers, fit, test, summary.

The run folder holds::

    OUTPUT/config.toml       the resolved configuration
    OUTPUT/checkpoints/      top-k + last.ckpt + checkpoints.json (which one is best)
    OUTPUT/metrics.jsonl     every logged hyperparameter and metric
    OUTPUT/summary.json      best and test metrics, best checkpoint path
    OUTPUT/run.json          task, trainer, model and data (what ``rec predict`` needs first)

A trainer class takes part by implementing :meth:`BaseTrainer.from_request`, which
builds the model, the trainer and the data loaders from the request.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rec_core.errors import RecError
from rec_core.files import read_json, write_json_atomically

if TYPE_CHECKING:
    from rec_core.config import TrainingConfig
    from rec_core.run import TrainRequest
    from rec_core.trainer import BaseTrainer

__all__ = ["RUN_FILE", "PreparedRun", "build_loggers", "read_run_file", "run_training"]

RUN_FILE = "run.json"


@dataclass
class PreparedRun:
    """What a trainer class builds from a request: the trainer and its data."""

    trainer: BaseTrainer
    train_loader: Any
    val_loader: Any = None
    test_loader: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    write_files: Callable[[Path], None] | None = None
    """Writes the run's own files (encoders, model description) once the run starts."""


def build_loggers(request: TrainRequest, run_dir: Path) -> list[Any]:
    """Return the run's loggers: the built-in ``jsonl`` plus every ``--logger``."""
    from rec_core.loggers import JsonlLogger

    loggers: list[Any] = [JsonlLogger(run_dir)]
    for entry, options in request.loggers:
        if entry.name == "jsonl":
            continue
        cls = entry.load()
        factory = getattr(cls, "from_run", None)
        try:
            loggers.append(factory(run_dir, **options) if factory else cls(**options))
        except TypeError as exc:
            raise RecError(f"logger '{entry.name}': bad options {options}: {exc}") from None
    return loggers


def run_training(trainer_cls: type[BaseTrainer], request: TrainRequest) -> dict[str, Any]:
    """Run ``request`` with ``trainer_cls``; return the summary (also written to disk).

    Raises:
        typer.Exit: with code 130 after Ctrl-C (the last checkpoint is saved first).
    """
    from rec_core.reproducibility import seed_everything

    run_dir = request.output
    rank0 = int(os.environ.get("RANK", "0")) == 0
    config: TrainingConfig = request.config.replace(
        checkpoint_dir=str(run_dir / "checkpoints"), log_dir=str(run_dir)
    )
    seed_everything(config.random_seed)
    # Data and model are built before anything is written: bad input leaves no run folder.
    prepared = trainer_cls.from_request(request, config=config, loggers=[])
    trainer = prepared.trainer
    trainer.set_loggers(build_loggers(request, run_dir))  # tracker runs start only for valid input
    if rank0:
        run_dir.mkdir(parents=True, exist_ok=True)
        config.to_toml(run_dir / "config.toml")
        write_json_atomically(run_dir / RUN_FILE, {
            "task": request.task, "trainer": f"{trainer_cls.__module__}:{trainer_cls.__qualname__}",
            "model": request.model.name if request.model else prepared.info.get("model"),
            "data": _data_name(request.data) or prepared.info.get("data"),
        })
        if prepared.write_files is not None:
            prepared.write_files(run_dir)
    if request.resume is not None:
        trainer.resume_checkpoint(request.resume)
    from rec_core.distributed import shutdown

    try:
        summary = _fit_test_report(trainer, prepared, request, config, run_dir, rank0)
    except BaseException:
        shutdown(barrier=False)  # a failed rank must not wait for the others
        raise
    shutdown(barrier=True)
    return summary


def _fit_test_report(trainer: BaseTrainer, prepared: PreparedRun, request: TrainRequest, config: TrainingConfig,
                     run_dir: Path, rank0: bool) -> dict[str, Any]:
    import typer

    from rec_core.cli._console import err_console, print_json

    started = time.perf_counter()
    try:
        best_score, best_result = trainer.fit(prepared.train_loader, prepared.val_loader)
    except KeyboardInterrupt:
        if rank0:
            last = run_dir / "checkpoints" / "last.ckpt"
            where = f"latest checkpoint {last}" if last.is_file() else "no checkpoint was written yet"
            err_console.print(
                f"[yellow]interrupted[/]: {where}; continue with: rec train {request.task} --resume {run_dir}"
            )
        raise typer.Exit(130) from None
    test_metrics: dict[str, float] = {}
    if prepared.test_loader is not None and config.run_test:
        test_metrics = trainer.test(prepared.test_loader)
    summary = _summary(request, trainer, best_score, best_result, test_metrics, prepared.info,
                       time.perf_counter() - started)
    if rank0:
        write_json_atomically(run_dir / "summary.json", summary)
        _print_table(summary)
        if request.json:
            print_json(summary)
    return summary


def _summary(request: TrainRequest, trainer: BaseTrainer, best_score: float, best_result: Any,
             test_metrics: dict[str, float], info: dict[str, Any], seconds: float) -> dict[str, Any]:
    checkpoint = trainer._checkpoint_callback()
    best_path = checkpoint.best_model_path if checkpoint is not None else None
    return {
        "task": request.task,
        "model": request.model.name if request.model else info.get("model"),
        "data": _data_name(request.data) or info.get("data"),
        "output": str(request.output),
        "monitor": trainer.monitor,
        "best_score": best_score if best_result is not None else None,
        "best": best_result or {},
        "test": test_metrics,
        "best_checkpoint": best_path,
        "last_checkpoint": checkpoint.last_model_path if checkpoint is not None else None,
        "epochs": trainer.current_epoch,
        "global_step": trainer.global_step,
        "seconds": round(seconds, 3),
        "info": {k: v for k, v in info.items() if k not in ("model", "data")},
    }


def _data_name(data: Any) -> str | None:
    if data is None:
        return None
    return str(data) if isinstance(data, Path) else data.name


def _print_table(summary: dict[str, Any]) -> None:
    from rich.table import Table

    from rec_core.cli._console import out_console

    table = Table(title=f"rec train {summary['task']}: {summary['model']} on {summary['data']}",
                  title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in {**summary["best"], **summary["test"]}.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    for key, value in summary.get("info", {}).items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value), style="dim")
    for key in ("epochs", "global_step", "seconds", "best_checkpoint"):
        table.add_row(key, str(summary[key]))
    out_console.print(table)


def read_run_file(run_dir: Path) -> dict[str, Any]:
    """Return ``run_dir/run.json`` (task, trainer, model, data of a ``rec train`` run).

    Raises:
        RecError: the folder is not a rec run folder or the file is corrupt.
    """
    path = run_dir / RUN_FILE
    return read_json(path, missing=f"{run_dir} is not a rec train run folder ({path} is missing)")
