"""``TrainRequest``: a validated ``rec train`` invocation, handed to the trainer class.

The command line resolves names and options into a request; :func:`rec_core.pipeline.run_training`
turns it into a run through the trainer class's ``from_request`` steps. Keeping the request a
plain dataclass lets plugins' trainers be driven from the CLI, from config files or from tests alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rec_core.config import TrainingConfig
    from rec_core.plugins import RecPluginManager
    from rec_core.recipes import Recipe
    from rec_core.registry import Registration

__all__ = ["LAUNCHED_ENV", "TrainRequest"]

LAUNCHED_ENV = "REC_LAUNCHED"
"""Set by ``rec train --nproc-per-node`` for the worker processes it starts."""


@dataclass
class TrainRequest:
    """Everything ``rec train TASK`` resolved from its options.

    Attributes:
        task: the trainer's registry name.
        trainer: the trainer's registration.
        model: the model's registration, or ``None`` for the trainer's default.
        data: a data-set registration, a path to a user file, or ``None`` (default data).
        config: the resolved training configuration.
        model_params: keyword arguments for the model factory (``[model]`` / ``--set model.x=``).
        data_params: options for the data set (``[data]`` / ``--set data.x=``).
        loggers: logger registrations with their options (``[logger.NAME]``).
        weighter: the loss weighter's registration and options (``--weighter``, ``[weighter]``), or ``None``.
        callbacks: callback registrations with their options (``--callback``, ``[callback.NAME]``).
        output: the run folder (config.toml, checkpoints/, metrics.jsonl, summary.json).
        resume: a checkpoint to continue from.
        json: print the summary as JSON on the last line.
        plugin_manager: the manager that resolved the names.
        recipe: what of the data set's recipe applies (already folded into ``config`` and
            ``model_params``), or ``None``; recorded in ``run.json``.
    """

    task: str
    trainer: Registration
    config: TrainingConfig
    output: Path
    model: Registration | None = None
    data: Registration | Path | None = None
    model_params: dict[str, Any] = field(default_factory=dict)
    data_params: dict[str, Any] = field(default_factory=dict)
    loggers: list[tuple[Registration, dict[str, Any]]] = field(default_factory=list)
    weighter: tuple[Registration, dict[str, Any]] | None = None
    callbacks: list[tuple[Registration, dict[str, Any]]] = field(default_factory=list)
    resume: Path | None = None
    json: bool = False
    plugin_manager: RecPluginManager | None = None
    recipe: Recipe | None = None
