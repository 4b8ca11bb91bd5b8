"""Save the best `save_top_k` checkpoints by a monitored metric, plus ``last.ckpt``."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rec_core.callbacks.base import (
    Callback,
    TrainerLike,
    _check_mode,
    _missing_metric,
    _resolve_monitor,
)
from rec_core.errors import ConfigError
from rec_core.files import atomic_write
from rec_core.runfolder import RunFolder

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ModelCheckpoint"]

log = logging.getLogger(__name__)

_NOT_IDENTIFIER = re.compile(r"\W")


class ModelCheckpoint(Callback):
    """Keep the best `save_top_k` checkpoints by a monitored metric, and ``last.ckpt``.

    After a validation (every `every_n_epochs` epochs) the trainer's full state is saved as
    ``<filename>.ckpt`` in `dirpath` if the monitored metric ranks among the best
    `save_top_k`; files that drop out of the top k are deleted. NaN and infinite scores
    never enter the top k, and a tie with the worst kept score does not displace it.
    Without a monitored metric the most recent `save_top_k` files are kept. When no
    validation ran in an epoch, its ``on_train_epoch_end`` saves instead.

    ``last.ckpt`` is rewritten at every epoch end and, with `every_n_train_steps`, every
    that many optimizer steps, so a killed run can resume mid-epoch. The index
    ``checkpoints.json`` (written atomically) names the best file, its score, the top k and
    the last file. Only rank 0 (``trainer.is_global_zero``) writes or deletes files; every
    rank keeps the same bookkeeping.

    Args:
        dirpath: Directory of the checkpoints; None uses ``trainer.config.checkpoint_dir``.
        filename: Name template without the ``.ckpt`` suffix. It may use ``{epoch}``,
            ``{step}`` and any logged metric, by its name or with non-word characters
            replaced by ``_`` (``{val_auc:.4f}`` for ``val/auc``).
        monitor: Metric that ranks checkpoints; None uses ``trainer.config.monitor``.
        mode: ``"max"`` or ``"min"``; None uses ``trainer.config.mode`` for the config's
            monitor, else derives it from the metric name (``max`` for auc, ``min`` for loss).
        save_top_k: How many ranked checkpoints to keep; -1 keeps all, 0 none (but last).
        save_last: Whether to write ``last.ckpt``.
        every_n_epochs: Consider a ranked checkpoint every this many epochs; None or 0
            never (``last.ckpt`` is still written every epoch).
        every_n_train_steps: Rewrite ``last.ckpt`` every this many optimizer steps.

    Raises:
        ConfigError: If an argument is out of range, or `every_n_train_steps` is given
            with ``save_last=False``.

    Example:
        >>> ModelCheckpoint("runs/ckpt", "{epoch}-{val_auc:.4f}", monitor="val/auc", mode="max")
        ModelCheckpoint(dirpath='runs/ckpt', monitor='val/auc', mode='max', save_top_k=1)
    """

    name: ClassVar[str] = "checkpoint"
    saves_checkpoints: ClassVar[bool] = True
    FILE_EXTENSION: ClassVar[str] = ".ckpt"
    LAST_NAME: ClassVar[str] = RunFolder.LAST
    INDEX_NAME: ClassVar[str] = RunFolder.INDEX

    def __init__(
        self,
        dirpath: str | os.PathLike[str] | None = None,
        filename: str = "epoch={epoch}-step={step}",
        monitor: str | None = None,
        mode: str | None = None,
        save_top_k: int = 1,
        save_last: bool = True,
        every_n_epochs: int | None = 1,
        every_n_train_steps: int | None = None,
    ) -> None:
        _check_mode("ModelCheckpoint", mode)
        if save_top_k < -1:
            raise ConfigError(f"ModelCheckpoint: save_top_k must be >= -1, got {save_top_k}")
        if every_n_epochs is not None and every_n_epochs < 0:
            raise ConfigError(f"ModelCheckpoint: every_n_epochs must be >= 0, got {every_n_epochs}")
        if every_n_train_steps is not None and every_n_train_steps < 0:
            raise ConfigError(
                f"ModelCheckpoint: every_n_train_steps must be >= 0, got {every_n_train_steps}"
            )
        if every_n_train_steps and not save_last:
            raise ConfigError(
                "ModelCheckpoint: every_n_train_steps rewrites last.ckpt, so it needs "
                "save_last=True"
            )
        self._state_key = self._generate_state_key(
            dirpath=str(dirpath) if dirpath is not None else None,
            monitor=monitor,
            mode=mode,
            every_n_epochs=every_n_epochs,
            every_n_train_steps=every_n_train_steps,
        )
        self.dirpath = Path(dirpath) if dirpath is not None else None
        self.filename = filename
        self.monitor = monitor
        self.mode = mode
        self.save_top_k = save_top_k
        self.save_last = save_last
        self.every_n_epochs = every_n_epochs or 0
        self.every_n_train_steps = every_n_train_steps or 0
        self.top_k: list[dict[str, Any]] = []
        """Ranked checkpoints, best first: ``{"path", "score", "epoch", "step"}``."""
        self.last_name: str | None = None
        self._last_step_saved = -1
        self._validated_epoch: int | None = None
        self._resolved = False
        self._state_monitor: str | None = None

    def __repr__(self) -> str:
        dirpath = str(self.dirpath) if self.dirpath is not None else None
        return (
            f"ModelCheckpoint(dirpath={dirpath!r}, monitor={self.monitor!r}, "
            f"mode={self.mode!r}, save_top_k={self.save_top_k!r})"
        )

    @property
    def state_key(self) -> str:
        """Return ``ModelCheckpoint{'dirpath': ..., 'monitor': ..., ...}`` from the init args."""
        return self._state_key

    @property
    def best_model_path(self) -> str | None:
        """Return the path of the best kept checkpoint, or None before the first one."""
        return self._path(self.top_k[0]["path"]) if self.top_k else None

    @property
    def best_model_score(self) -> float | None:
        """Return the monitored score of the best kept checkpoint (None without monitor)."""
        return self.top_k[0]["score"] if self.top_k else None

    @property
    def last_model_path(self) -> str | None:
        """Return the path of ``last.ckpt`` once it has been written, else None."""
        return self._path(self.last_name) if self.last_name else None

    def on_fit_start(self, trainer: TrainerLike) -> None:
        """Resolve the directory, monitor and mode from the trainer's config."""
        self._resolve(trainer)

    def on_train_batch_end(
        self, trainer: TrainerLike, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Rewrite ``last.ckpt`` every `every_n_train_steps` optimizer steps."""
        step = trainer.global_step
        n = self.every_n_train_steps
        # With gradient accumulation several batches share one global_step.
        if not n or step <= 0 or step % n or step == self._last_step_saved:
            return
        self._resolve(trainer)
        self._mark_last(trainer)
        self._save_last(trainer)
        self._write_index(trainer)

    def on_validation_end(self, trainer: TrainerLike) -> None:
        """Note that this epoch validated; the save itself waits for the epoch's end."""
        self._validated_epoch = trainer.current_epoch

    def on_train_epoch_end(self, trainer: TrainerLike) -> None:
        """Save a ranked checkpoint if the metric is in the top k; rewrite ``last.ckpt``.

        Saving at the epoch's end (after validation and the epoch's scheduler step) means a
        run resumed from the file continues exactly where the uninterrupted run would.
        """
        self._resolve(trainer)
        validated = self._validated_epoch == trainer.current_epoch
        # An epoch without validation has only stale val/* values: it is saved as last, not ranked.
        fresh = validated or self.monitor is None or not self.monitor.startswith("val/")
        self._save_epoch(trainer, strict=validated, rank=fresh)

    def state_dict(self) -> dict[str, Any]:
        """Return the ranked files and the last file, so a resumed run manages them."""
        return {
            "top_k": [dict(entry) for entry in self.top_k],
            "last": self.last_name,
            "monitor": self.monitor,
            "mode": self.mode,
            "dirpath": str(self.dirpath) if self.dirpath is not None else None,
            "last_step_saved": self._last_step_saved,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the state returned by `state_dict`; missing keys keep their value."""
        if "top_k" in state:
            self.top_k = [dict(entry) for entry in state["top_k"]]
        self.last_name = state.get("last", self.last_name)
        self._last_step_saved = int(state.get("last_step_saved", self._last_step_saved))
        self._state_monitor = state.get("monitor")

    def _resolve(self, trainer: TrainerLike) -> None:
        if self._resolved:
            return
        self.monitor, self.mode = _resolve_monitor(
            "ModelCheckpoint", trainer, self.monitor, self.mode
        )
        if self.dirpath is None:
            checkpoint_dir = getattr(trainer.config, "checkpoint_dir", None)
            if not checkpoint_dir:
                raise ConfigError(
                    "ModelCheckpoint has no directory: pass dirpath=... or set the config's "
                    "checkpoint_dir"
                )
            self.dirpath = Path(checkpoint_dir)
        if self._state_monitor and self.top_k and self._state_monitor != self.monitor:
            log.warning(
                "ModelCheckpoint: resumed top-k was ranked by %r, now monitoring %r",
                self._state_monitor,
                self.monitor,
            )
        self._resolved = True

    def _path(self, name: str) -> str:
        return str(self.dirpath / name) if self.dirpath is not None else name

    def _dir(self) -> Path:
        if self.dirpath is None:  # _resolve runs before any write
            raise ConfigError("ModelCheckpoint: directory not resolved")
        self.dirpath.mkdir(parents=True, exist_ok=True)
        return self.dirpath

    def _save_epoch(self, trainer: TrainerLike, *, strict: bool, rank: bool = True) -> None:
        if self.save_last:
            # Before any save, so every file written now holds the final bookkeeping.
            self._mark_last(trainer)
        saved = None
        due = self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0
        if due and rank and self.save_top_k != 0:
            saved = self._save_top_k(trainer, strict=strict)
        if self.save_last:
            self._save_last(trainer, copy_from=saved)
        self._write_index(trainer)

    def _save_top_k(self, trainer: TrainerLike, *, strict: bool) -> str | None:
        """Save a ranked checkpoint if it makes the top k; return its name or None."""
        score: float | None = None
        if self.monitor is not None:
            metrics = trainer.callback_metrics
            if self.monitor not in metrics:
                if strict:
                    raise _missing_metric("ModelCheckpoint", self.monitor, metrics)
                log.debug("ModelCheckpoint: %r not logged, saving last only", self.monitor)
                return None
            score = float(metrics[self.monitor])
            if not math.isfinite(score):
                log.warning("ModelCheckpoint: %s is %s, not ranked", self.monitor, score)
                return None
            full = self.save_top_k != -1 and len(self.top_k) >= self.save_top_k
            if full and not self._better(score, self.top_k[-1]["score"]):
                return None
        name = self._format_name(trainer)
        entry = {
            "path": name,
            "score": score,
            "epoch": trainer.current_epoch,
            "step": trainer.global_step,
        }
        if self.monitor is None:
            ranked = [entry, *self.top_k]  # newest first
        else:
            sign = -1.0 if self.mode == "max" else 1.0
            # Stable sort: an older checkpoint ranks above a newer one with the same score.
            ranked = sorted([*self.top_k, entry], key=lambda e: sign * e["score"])
        keep = len(ranked) if self.save_top_k == -1 else self.save_top_k
        self.top_k, dropped = ranked[:keep], ranked[keep:]
        if trainer.is_global_zero:
            trainer.save_checkpoint(self._dir() / name)
            for old in dropped:
                self._remove(old["path"])
        return name

    def _better(self, score: float, other: float) -> bool:
        return score > other if self.mode == "max" else score < other

    def _format_name(self, trainer: TrainerLike) -> str:
        fields: dict[str, Any] = {}
        for key, value in trainer.callback_metrics.items():
            number = _as_number(value)
            fields[key] = number
            fields[_NOT_IDENTIFIER.sub("_", key)] = number
        fields["epoch"] = trainer.current_epoch
        fields["step"] = trainer.global_step
        try:
            stem = self.filename.format(**fields)
        except KeyError as exc:
            raise ConfigError(
                f"ModelCheckpoint: filename {self.filename!r} uses {{{exc.args[0]}}}, which "
                f"is not available (fields: {', '.join(sorted(fields))})"
            ) from None
        except (ValueError, TypeError, IndexError) as exc:
            raise ConfigError(
                f"ModelCheckpoint: cannot format filename {self.filename!r}: {exc}"
            ) from None
        if "/" in stem or os.sep in stem:
            raise ConfigError(
                f"ModelCheckpoint: filename {self.filename!r} gives {stem!r}, a path; "
                "put the directory in dirpath"
            )
        if stem.endswith(self.FILE_EXTENSION):
            stem = stem[: -len(self.FILE_EXTENSION)]
        taken = {entry["path"] for entry in self.top_k} | {self.LAST_NAME}
        name, version = stem + self.FILE_EXTENSION, 0
        while name in taken:
            version += 1
            name = f"{stem}-v{version}{self.FILE_EXTENSION}"
        return name

    def _mark_last(self, trainer: TrainerLike) -> None:
        self.last_name = self.LAST_NAME
        self._last_step_saved = trainer.global_step

    def _save_last(self, trainer: TrainerLike, copy_from: str | None = None) -> None:
        if not trainer.is_global_zero:
            return
        directory = self._dir()
        if copy_from is None:
            trainer.save_checkpoint(directory / self.LAST_NAME)
            return
        # The ranked file was just written from the same state: copy, do not re-serialise.
        source = directory / copy_from
        atomic_write(directory / self.LAST_NAME, lambda tmp: shutil.copyfile(source, tmp))

    def _remove(self, name: str) -> None:
        try:
            (self._dir() / name).unlink()
        except FileNotFoundError:
            log.debug("ModelCheckpoint: %s already gone", name)

    def _write_index(self, trainer: TrainerLike) -> None:
        if not trainer.is_global_zero:
            return
        best = self.top_k[0] if self.top_k else None
        index = {
            "best": best["path"] if best else None,
            "best_score": best["score"] if best else None,
            "monitor": self.monitor,
            "mode": self.mode,
            "top_k": [{"path": e["path"], "score": e["score"]} for e in self.top_k],
            "last": self.last_name,
        }
        text = json.dumps(index, indent=2, allow_nan=False) + "\n"
        atomic_write(
            self._dir() / self.INDEX_NAME, lambda tmp: tmp.write_text(text, "utf-8")
        )


def _as_number(value: Any) -> Any:
    """Return `value` as a float when it is a number or a one-element tensor."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
