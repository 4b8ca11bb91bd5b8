"""Checkpoint contents of a trainer: what is saved, and how a run is resumed from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rec_core.checkpoint import capture_rng_state, load_checkpoint, save_checkpoint, strip_module_prefix
from rec_core.errors import CheckpointError

__all__ = ["TrainerStateMixin"]


class TrainerStateMixin:
    """``save_checkpoint`` / ``resume_checkpoint`` for :class:`~rec_core.BaseTrainer`.

    A checkpoint is one file holding everything needed to continue the same run: model
    (unwrapped), optimizers, schedulers, grad scaler, loss weighter, callback states,
    counters, the position in the epoch, every RNG state and the config.
    """

    # -- saving -----------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        """Return the full training state as a ``weights_only``-loadable dict."""
        self_: Any = self
        state: dict[str, Any] = {
            "epoch": self_.current_epoch,
            "global_step": self_.global_step,
            "batch_in_epoch": self_._batch_in_epoch,
            "epoch_complete": self_._epoch_complete,
            "epoch_loss": list(self_._epoch_loss),
            "epoch_parts": dict(self_._epoch_parts),
            "model": strip_module_prefix(self_.model.state_dict()),
            "optimizers": self._optimizer_states(),
            "schedulers": [s.state_dict() for s in self_.schedulers],
            "scaler": self_.precision.scaler.state_dict() if self_.precision.scaler is not None else None,
            "loss_weighter": self_.loss_weighter.state_dict() if self_.loss_weighter is not None else None,
            "callbacks": self_.callbacks.state_dict(),
            "rng": capture_rng_state(),
            "loader": self._loader_state(),
            "best_score": float(self_.best_score),
            "best_result": dict(self_.best_result) if self_.best_result is not None else None,
            "config": _plain(self_.config.to_dict()),
            "trainer": type(self).__name__,
        }
        self_.callbacks.call("on_save_checkpoint", self_, state)
        return state

    def _optimizer_states(self) -> list[dict[str, Any]]:
        """Return each optimizer's state with the settings it was built with (not the graph-safe ones)."""
        self_: Any = self
        captured = self_._captured
        if captured is not None:
            return [captured.optimizers.plain_state(i) for i in range(len(self_.optimizers))]
        return [o.state_dict() for o in self_.optimizers]

    def _loader_state(self) -> dict[str, Any] | None:
        self_: Any = self
        loader = self_._train_loader
        if loader is None or self_._epoch_complete or not self_._batch_in_epoch:
            return None
        if callable(getattr(loader, "state_dict", None)):
            state = dict(loader.state_dict())
            if "batches_yielded" in state:  # the batch being trained (Ctrl-C) is not done yet
                state["batches_yielded"] = self_._batch_in_epoch
            return state
        return {"epoch_start_rng": self_._epoch_start_rng}

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write the training state to ``path`` atomically (rank 0 only) and return it."""
        self_: Any = self
        path = Path(path)
        if self_.is_global_zero:
            save_checkpoint(self.checkpoint_state(), path)
        return path

    # -- loading ----------------------------------------------------------------------
    def resume_checkpoint(self, resume_file: str | Path) -> None:
        """Load a checkpoint so that the next ``fit`` continues that run exactly.

        Raises:
            CheckpointError: the file is missing, corrupt, or does not match this trainer
                (model parameters, number of optimizers); the message names the file.
        """
        self_: Any = self
        path = Path(resume_file)
        state = load_checkpoint(path, map_location=self_.device)
        for key in ("optimizers", "schedulers", "epoch", "global_step", "rng"):
            if key not in state:
                raise CheckpointError(f"{path}: not a training checkpoint (no '{key}'); it holds weights only")
        self._restore_model(path, state["model"])
        if len(state["optimizers"]) != len(self_.optimizers):
            raise CheckpointError(
                f"{path}: has {len(state['optimizers'])} optimizer state(s), this trainer has {len(self_.optimizers)}"
            )
        try:
            for optimizer, saved in zip(self_.optimizers, state["optimizers"], strict=True):
                optimizer.load_state_dict(saved)
            for scheduler, saved in zip(self_.schedulers, state["schedulers"], strict=False):
                scheduler.load_state_dict(saved)
            if self_.precision.scaler is not None and state.get("scaler"):
                self_.precision.scaler.load_state_dict(state["scaler"])
            if self_.loss_weighter is not None and state.get("loss_weighter") is not None:
                self_.loss_weighter.load_state_dict(state["loss_weighter"])
        except (ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: optimizer/scheduler state does not match this trainer: {exc}") from None
        complete = bool(state.get("epoch_complete", True))
        self_.current_epoch = int(state["epoch"]) + (1 if complete else 0)
        self_.global_step = int(state["global_step"])
        self_.best_score = float(state.get("best_score", -1.0))
        self_.best_result = state.get("best_result")
        self_._model_is_best = False
        self_._pending = {"rng": state["rng"], "callbacks": state.get("callbacks", {})}
        if not complete:
            self_._pending["batch_in_epoch"] = int(state.get("batch_in_epoch", 0))
            self_._pending["loader"] = state.get("loader")
            loss_sum, count = state.get("epoch_loss", (0.0, 0))
            self_._epoch_loss = (float(loss_sum), int(count))
            self_._epoch_parts = {str(k): float(v) for k, v in state.get("epoch_parts", {}).items()}

    def _restore_model(self, path: Path, weights: dict[str, torch.Tensor]) -> None:
        self_: Any = self
        weights = strip_module_prefix(weights)
        mismatch = _weights_mismatch(self_.model.state_dict(), weights)
        if mismatch:
            model = type(self_.model).__name__
            raise CheckpointError(f"{path}: model weights do not match {model} (a checkpoint of another model "
                                  f"or data set?): {mismatch}")
        self_.model.load_state_dict(weights)

    def _load_model_weights(self, path: Path) -> None:
        """Load only the model weights of a checkpoint (for evaluation)."""
        self._restore_model(path, load_checkpoint(path, map_location=getattr(self, "device", "cpu"))["model"])


def _plain(value: Any) -> Any:
    """Return ``value`` with objects (e.g. an ``lr_lambda``) replaced by their dotted names."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__qualname__)}"


def _weights_mismatch(expected: dict[str, torch.Tensor], found: dict[str, Any], shown: int = 3) -> str:
    """Describe how ``found`` differs from ``expected`` in a few names ("" when they fit)."""
    problems = []
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    resized = [
        f"{k} {tuple(found[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in found and isinstance(found[k], torch.Tensor) and found[k].shape != v.shape
    ]
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape", resized)):
        if keys:
            more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
            problems.append(f"{len(keys)} {label}: {', '.join(keys[:shown])}{more}")
    return "; ".join(problems)
