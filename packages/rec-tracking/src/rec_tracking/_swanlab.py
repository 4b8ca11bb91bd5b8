"""``SwanLabLogger``: SwanLab, online or offline."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rec_core.loggers import BaseLogger
from rec_tracking._common import build_from_run, check_status, import_sdk, metric_value, plain_params

if TYPE_CHECKING:
    from swanlab.sdk.internal.run import Run

__all__ = ["SwanLabLogger"]

#: rec's finish status -> SwanLab's finish state (FINISHED, CRASHED, ABORTED on disk).
STATES: dict[str, str] = {"success": "success", "failed": "crashed", "interrupted": "aborted"}


class SwanLabLogger(BaseLogger):
    """Log a training run to SwanLab (torch-rechub's ``SwanLabLogger``).

    The run starts when the logger is created. Hyperparameters go to the run's config
    (nested dicts are kept; ``None`` is stored as the string ``"None"``, which SwanLab
    would otherwise turn into an empty mapping), metrics are logged under their own names
    at the given step, and :meth:`finish` ends the run as ``success``, ``crashed``
    (status ``failed``) or ``aborted`` (status ``interrupted``).

    Pass ``mode="offline"`` to log without an account or network: the run goes to
    ``<logdir>/run-*/`` (upload it later with ``swanlab sync``). Without a TTY SwanLab
    never prompts: online with no API key, ``swanlab.init`` raises at once.

    SwanLab allows one active run per process: creating a second ``SwanLabLogger`` while
    another SwanLab run is active raises ``RuntimeError`` (pass ``reinit=True`` to finish
    that run first).

    Args:
        project: The SwanLab project (default: the current folder's name).
        experiment_name: The experiment's name.
        description: A description of the experiment.
        config: Initial config; the trainer adds its hyperparameters.
        logdir: Folder for SwanLab's local files (created if missing).
        **kwargs: Anything else :func:`swanlab.init` takes: ``mode``, ``workspace``,
            ``tags``, ``settings`` (a ``swanlab.Settings`` or a dict of its fields), ...

    Raises:
        ImportError: swanlab is not installed; the message says
            ``pip install "rec-tracking[swanlab]"``.
    """

    name: ClassVar[str] = "swanlab"

    def __init__(
        self,
        project: str | None = None,
        experiment_name: str | None = None,
        description: str | None = None,
        config: Mapping[str, Any] | None = None,
        logdir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        sdk = import_sdk("swanlab", extra="swanlab", logger=type(self).__name__)
        settings = kwargs.pop("settings", None)
        if isinstance(settings, Mapping):
            settings = sdk.Settings(**settings)
        named = {"project": project, "name": experiment_name, "description": description,
                 "config": plain_params(config, none="None") if config else None,
                 "log_dir": os.fspath(logdir) if logdir is not None else None, "settings": settings}
        kwargs.update({key: value for key, value in named.items() if value is not None})
        if logdir is not None:
            Path(logdir).mkdir(parents=True, exist_ok=True)
        self._run: Run | None = sdk.init(**kwargs)
        self._final_run = self._run

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike[str], **options: Any) -> BaseLogger:
        """Create the logger for ``rec train --logger swanlab``.

        Defaults: project ``rec``, the run folder's name as experiment name, local files
        under ``RUN/swanlab/``. ``--set logger.swanlab.KEY=VALUE`` options override them
        (e.g. ``project``, ``mode=offline``, ``workspace``).

        Raises:
            RecError: swanlab is missing or could not start a run.
        """
        defaults = {"project": "rec", "experiment_name": Path(run_dir).name, "logdir": Path(run_dir) / "swanlab"}
        return build_from_run(cls, "swanlab", defaults, options)

    @property
    def run(self) -> Run:
        """The underlying SwanLab run (also after :meth:`finish`)."""
        return self._final_run

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        """Add ``params`` to the run's config (nested values are kept)."""
        self._active().config.update(plain_params(params, none="None"))

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Log ``metrics`` at ``step`` (``None``: SwanLab's next step)."""
        data = {str(key): metric_value(value) for key, value in metrics.items()}
        self._active().log(data, step=None if step is None else int(step))

    def finish(self, status: str = "success") -> None:
        """End the run in the state matching ``status``; later calls do nothing.

        A run SwanLab already ended itself (its Ctrl-C handler marks it aborted) is left
        as it is.

        Raises:
            ValueError: ``status`` is not ``success``, ``failed`` or ``interrupted``.
        """
        check_status(status)
        run, self._run = self._run, None
        if run is None or not run.alive:
            return
        error = None if status == "success" else f"rec: training ended with status '{status}'"
        run.finish(state=STATES[status], error=error)

    def _active(self) -> Run:
        if self._run is None:
            raise RuntimeError(f"{type(self).__name__} is finished; create a new logger to log again")
        if not self._run.alive:
            raise RuntimeError(f"{type(self).__name__}: the SwanLab run was finished outside the logger")
        return self._run

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dir={str(self._final_run.dir)!r})"
