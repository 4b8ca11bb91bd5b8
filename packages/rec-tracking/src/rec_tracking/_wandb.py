"""``WandbLogger``: Weights & Biases, online or offline."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rec_core.loggers import BaseLogger
from rec_tracking._common import build_from_run, check_status, import_sdk, metric_value, plain_params

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

__all__ = ["WandbLogger"]

#: wandb marks a run with a non-zero exit code as failed; 255 is what wandb itself records
#: for a KeyboardInterrupt.
EXIT_CODES: dict[str, int] = {"success": 0, "failed": 1, "interrupted": 255}


class WandbLogger(BaseLogger):
    """Log a training run to Weights & Biases (torch-rechub's ``WandbLogger``).

    The run starts when the logger is created. Hyperparameters go to the run's config
    (nested dicts are kept), metrics to its history under their own names at the given
    step, and :meth:`finish` ends the run with exit code 0 (``success``), 1 (``failed``)
    or 255 (``interrupted``), which wandb shows as finished, failed or crashed.

    Pass ``mode="offline"`` to log without an account or network: the run is written to
    ``<dir>/wandb/offline-run-*`` (upload it later with ``wandb sync``). Offline mode also
    switches wandb's process-wide settings to offline, because wandb's own analytics
    exporter reads those rather than the run's and would otherwise try the network at
    exit. Without a TTY wandb never prompts: with no API key and no offline mode,
    ``wandb.init`` raises at once.

    If another wandb run is active when the logger is created, the logger starts a run of
    its own (``reinit="create_new"``) instead of sharing or finishing that one.

    Args:
        project: The wandb project.
        name: The run's display name.
        config: Initial config (e.g. data set facts); the trainer adds its hyperparameters.
        tags: Run tags.
        notes: A description of the run.
        dir: Folder for wandb's local files (created if missing).
        **kwargs: Anything else :func:`wandb.init` takes: ``mode``, ``entity``, ``group``,
            ``settings`` (a ``wandb.Settings`` or a dict of its fields), ...

    Raises:
        ImportError: wandb is not installed; the message says
            ``pip install "rec-tracking[wandb]"``.
    """

    name: ClassVar[str] = "wandb"

    def __init__(
        self,
        project: str,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        notes: str | None = None,
        dir: str | os.PathLike[str] | None = None,  # the seed's (and wandb's) name
        **kwargs: Any,
    ) -> None:
        sdk = import_sdk("wandb", extra="wandb", logger=type(self).__name__)
        settings = kwargs.pop("settings", None)
        if isinstance(settings, Mapping):
            settings = sdk.Settings(**settings)
        if "offline" in (kwargs.get("mode"), getattr(settings, "mode", None)):
            sdk.setup(settings=sdk.Settings(mode="offline"))
        if sdk.run is not None:
            kwargs.setdefault("reinit", "create_new")
        if dir is not None:
            Path(dir).mkdir(parents=True, exist_ok=True)
        self._run: Run | None = sdk.init(
            project=project,
            name=name,
            config=plain_params(config) if config else None,
            tags=list(tags) if tags else None,
            notes=notes,
            dir=os.fspath(dir) if dir is not None else None,
            settings=settings,
            **kwargs,
        )
        self._final_run = self._run

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike[str], **options: Any) -> BaseLogger:
        """Create the logger for ``rec train --logger wandb``.

        Defaults: project ``rec``, the run folder's name as run name, local files under
        ``RUN/wandb/``. ``--set logger.wandb.KEY=VALUE`` options override them (e.g.
        ``project``, ``mode=offline``, ``entity``).

        Raises:
            RecError: wandb is missing or could not start a run.
        """
        defaults = {"project": "rec", "name": Path(run_dir).name, "dir": Path(run_dir)}
        return build_from_run(cls, "wandb", defaults, options)

    @property
    def run(self) -> Run:
        """The underlying ``wandb`` run (also after :meth:`finish`)."""
        return self._final_run

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        """Add ``params`` to the run's config (nested values are kept)."""
        self._active().config.update(plain_params(params), allow_val_change=True)

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Log one history row at ``step`` (``None``: wandb's next step)."""
        row = {str(key): metric_value(value) for key, value in metrics.items()}
        self._active().log(row, step=None if step is None else int(step))

    def finish(self, status: str = "success") -> None:
        """End the run with the exit code of ``status``; later calls do nothing.

        Raises:
            ValueError: ``status`` is not ``success``, ``failed`` or ``interrupted``.
        """
        check_status(status)
        run, self._run = self._run, None
        if run is not None:
            run.finish(exit_code=EXIT_CODES[status])

    def _active(self) -> Run:
        if self._run is None:
            raise RuntimeError(f"{type(self).__name__} is finished; create a new logger to log again")
        return self._run

    def __repr__(self) -> str:
        return f"{type(self).__name__}(project={self._final_run.project!r}, name={self._final_run.name!r})"
