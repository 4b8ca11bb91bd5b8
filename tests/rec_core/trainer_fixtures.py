"""Small models, trainers, loggers and data shared by the training-loop tests.

Everything here is CPU-sized: a four-feature click data set, a logistic model and an
MLP with dropout, a trainer whose validation score follows a script, and recorders that
keep what the loop did (weights per validation, learning rates per batch, logger calls).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rec_core import BaseTrainer
from rec_core.callbacks import Callback
from rec_core.data import ColumnarLoader
from rec_core.loggers import BaseLogger

N_FEATURES = 4


class Logistic(nn.Module):
    """Logistic regression on ``batch["f"]`` (deterministic: no dropout)."""

    def __init__(self, n_features: int = N_FEATURES) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.linear(x["f"]).squeeze(-1)


class DropoutMLP(nn.Module):
    """A two-layer MLP with dropout, so training consumes the RNG."""

    def __init__(self, n_features: int = N_FEATURES, hidden: int = 8) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, 1))

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.mlp(x["f"]).squeeze(-1)


class ClickTrainer(BaseTrainer):
    """Binary cross-entropy on ``(x_dict, y)`` batches, through ``self.network``."""

    def training_step(self, batch: Any) -> torch.Tensor:
        x, y = batch
        return F.binary_cross_entropy_with_logits(self.network(x), y)


class ScriptedTrainer(ClickTrainer):
    """Report ``val/auc = scores[current_epoch]`` (next to the real ``val/loss``)."""

    def __init__(self, model: nn.Module, scores: Sequence[float], **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.scores = list(scores)

    def compute_metrics(self, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        return {**super().compute_metrics(outputs), "auc": float(self.scores[self.current_epoch])}


def click_data(n: int, seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Return ``({"f": (n, 4) floats}, y)`` with a learnable linear rule and label noise."""
    gen = torch.Generator().manual_seed(seed)
    f = torch.randn(n, N_FEATURES, generator=gen)
    logits = f @ torch.tensor([1.5, -2.0, 0.5, 1.0]) + 0.5 * torch.randn(n, generator=gen)
    return {"f": f}, (logits > 0).float()


def loaders(
    n_train: int = 64, batch_size: int = 16, *, n_val: int = 32, shuffle: bool = True
) -> tuple[ColumnarLoader, ColumnarLoader]:
    """Return train and validation loaders over disjoint slices of :func:`click_data`."""
    x, y = click_data(n_train + n_val)
    train = ColumnarLoader({"f": x["f"][:n_train]}, y[:n_train], batch_size=batch_size, shuffle=shuffle, seed=5)
    val = ColumnarLoader({"f": x["f"][n_train:]}, y[n_train:], batch_size=n_val)
    return train, val


def settings(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """Return quiet, seeded, SGD trainer settings writing checkpoints under ``tmp_path``."""
    return {
        "optimizer": "SGD",
        "learning_rate": 0.1,
        "progress_bar": False,
        "random_seed": 0,
        "checkpoint_dir": str(tmp_path / "ckpt"),
        "early_stopping_patience": 0,
        **overrides,
    }


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """Return a detached CPU copy of ``model``'s state dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def same_weights(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> bool:
    """Return whether two state dicts hold the same keys and bit-identical tensors."""
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


class WeightRecorder(Callback):
    """Keep the model's weights at every validation, and the epochs that ended."""

    def __init__(self) -> None:
        self.at_validation: dict[int, dict[str, torch.Tensor]] = {}
        self.epochs: list[int] = []

    def on_validation_end(self, trainer: Any) -> None:
        self.at_validation[trainer.current_epoch] = snapshot(trainer.model)

    def on_train_epoch_end(self, trainer: Any) -> None:
        self.epochs.append(trainer.current_epoch)


class RecordingLogger(BaseLogger):
    """A logger with exactly torch-rechub's seed interface: ``finish()`` takes no status."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def log_metrics(self, metrics, step=None):  # the seed's untyped signature
        self.calls.append(("metrics", dict(metrics), step))

    def log_hyperparams(self, params):
        self.calls.append(("hparams", dict(params)))

    def finish(self):
        self.calls.append(("finish",))

    def kinds(self) -> list[str]:
        return [call[0] for call in self.calls]

    def epoch_records(self) -> list[tuple[dict[str, Any], int | None]]:
        """Return the per-epoch ``(metrics, step)`` records (those carrying ``epoch``)."""
        return [(c[1], c[2]) for c in self.calls if c[0] == "metrics" and "epoch" in c[1]]

    def step_records(self) -> list[tuple[dict[str, Any], int | None]]:
        """Return the per-step ``(metrics, step)`` records (those without ``epoch``)."""
        return [(c[1], c[2]) for c in self.calls if c[0] == "metrics" and "epoch" not in c[1]]


class StatusLogger(RecordingLogger):
    """A rec-style logger whose ``finish`` takes the run's final status."""

    def finish(self, status: str = "success") -> None:
        self.calls.append(("finish", status))
