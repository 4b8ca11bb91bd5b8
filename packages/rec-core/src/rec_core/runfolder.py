"""``RunFolder``: the layout of a ``rec train`` run folder, and the only code that writes it.

A run folder holds::

    config.toml            the resolved configuration
    run.json               task, trainer, model and data: what ``rec predict``/``rec runs`` read first
    model.json             how to rebuild the model (name, options, features, targets)
    encoder.json           the fitted encoding of a user's file (absent for named data sets)
    checkpoints/           top-k files, last.ckpt and checkpoints.json (which one is best)
    metrics.jsonl          every logged hyperparameter and metric (the jsonl logger)
    summary.json           best and test metrics, written when the run completes

The record files are written by :meth:`RunFolder.start`, which the pipeline calls only
once the configuration, the data, the model options and any checkpoint to resume from have
all been validated: bad input leaves no run folder behind, and a failed ``--resume`` never
rewrites an existing run's record. Every operating-system error on the folder becomes a
one-line :class:`~rec_core.errors.RecError` that names the path.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rec_core.errors import RecError
from rec_core.files import atomic_write, read_json, write_json_atomically

if TYPE_CHECKING:
    from rec_core.config import TrainingConfig

__all__ = ["RunFolder", "os_errors_named"]


@contextlib.contextmanager
def os_errors_named(path: str | os.PathLike[str], action: str = "write") -> Iterator[None]:
    """Turn an ``OSError`` raised inside the block into a one-line :class:`RecError` naming ``path``."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
        raise RecError(f"cannot {action} {path}: {reason}{where}") from None


class RunFolder:
    """One run folder: its file names, its checks, and its writes.

    Args:
        path: The folder (it need not exist yet).
    """

    CONFIG = "config.toml"
    RUN = "run.json"
    MODEL = "model.json"
    ENCODER = "encoder.json"
    SUMMARY = "summary.json"
    METRICS = "metrics.jsonl"
    CHECKPOINTS = "checkpoints"
    INDEX = "checkpoints.json"
    LAST = "last.ckpt"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # -- paths ------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        """Return ``checkpoints/``."""
        return self.path / self.CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        """Return ``checkpoints/last.ckpt`` (it may not exist)."""
        return self.checkpoint_dir / self.LAST

    def file(self, name: str) -> Path:
        """Return the path of one of the folder's files, e.g. ``folder.file(RunFolder.SUMMARY)``."""
        return self.path / name

    def is_run(self) -> bool:
        """Return whether the folder holds a run record (``run.json``)."""
        return self.file(self.RUN).is_file()

    # -- resolving what the user named ---------------------------------------------------
    @classmethod
    def for_resume(cls, target: str | os.PathLike[str]) -> tuple[RunFolder, Path]:
        """Return the run folder and checkpoint that ``--resume TARGET`` names.

        ``TARGET`` is a run folder (its ``last.ckpt`` is used) or a checkpoint file (inside
        ``RUN/checkpoints/`` it continues that run).

        Raises:
            RecError: the checkpoint does not exist.
        """
        path = Path(target)
        checkpoint = cls(path).last_checkpoint if path.is_dir() else path
        if not checkpoint.is_file():
            raise RecError(f"cannot resume: checkpoint not found: {checkpoint}")
        return cls(checkpoint.parent.parent), checkpoint

    def checkpoint(self, which: str = "best") -> Path:
        """Return the checkpoint ``which`` names: ``best``, ``last`` or a file path.

        Raises:
            RecError: the folder has no such checkpoint (names the path it looked for).
        """
        if which not in ("best", "last"):
            path = Path(which)
            if not path.is_file():
                raise RecError(f"checkpoint not found: {path}")
            return path
        index = self.checkpoint_dir / self.INDEX
        name = read_json(index, missing=f"{self.path} has no checkpoints ({index} is missing)").get(which)
        path = self.checkpoint_dir / (name or self.LAST)
        if not path.is_file():
            raise RecError(f"the {which} checkpoint of {self.path} is missing: {path}")
        return path

    # -- checks before anything is written ---------------------------------------------------
    def check_can_start(self, *, resuming: bool) -> None:
        """Check that a run can write here, without writing anything.

        A new run needs a folder that does not exist or is empty; every existing part of the
        path must be a folder, and the nearest existing one must be writable.

        Raises:
            RecError: naming the path and what is wrong with it.
        """
        path = self.path
        if path.exists() and not path.is_dir():
            raise RecError(f"output {path} exists and is not a folder")
        with os_errors_named(path, "use output folder"):
            if not resuming and path.is_dir() and any(path.iterdir()):
                raise RecError(
                    f"output folder {path} already exists and is not empty; choose another --output "
                    f"or continue it with --resume {path}"
                )
        existing = path
        while not existing.exists():
            if existing.parent == existing:
                break
            existing = existing.parent
        if not existing.is_dir():
            raise RecError(f"cannot create output folder {path}: {existing} is a file, not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise RecError(f"cannot create output folder {path}: {existing} is not writable")

    # -- writing --------------------------------------------------------------------------------
    def start(
        self,
        *,
        config: TrainingConfig,
        run: dict[str, Any],
        description: dict[str, Any] | None = None,
        encoder: Any = None,
    ) -> None:
        """Create the folder and write the run's record (config, run, model, encoder files).

        Called once everything is validated, right before training starts.

        Raises:
            RecError: the folder or a file cannot be written (names the path).
        """
        self._created_folder = not self.path.exists()
        self._previous = {name: self._read_bytes(name) for name in (self.CONFIG, self.RUN, self.MODEL, self.ENCODER)}
        with os_errors_named(self.path, "create run folder"):
            self.path.mkdir(parents=True, exist_ok=True)
        self.write_text(self.CONFIG, config.to_toml())
        self.write_json(self.RUN, run)
        if description is not None:
            self.write_json(self.MODEL, description)
        if encoder is not None:
            with os_errors_named(self.file(self.ENCODER)):
                encoder.save(self.file(self.ENCODER))

    def rollback(self) -> None:
        """Undo :meth:`start` when the run fails before training begins.

        A folder that :meth:`start` created is removed with everything in it; in an existing
        folder (a resumed run) the record files get their previous bytes back.
        """
        if getattr(self, "_created_folder", False):
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for name, previous in getattr(self, "_previous", {}).items():
            path = self.file(name)
            with contextlib.suppress(OSError):
                if previous is None:
                    path.unlink(missing_ok=True)
                else:
                    atomic_write(path, lambda tmp, data=previous: tmp.write_bytes(data))

    def _read_bytes(self, name: str) -> bytes | None:
        path = self.file(name)
        with os_errors_named(path, "read"):
            return path.read_bytes() if path.is_file() else None

    def write_json(self, name: str, payload: Any) -> Path:
        """Write ``payload`` as JSON to the folder's file ``name`` atomically."""
        target = self.file(name)
        with os_errors_named(target):
            return write_json_atomically(target, payload)

    def write_text(self, name: str, text: str) -> Path:
        """Write ``text`` to the folder's file ``name`` atomically."""
        target = self.file(name)
        with os_errors_named(target):
            return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    # -- reading --------------------------------------------------------------------------------
    def read_run(self) -> dict[str, Any]:
        """Return ``run.json`` (task, trainer, model, data).

        Raises:
            RecError: the folder is not a run folder, or the file is corrupt.
        """
        if not self.path.is_dir():
            raise RecError(f"run folder {self.path} does not exist")
        run = read_json(self.file(self.RUN), missing=f"{self.path} is not a rec train run folder "
                                                      f"({self.file(self.RUN)} is missing)")
        if not isinstance(run, dict) or not isinstance(run.get("task"), str):
            raise RecError(f"{self.file(self.RUN)} is corrupt: no task")
        return run

    def read_description(self) -> dict[str, Any]:
        """Return ``model.json``: how to rebuild the run's model.

        Raises:
            RecError: the file is missing or corrupt.
        """
        path = self.file(self.MODEL)
        description = read_json(path, missing=f"{self.path} has no model description ({path} is missing)")
        if not isinstance(description, dict) or "model" not in description:
            raise RecError(f"{path} is corrupt: no model")
        return description

    def read_config(self, config_class: type[TrainingConfig]) -> TrainingConfig:
        """Return the run's resolved configuration from ``config.toml``.

        Raises:
            ConfigError: the file is missing, corrupt or does not fit ``config_class``.
        """
        from rec_core.config import read_toml

        return config_class.from_dict(read_toml(self.file(self.CONFIG)), source=str(self.file(self.CONFIG)))
