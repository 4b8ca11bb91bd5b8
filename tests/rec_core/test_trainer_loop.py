"""Behaviour of ``BaseTrainer.fit``: early stopping, best weights, top-k files, schedulers,
accumulation, precision, clipping, callbacks, errors and the torch-rechub/RecBole APIs.

Logger lifecycle tests live in ``test_trainer_loggers.py``; resume-after-kill tests in
``test_trainer_resume.py``.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rec_core.callbacks import Callback
from rec_core.checkpoint import load_checkpoint
from rec_core.data import ColumnarLoader
from rec_core.errors import CheckpointError, ConfigError

from .trainer_fixtures import (
    ClickTrainer,
    DropoutMLP,
    Logistic,
    RecordingLogger,
    ScriptedTrainer,
    StatusLogger,
    WeightRecorder,
    click_data,
    loaders,
    same_weights,
    settings,
    snapshot,
)


def _index(tmp_path) -> dict[str, Any]:
    return json.loads((tmp_path / "ckpt" / "checkpoints.json").read_text())


# -- 1. early stopping and the best weights ---------------------------------------------
def test_early_stopping_stops_after_patience_and_restores_best_checkpoint(tmp_path):
    scores = [0.50, 0.70, 0.60, 0.65, 0.69, 0.95, 0.99]  # best at epoch 1, then 3 misses
    recorder = WeightRecorder()
    torch.manual_seed(0)
    trainer = ScriptedTrainer(
        DropoutMLP(),
        scores,
        callbacks=[recorder],
        **settings(tmp_path, monitor="val/auc", early_stopping_patience=3, max_epochs=7),
    )
    train, val = loaders()

    best_score, best_result = trainer.fit(train, val, verbose=False)

    assert recorder.epochs == [0, 1, 2, 3, 4]  # two improvements + exactly `patience` misses
    assert trainer.should_stop
    assert best_score == pytest.approx(0.70)
    assert best_result is not None
    assert best_result["val/auc"] == pytest.approx(0.70)
    assert set(best_result) == {"val/auc", "val/loss"}

    index = _index(tmp_path)
    assert index["monitor"] == "val/auc" and index["mode"] == "max"
    assert index["best_score"] == pytest.approx(0.70)
    best = torch.load(tmp_path / "ckpt" / index["best"], weights_only=True)
    last = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert best["epoch"] == 1 and last["epoch"] == 4
    assert same_weights(best["model"], recorder.at_validation[1])
    assert same_weights(trainer.model.state_dict(), best["model"])
    assert not same_weights(trainer.model.state_dict(), last["model"])
    assert same_weights(last["model"], recorder.at_validation[4])


def test_best_weights_are_kept_in_memory_when_nothing_is_saved(tmp_path):
    scores = [0.50, 0.80, 0.60, 0.70, 0.75]
    recorder = WeightRecorder()
    torch.manual_seed(0)
    trainer = ScriptedTrainer(
        DropoutMLP(),
        scores,
        callbacks=[recorder],
        **settings(tmp_path, monitor="val/auc", early_stopping_patience=3, max_epochs=5),
    )
    train, val = loaders()

    best_score, best_result = trainer.fit(train, val, verbose=False, saved=False)

    assert recorder.epochs == [0, 1, 2, 3, 4]
    assert (best_score, best_result["val/auc"]) == (pytest.approx(0.80), pytest.approx(0.80))
    assert same_weights(trainer.model.state_dict(), recorder.at_validation[1])
    assert not same_weights(trainer.model.state_dict(), recorder.at_validation[4])
    assert not (tmp_path / "ckpt").exists()  # saved=False writes no file at all


@pytest.mark.parametrize("saved", [True, False])
def test_best_weights_are_restored_when_the_last_epoch_did_not_validate(tmp_path, saved):
    # Validation runs after epochs 1 and 3 only; epoch 3 is best, then epoch 4 trains unvalidated.
    scores = [None, 0.60, None, 0.90, None]
    recorder = WeightRecorder()
    torch.manual_seed(0)
    trainer = ScriptedTrainer(
        DropoutMLP(),
        scores,
        callbacks=[recorder],
        **settings(tmp_path, monitor="val/auc", check_val_every_n_epoch=2, max_epochs=5),
    )
    train, val = loaders()

    best_score, _ = trainer.fit(train, val, verbose=False, saved=saved)

    assert sorted(recorder.at_validation) == [1, 3] and recorder.epochs[-1] == 4
    assert best_score == pytest.approx(0.90)
    assert same_weights(trainer.model.state_dict(), recorder.at_validation[3])


# -- 2. top-k retention ----------------------------------------------------------------
def test_save_top_k_keeps_exactly_the_k_best_epochs_plus_last_and_index(tmp_path):
    scores = [0.10, 0.50, 0.30, 0.90, 0.20]
    torch.manual_seed(0)
    trainer = ScriptedTrainer(Logistic(), scores, **settings(tmp_path, monitor="val/auc", save_top_k=2, max_epochs=5))
    train, val = loaders(n_train=64, batch_size=16)
    steps = len(train)

    trainer.fit(train, val, verbose=False)

    best_name, second_name = f"epoch=3-step={4 * steps}.ckpt", f"epoch=1-step={2 * steps}.ckpt"
    on_disk = {p.name for p in (tmp_path / "ckpt").iterdir()}
    assert on_disk == {best_name, second_name, "last.ckpt", "checkpoints.json"}  # no temp files either
    index = _index(tmp_path)
    assert index["best"] == best_name
    assert [e["path"] for e in index["top_k"]] == [best_name, second_name]
    assert [e["score"] for e in index["top_k"]] == pytest.approx([0.90, 0.50])
    assert index["last"] == "last.ckpt"
    assert torch.load(tmp_path / "ckpt" / second_name, weights_only=True)["epoch"] == 1
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["epoch"] == 4


# -- 3. learning-rate schedulers ----------------------------------------------------------
def _logged_lrs(logger: RecordingLogger) -> list[float]:
    return [metrics["learning_rate"] for metrics, _ in logger.epoch_records()]


class LearningRateRecorder(Callback):
    """Record the learning rate each training batch runs with."""

    def __init__(self) -> None:
        self.per_batch: list[float] = []

    def on_train_batch_start(self, trainer, batch, batch_idx):
        self.per_batch.append(trainer.learning_rate)


def test_step_lr_steps_once_per_epoch(tmp_path):
    logger = RecordingLogger()
    trainer = ClickTrainer(
        Logistic(),
        model_logger=logger,
        **settings(tmp_path, scheduler="StepLR", scheduler_params={"step_size": 1, "gamma": 0.5}, max_epochs=3),
    )
    train, _ = loaders()

    trainer.fit(train, verbose=False, saved=False)

    # each epoch logs the rate it trained with; the scheduler then halves it
    assert _logged_lrs(logger) == pytest.approx([0.1, 0.05, 0.025])
    assert trainer.learning_rate == pytest.approx(0.0125)
    assert type(trainer.scheduler) is torch.optim.lr_scheduler.StepLR


def test_step_interval_scheduler_steps_once_per_optimizer_step(tmp_path):
    logger, lrs = RecordingLogger(), LearningRateRecorder()
    trainer = ClickTrainer(
        Logistic(),
        model_logger=logger,
        callbacks=[lrs],
        scheduler_fn=torch.optim.lr_scheduler.LambdaLR,
        **settings(
            tmp_path,
            scheduler_params={"lr_lambda": lambda step: 0.5**step},
            scheduler_interval="step",
            accumulate_grad_batches=2,
            max_epochs=2,
        ),
    )
    train, _ = loaders(n_train=64, batch_size=16)  # 4 batches = 2 optimizer steps per epoch

    trainer.fit(train, verbose=False, saved=False)

    assert trainer.global_step == 4
    assert lrs.per_batch == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125])
    assert _logged_lrs(logger) == pytest.approx([0.1 * 0.5**2, 0.1 * 0.5**4])
    assert trainer.learning_rate == pytest.approx(0.1 * 0.5**4)


def test_lambda_lr_from_scheduler_fn_does_not_break_checkpoints(tmp_path):
    # the lambda lives in config.scheduler_params; the checkpoint must still be plain data
    def make():
        return ClickTrainer(
            Logistic(),
            scheduler_fn=torch.optim.lr_scheduler.LambdaLR,
            **settings(tmp_path, scheduler_params={"lr_lambda": lambda epoch: 0.5**epoch}, max_epochs=2),
        )

    trainer = make()
    trainer.fit(loaders()[0], verbose=False)

    last = load_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    assert last["epoch"] == 1
    resumed = make()
    resumed.resume_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    assert resumed.learning_rate == pytest.approx(trainer.learning_rate) == pytest.approx(0.025)


def test_one_cycle_lr_by_name_runs_exactly_its_total_steps(tmp_path):
    lrs = LearningRateRecorder()
    total = 6  # 3 epochs x 2 optimizer steps; one more step would make OneCycleLR raise
    trainer = ClickTrainer(
        Logistic(),
        callbacks=[lrs],
        **settings(
            tmp_path,
            scheduler="OneCycleLR",
            scheduler_interval="step",
            accumulate_grad_batches=2,
            scheduler_params={"max_lr": 0.5, "total_steps": total, "pct_start": 0.5, "cycle_momentum": False},
            max_epochs=3,
        ),
    )
    train, _ = loaders(n_train=64, batch_size=16)

    trainer.fit(train, verbose=False, saved=False)

    assert trainer.global_step == total
    per_step = lrs.per_batch[::2]
    assert per_step[0] == pytest.approx(0.5 / 25)  # OneCycleLR starts at max_lr / div_factor
    assert max(per_step) == pytest.approx(0.5)
    assert per_step.index(max(per_step)) == 2  # warm-up over the first half, then anneal


def test_reduce_lr_on_plateau_steps_with_the_monitored_metric(tmp_path):
    logger = RecordingLogger()
    scores = [0.50, 0.60, 0.60, 0.60, 0.70]  # plateaus after epochs 2 and 3
    trainer = ScriptedTrainer(
        Logistic(),
        scores,
        model_logger=logger,
        **settings(
            tmp_path,
            monitor="val/auc",
            scheduler="ReduceLROnPlateau",
            scheduler_params={"mode": "max", "factor": 0.5, "patience": 0},
            max_epochs=5,
        ),
    )
    train, val = loaders()

    trainer.fit(train, val, verbose=False, saved=False)

    # stepped with val/auc; stepping with the (falling) train loss would halve it every epoch
    assert _logged_lrs(logger) == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.025])
    assert trainer.learning_rate == pytest.approx(0.025)


def test_reduce_lr_on_plateau_ignores_epochs_without_validation(tmp_path):
    logger = RecordingLogger()
    scores = [None, 0.50, None, 0.60, None, 0.60]  # validated after epochs 1, 3, 5 only
    trainer = ScriptedTrainer(
        Logistic(),
        scores,
        model_logger=logger,
        **settings(
            tmp_path,
            monitor="val/auc",
            scheduler="ReduceLROnPlateau",
            check_val_every_n_epoch=2,
            scheduler_params={"mode": "max", "factor": 0.5, "patience": 0},
            max_epochs=6,
        ),
    )
    train, val = loaders()

    trainer.fit(train, val, verbose=False, saved=False)

    # val/auc improves at epoch 3 and plateaus at epoch 5: one reduction, after the last epoch;
    # the train loss of unvalidated epochs must not be compared with AUC values
    assert _logged_lrs(logger) == pytest.approx([0.1] * 6)
    assert trainer.learning_rate == pytest.approx(0.05)


# -- 4. gradient accumulation ---------------------------------------------------------------
def test_gradient_accumulation_equals_the_large_batch_step(tmp_path):
    torch.manual_seed(0)
    start = Logistic()
    x, y = click_data(32)
    small = ClickTrainer(copy.deepcopy(start), **settings(tmp_path, accumulate_grad_batches=2, max_epochs=1))
    large = ClickTrainer(copy.deepcopy(start), **settings(tmp_path, max_epochs=1))

    small.fit(ColumnarLoader(x, y, batch_size=16), verbose=False, saved=False)
    large.fit(ColumnarLoader(x, y, batch_size=32), verbose=False, saved=False)

    assert small.global_step == large.global_step == 1
    assert not same_weights(large.model.state_dict(), start.state_dict())
    for name, expected in large.model.state_dict().items():
        torch.testing.assert_close(small.model.state_dict()[name], expected, rtol=1e-6, atol=1e-7)


def test_partial_accumulation_window_at_epoch_end_still_steps(tmp_path):
    x, y = click_data(48)
    trainer = ClickTrainer(Logistic(), **settings(tmp_path, accumulate_grad_batches=2, max_epochs=2))

    trainer.fit(ColumnarLoader(x, y, batch_size=16), verbose=False, saved=False)  # 3 batches per epoch

    assert trainer.global_step == 4  # [b0 b1] [b2] per epoch: the leftover batch is not dropped
    assert all(p.grad is None for p in trainer.model.parameters())  # nothing leaks into the next epoch


# -- 5. precision and gradient clipping -------------------------------------------------------
class DtypeRecorder(ClickTrainer):
    """Record the dtype of the model output inside ``training_step``."""

    def training_step(self, batch):
        x, y = batch
        logits = self.network(x)
        self.seen_dtypes = {*getattr(self, "seen_dtypes", set()), logits.dtype}
        return F.binary_cross_entropy_with_logits(logits.float(), y)


def test_bf16_autocast_trains_on_cpu(tmp_path):
    logger = RecordingLogger()
    torch.manual_seed(0)
    model = DropoutMLP()
    before = snapshot(model)
    trainer = DtypeRecorder(model, model_logger=logger, **settings(tmp_path, precision="bf16", max_epochs=2))
    train, val = loaders()

    trainer.fit(train, val, verbose=False, saved=False)

    assert trainer.seen_dtypes == {torch.bfloat16}  # the forward pass really ran under autocast
    assert all(p.dtype is torch.float32 for p in trainer.model.parameters())  # master weights stay fp32
    losses = [m["train/loss"] for m, _ in logger.epoch_records()] + [m["val/loss"] for m, _ in logger.epoch_records()]
    assert all(math.isfinite(v) for v in losses)
    assert not same_weights(trainer.model.state_dict(), before)


def _one_sgd_step(tmp_path, **overrides):
    torch.manual_seed(0)
    model = Logistic()
    before = snapshot(model)
    x, y = click_data(16)
    y = 1.0 - y  # wrong labels: large gradients
    trainer = ClickTrainer(model, **settings(tmp_path, learning_rate=1.0, max_epochs=1, **overrides))
    trainer.fit(ColumnarLoader(x, y, batch_size=16), verbose=False, saved=False)
    after = trainer.model.state_dict()
    return torch.cat([(after[k] - before[k]).flatten() for k in before])


def test_gradient_clipping_by_norm_caps_the_update(tmp_path):
    unclipped = _one_sgd_step(tmp_path)
    clipped = _one_sgd_step(tmp_path, gradient_clip_val=0.01)

    assert unclipped.norm() > 0.1  # the cap below is binding
    assert clipped.norm() <= 0.01 + 1e-6
    assert clipped.norm() == pytest.approx(0.01, rel=1e-4)
    torch.testing.assert_close(clipped / clipped.norm(), unclipped / unclipped.norm())  # direction kept


def test_gradient_clipping_by_value_caps_each_component(tmp_path):
    clipped = _one_sgd_step(tmp_path, gradient_clip_val=0.01, gradient_clip_algorithm="value")

    assert clipped.abs().max() <= 0.01 + 1e-7
    assert clipped.abs().max() == pytest.approx(0.01)


# -- 7. callback_fn and the RecBole fit signature --------------------------------------------
def test_callback_fn_receives_epoch_and_score_after_each_validation(tmp_path):
    scores = [0.3, 0.6, 0.4]
    calls: list[tuple[int, float]] = []
    trainer = ScriptedTrainer(Logistic(), scores, **settings(tmp_path, monitor="val/auc", max_epochs=3))
    train, val = loaders()

    trainer.fit(train, val, verbose=False, saved=False, callback_fn=lambda epoch, score: calls.append((epoch, score)))

    assert calls == [(0, pytest.approx(0.3)), (1, pytest.approx(0.6)), (2, pytest.approx(0.4))]


def test_recbole_fit_without_validation_returns_no_best_result(tmp_path):
    calls = []
    torch.manual_seed(0)
    model = Logistic()
    before = snapshot(model)
    trainer = ClickTrainer(model, **settings(tmp_path, max_epochs=2))
    train, _ = loaders()

    result = trainer.fit(
        train, None, verbose=False, saved=False, show_progress=False, callback_fn=lambda *a: calls.append(a)
    )

    assert result == (-1, None)
    assert calls == []
    assert trainer.current_epoch == 2 and trainer.global_step == 2 * len(train)
    assert not same_weights(trainer.model.state_dict(), before)
    assert not (tmp_path / "ckpt").exists()


def test_fit_without_validation_but_saved_writes_only_last_checkpoint(tmp_path):
    trainer = ClickTrainer(Logistic(), **settings(tmp_path, max_epochs=2))
    train, _ = loaders()

    assert trainer.fit(train, verbose=False) == (-1, None)

    assert {p.name for p in (tmp_path / "ckpt").iterdir()} == {"last.ckpt", "checkpoints.json"}
    assert _index(tmp_path)["best"] is None
    last = load_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    assert last["epoch"] == 1 and same_weights(last["model"], trainer.model.state_dict())


# -- 8. errors ------------------------------------------------------------------------
def _trained_checkpoint(tmp_path, model: nn.Module):
    trainer = ClickTrainer(model, **settings(tmp_path, max_epochs=1))
    trainer.fit(loaders()[0], verbose=False)
    return tmp_path / "ckpt" / "last.ckpt"


def test_resume_from_a_truncated_checkpoint_names_the_file(tmp_path):
    last = _trained_checkpoint(tmp_path, Logistic())
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])
    trainer = ClickTrainer(Logistic(), **settings(tmp_path))

    with pytest.raises(CheckpointError) as info:
        trainer.resume_checkpoint(last)

    assert str(last) in str(info.value)
    assert "truncated or corrupt" in str(info.value)


@pytest.mark.parametrize(
    ("other", "detail"),
    [(DropoutMLP(), "missing: mlp.0.weight, mlp.0.bias"),
     (Logistic(n_features=3), "shape: linear.weight (1, 4) vs (1, 3)")],
    ids=["other-layers", "other-shapes"],
)
def test_resume_from_another_architecture_says_what_differs(tmp_path, other, detail):
    last = _trained_checkpoint(tmp_path, Logistic())
    trainer = ClickTrainer(other, **settings(tmp_path))

    with pytest.raises(CheckpointError) as info:
        trainer.resume_checkpoint(last)

    message = str(info.value)
    assert str(last) in message
    assert type(other).__name__ in message
    assert detail in message.lower()


@pytest.mark.parametrize(
    ("monitor", "mode"), [("val/auc", None), ("val/my_score", "max")], ids=["known-metric", "custom-with-mode"]
)
def test_monitor_the_trainer_does_not_compute_is_a_config_error(tmp_path, monitor, mode):
    logger = StatusLogger()
    trainer = ClickTrainer(
        Logistic(), model_logger=logger, **settings(tmp_path, monitor=monitor, mode=mode, early_stopping_patience=2)
    )
    train, val = loaders()

    with pytest.raises(ConfigError) as info:
        trainer.fit(train, val, verbose=False, saved=False)

    message = str(info.value)
    assert monitor in message
    assert "val/loss" in message  # what the trainer does compute
    assert logger.calls[-1] == ("finish", "failed")


class MyScoreTrainer(ClickTrainer):
    """Declares a metric of its own, whose direction rec cannot know."""

    batch_metrics = ("loss", "my_score")

    def compute_metrics(self, outputs):
        return {**super().compute_metrics(outputs), "my_score": 0.5}


def test_monitor_of_unknown_direction_without_mode_is_a_config_error_before_training(tmp_path):
    logger = StatusLogger()
    trainer = MyScoreTrainer(
        Logistic(), model_logger=logger, **settings(tmp_path, monitor="val/my_score", early_stopping_patience=2)
    )
    train, val = loaders()

    with pytest.raises(ConfigError) as info:
        trainer.fit(train, val, verbose=False, saved=False)

    assert "val/my_score" in str(info.value) and "mode" in str(info.value)
    assert trainer.global_step == 0  # found at fit start, not after an epoch
    assert logger.calls[-1] == ("finish", "failed")  # set-up errors finish the loggers too


def test_unknown_optimizer_name_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        ClickTrainer(Logistic(), **settings(tmp_path, optimizer="Adamm"))

    assert "'Adamm'" in str(info.value)
    assert "Adam" in str(info.value).split("'Adamm'")[1]  # the valid names are listed


# -- 9. RecBole-style _train_epoch override ---------------------------------------------------
class TwoTower(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.left, self.right = nn.Linear(2, 1), nn.Linear(2, 1)

    def forward(self, x):
        return (self.left(x["f"][:, :2]) + self.right(x["f"][:, 2:])).squeeze(-1)


class AlternatingTrainer(ClickTrainer):
    """Step the left tower on even batches and the right tower on odd ones (RecBole style)."""

    def configure_optimizers(self):
        return [
            torch.optim.Adam(self.model.left.parameters(), lr=0.05),
            torch.optim.Adam(self.model.right.parameters(), lr=0.05),
        ]

    def _train_epoch(self, train_data, epoch_idx, show_progress=False):
        self.network.train()
        total = 0.0
        for batch_idx, batch in enumerate(train_data):
            optimizer = self.optimizers[batch_idx % 2]
            optimizer.zero_grad()
            loss = self.training_step(batch)
            loss.backward()
            optimizer.step()
            self.global_step += 1
            total += float(loss.detach())
        return total / len(train_data)


def test_recbole_train_epoch_override_runs_through_fit_with_checkpoints(tmp_path):
    torch.manual_seed(0)
    model = TwoTower()
    before = snapshot(model)
    trainer = AlternatingTrainer(model, **settings(tmp_path, max_epochs=2, save_top_k=1))
    train, val = loaders(n_train=64, batch_size=16)

    best_score, best_result = trainer.fit(train, val, verbose=False)

    assert best_result is not None and best_score == best_result["val/loss"]
    after = trainer.model.state_dict()
    assert all(not torch.equal(after[k], before[k]) for k in before)  # both towers trained
    last = load_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    assert last["epoch"] == 1 and last["global_step"] == 8
    steps = [[int(s["step"]) for s in opt["state"].values()] for opt in last["optimizers"]]
    assert steps == [[4, 4], [4, 4]]  # 8 batches, alternating: 4 Adam steps per tower
    assert _index(tmp_path)["best"] is not None

    again = AlternatingTrainer(TwoTower(), **settings(tmp_path, max_epochs=3))
    again.resume_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    assert again.current_epoch == 2 and again.global_step == 8
    assert same_weights(again.model.state_dict(), last["model"])


# -- 10. torch-rechub keyword arguments --------------------------------------------------------
def test_torch_rechub_keyword_arguments_map_onto_config_and_optimizer(tmp_path):
    trainer = ClickTrainer(
        Logistic(),
        n_epoch=3,
        earlystop_patience=2,
        optimizer_fn=torch.optim.SGD,
        optimizer_params={"lr": 0.05, "weight_decay": 1e-4, "momentum": 0.9},
        scheduler_fn=torch.optim.lr_scheduler.StepLR,
        scheduler_params={"step_size": 2, "gamma": 0.5},
        device="cpu",
        model_path=str(tmp_path),
        progress_bar=False,
    )

    config = trainer.config
    assert (config.max_epochs, config.early_stopping_patience) == (3, 2)
    assert (config.learning_rate, config.weight_decay) == (0.05, 1e-4)
    assert config.optimizer_params == {"momentum": 0.9}
    assert config.scheduler_params == {"step_size": 2, "gamma": 0.5}
    assert config.device == "cpu" and trainer.device == torch.device("cpu")
    assert config.checkpoint_dir == str(tmp_path)
    assert type(trainer.optimizer) is torch.optim.SGD
    (group,) = trainer.optimizer.param_groups
    assert (group["lr"], group["weight_decay"], group["momentum"]) == (0.05, 1e-4, 0.9)
    assert type(trainer.scheduler) is torch.optim.lr_scheduler.StepLR
    assert (trainer.scheduler.step_size, trainer.scheduler.gamma) == (2, 0.5)

    train, val = loaders()
    trainer.fit(train, val, verbose=False)

    assert trainer.current_epoch == 3
    assert (tmp_path / "last.ckpt").is_file()  # model_path is where checkpoints go
    assert trainer.learning_rate == pytest.approx(0.05 * 0.5)  # StepLR(step_size=2) after 3 epochs
