"""A small click trainer, logger factories and the checks every tracking test shares.

The trainer is a plain :class:`rec_core.BaseTrainer` subclass on a synthetic click set, so
the tests need no trainer package; ``test_ctr_trainer.py`` repeats the round trip with
``rec_trainers.CTRTrainer`` when it is installed.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rec_core import BaseTrainer
from rec_core.data import ColumnarLoader
from rec_core.loggers import JsonlLogger, flatten_params, read_metrics_jsonl

# Quiet and fast: no console capture, no system stats, no git probing (see the notes).
WANDB_SETTINGS = {"console": "off", "x_disable_stats": True, "disable_git": True, "save_code": False}
SWANLAB_SETTINGS = {
    "interactive": False,
    "terminal": {"proxy_type": "none"},
    "probe": {"monitor": False, "git": False, "requirements": False},
}

EPOCHS = 3
BATCHES_PER_EPOCH = 4
LOG_EVERY = 2
MONITOR = "val/acc@0.5"  # a name tensorboardX's add_scalar would rewrite


def has_sdk(module: str) -> bool:
    """Return whether the tracker SDK ``module`` is installed."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # blocked in sys.modules / by an import hook
        return False


def require_sdk(module: str) -> None:
    """Skip the test unless ``module`` is installed."""
    pytest.importorskip(module)


# -- the trainer ----------------------------------------------------------------------------
class Logistic(nn.Module):
    """Logistic regression on ``x["f"]``."""

    def __init__(self, n_features: int = 4) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.linear(x["f"]).squeeze(-1)


class ClickTrainer(BaseTrainer):
    """BCE on ``(x_dict, y)``; validation reports ``loss`` and ``acc@0.5``."""

    def training_step(self, batch: Any) -> torch.Tensor:
        x, y = batch
        return F.binary_cross_entropy_with_logits(self.network(x), y)

    def validation_step(self, batch: Any) -> dict[str, torch.Tensor]:
        x, y = batch
        return {"logit": self.model(x).float(), "y": y.float()}

    def compute_metrics(self, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        logit, y = outputs["logit"], outputs["y"]
        return {"loss": float(F.binary_cross_entropy_with_logits(logit, y)),
                "acc@0.5": float(((logit > 0).float() == y).float().mean())}


class FailingTrainer(ClickTrainer):
    """Raise ``error`` from ``training_step`` once ``global_step`` reaches ``fail_at``."""

    def __init__(self, model: nn.Module, *, fail_at: int, error: BaseException, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.fail_at, self.error = fail_at, error

    def training_step(self, batch: Any) -> torch.Tensor:
        if self.global_step == self.fail_at:
            raise self.error
        return super().training_step(batch)


def click_loaders(batch_size: int = 16, *, category: bool = False) -> tuple[ColumnarLoader, ColumnarLoader]:
    """Return train (64 rows) and validation (32 rows) loaders of a learnable click rule.

    Features: ``f``, four floats; with ``category``, also ``c``, an id in ``0..9``.
    """
    gen = torch.Generator().manual_seed(0)
    f = torch.randn(96, 4, generator=gen)
    y = ((f @ torch.tensor([1.5, -2.0, 0.5, 1.0]) + 0.5 * torch.randn(96, generator=gen)) > 0).float()
    x = {"f": f, "c": torch.randint(0, 10, (96,), generator=gen)} if category else {"f": f}
    train = ColumnarLoader({k: v[:64] for k, v in x.items()}, y[:64], batch_size=batch_size, shuffle=True, seed=3)
    return train, ColumnarLoader({k: v[64:] for k, v in x.items()}, y[64:], batch_size=32)


def trainer_settings(tmp_path: Path) -> dict[str, Any]:
    """Return quiet, seeded settings with a nested hyperparameter (``optimizer_params``)."""
    return {
        "max_epochs": EPOCHS, "optimizer": "SGD", "learning_rate": 0.1, "optimizer_params": {"momentum": 0.9},
        "scheduler": "StepLR", "scheduler_params": {"step_size": 1, "gamma": 0.5},
        "monitor": MONITOR, "mode": "max", "log_every_n_steps": LOG_EVERY, "progress_bar": False,
        "random_seed": 0, "early_stopping_patience": 0, "checkpoint_dir": str(tmp_path / "ckpt"),
    }


def fit(loggers: Iterable[Any], tmp_path: Path, *, trainer_cls: type[ClickTrainer] = ClickTrainer,
        **trainer_kwargs: Any) -> list[dict[str, Any]]:
    """Fit with ``loggers`` plus a :class:`JsonlLogger`; return the JSONL records.

    Exceptions from ``fit`` propagate; the JSONL records can then be read with
    :func:`jsonl_records`.
    """
    jsonl = JsonlLogger(tmp_path / "jsonl")
    trainer = trainer_cls(Logistic(), loggers=[jsonl, *loggers], **trainer_settings(tmp_path), **trainer_kwargs)
    train, val = click_loaders()
    trainer.fit(train, val, verbose=False, saved=False)
    return jsonl_records(tmp_path)


def jsonl_records(tmp_path: Path) -> list[dict[str, Any]]:
    """Return what the run's :class:`JsonlLogger` wrote."""
    return read_metrics_jsonl(tmp_path / "jsonl")


# -- what the JSONL logger saw: the reference for every backend -----------------------------
def logged_hparams(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the one ``hparams`` record's parameters (asserting there is exactly one)."""
    found = [r["params"] for r in records if r["type"] == "hparams"]
    assert len(found) == 1
    return found[0]


def logged_metrics(records: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Return ``[(step, metrics)]`` in logging order."""
    return [(r["step"], r["metrics"]) for r in records if r["type"] == "metrics"]


def expected_by_name(records: list[dict[str, Any]]) -> dict[str, dict[int, float]]:
    """Return ``{name: {step: value}}`` as a backend should hold it."""
    result: dict[str, dict[int, float]] = {}
    for step, metrics in logged_metrics(records):
        for name, value in metrics.items():
            result.setdefault(name, {})[step] = float(value)
    return result


def check_schedule(records: list[dict[str, Any]]) -> None:
    """Check the trainer's own schedule: epoch metrics per epoch, loss_step every N steps."""
    metrics = logged_metrics(records)
    epoch_steps = [step for step, m in metrics if "epoch" in m]
    step_steps = [step for step, m in metrics if "train/loss_step" in m]
    finished_epochs = len(epoch_steps)
    assert epoch_steps == [BATCHES_PER_EPOCH * (e + 1) for e in range(finished_epochs)]
    last_step = max((step for step, _ in metrics), default=0)
    assert step_steps == list(range(LOG_EVERY, last_step + 1, LOG_EVERY))
    for _, m in metrics:
        if "epoch" in m:
            assert {"train/loss", "learning_rate", "val/loss", MONITOR, "epoch"} <= set(m)


def assert_scalars_match(actual: Mapping[str, Mapping[int, float]], records: list[dict[str, Any]],
                         *, rel: float = 1e-6) -> None:
    """Assert a backend holds exactly the JSONL's metric names, at the same steps and values."""
    expected = expected_by_name(records)
    assert set(actual) == set(expected)
    for name, by_step in expected.items():
        assert set(actual[name]) == set(by_step), name
        for step, value in by_step.items():
            assert actual[name][step] == pytest.approx(value, rel=rel, abs=1e-7), (name, step)


def flat_hparams(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``params`` as the tensorboardX logger writes them (flattened, scalars only)."""
    return flatten_params(params)


def none_as_string(value: Any) -> Any:
    """Return ``value`` with every ``None`` turned into ``"None"`` (what SwanLabLogger stores)."""
    if value is None:
        return "None"
    if isinstance(value, Mapping):
        return {k: none_as_string(v) for k, v in value.items()}
    if isinstance(value, list):
        return [none_as_string(v) for v in value]
    return value


def finite(value: float) -> bool:
    """Return whether ``value`` is a finite number."""
    return math.isfinite(value)


LoggerFactory = Callable[..., Any]
