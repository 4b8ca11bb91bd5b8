"""How ``BaseTrainer.fit`` drives loggers: hyperparameters once, metrics per epoch and per
N steps, ``finish`` exactly once however the run ends (success, error, Ctrl-C)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import DataLoader

from rec_core.callbacks import Callback
from rec_core.checkpoint import load_checkpoint
from rec_core.data import ColumnarLoader, TorchDataset
from rec_core.loggers import JsonlLogger, read_metrics_jsonl

from .trainer_fixtures import (
    ClickTrainer,
    DropoutMLP,
    Logistic,
    RecordingLogger,
    ScriptedTrainer,
    StatusLogger,
    click_data,
    loaders,
    same_weights,
    settings,
)

SCORES = [0.6, 0.7, 0.65]


def _scripted(tmp_path, **kwargs) -> ScriptedTrainer:
    return ScriptedTrainer(Logistic(), SCORES, **settings(tmp_path, monitor="val/auc", max_epochs=3, **kwargs))


class FailingTrainer(ClickTrainer):
    """Raise ``error`` from ``training_step`` once ``global_step`` reaches ``fail_at``."""

    def __init__(self, model, *, fail_at=None, error=RuntimeError("boom"), **kwargs):
        super().__init__(model, **kwargs)
        self.fail_at, self.error = fail_at, error

    def training_step(self, batch):
        if self.fail_at is not None and self.global_step == self.fail_at:
            self.fail_at = None
            raise self.error
        return super().training_step(batch)


class LossRecorder(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, outputs, batch, batch_idx):
        self.losses.append(float(outputs))


# -- success ------------------------------------------------------------------------------
def test_model_logger_gets_hparams_once_epoch_metrics_and_one_finish(tmp_path):
    logger = RecordingLogger()
    trainer = _scripted(tmp_path, model_logger=logger, log_every_n_steps=0)
    train, val = loaders(n_train=64, batch_size=16)

    trainer.fit(train, val, verbose=False)

    kinds = logger.kinds()
    assert kinds[0] == "hparams" and kinds.count("hparams") == 1
    assert kinds[-1] == "finish" and kinds.count("finish") == 1
    hparams = logger.calls[0][1]
    assert hparams["max_epochs"] == 3 and hparams["learning_rate"] == 0.1 and hparams["monitor"] == "val/auc"
    assert hparams["trainer"] == "ScriptedTrainer" and hparams["model"] == "Logistic"
    assert hparams["num_parameters"] == 5

    records = logger.epoch_records()
    assert [m["epoch"] for m, _ in records] == [0, 1, 2]
    assert [step for _, step in records] == [4, 8, 12]  # stamped with the global step
    for metrics, _ in records:
        assert {"train/loss", "learning_rate", "val/auc", "val/loss", "epoch"} <= set(metrics)
        assert math.isfinite(metrics["train/loss"]) and metrics["train/loss"] > 0
        assert metrics["learning_rate"] == pytest.approx(0.1)
    assert [m["val/auc"] for m, _ in records] == pytest.approx(SCORES)
    assert logger.step_records() == []  # log_every_n_steps=0: no per-step records


def test_every_logger_of_a_list_gets_the_same_calls(tmp_path):
    seed_style, rec_style = RecordingLogger(), StatusLogger()
    trainer = _scripted(tmp_path, loggers=[seed_style, rec_style], log_every_n_steps=3)
    train, val = loaders()

    trainer.fit(train, val, verbose=False, saved=False)

    assert seed_style.calls[:-1] == rec_style.calls[:-1]
    assert len(seed_style.epoch_records()) == 3 and len(seed_style.step_records()) == 4
    assert seed_style.calls[-1] == ("finish",)
    assert rec_style.calls[-1] == ("finish", "success")


def test_log_every_n_steps_logs_at_the_right_global_steps(tmp_path):
    logger, recorder = RecordingLogger(), LossRecorder()
    trainer = ClickTrainer(
        Logistic(), model_logger=logger, callbacks=[recorder], **settings(tmp_path, log_every_n_steps=2, max_epochs=2)
    )
    train, _ = loaders(n_train=48, batch_size=16)  # 3 steps per epoch: steps 1..6

    trainer.fit(train, verbose=False, saved=False)

    records = logger.step_records()
    assert [step for _, step in records] == [2, 4, 6]
    for metrics, step in records:
        assert set(metrics) == {"train/loss_step", "learning_rate"}
        assert metrics["train/loss_step"] == pytest.approx(recorder.losses[step - 1])  # that step's loss


def test_step_logs_count_optimizer_steps_under_accumulation(tmp_path):
    logger = RecordingLogger()
    trainer = ClickTrainer(
        Logistic(),
        model_logger=logger,
        **settings(tmp_path, log_every_n_steps=1, accumulate_grad_batches=2, max_epochs=2),
    )
    train, _ = loaders(n_train=64, batch_size=16)  # 4 batches = 2 optimizer steps per epoch

    trainer.fit(train, verbose=False, saved=False)

    assert [step for _, step in logger.step_records()] == [1, 2, 3, 4]
    assert [step for _, step in logger.epoch_records()] == [2, 4]


def test_no_loggers_is_fine(tmp_path):
    trainer = _scripted(tmp_path, loggers=None)
    train, val = loaders()

    best_score, _ = trainer.fit(train, val, verbose=False, saved=False)

    assert not trainer.loggers and len(trainer.loggers) == 0
    assert best_score == pytest.approx(0.7)


def test_jsonl_logger_run_reads_back_the_same_values(tmp_path):
    recorder = RecordingLogger()
    trainer = _scripted(tmp_path, loggers=[JsonlLogger(tmp_path / "logs"), recorder], log_every_n_steps=2)
    train, val = loaders()

    trainer.fit(train, val, verbose=False, saved=False)

    records = read_metrics_jsonl(tmp_path / "logs")
    assert (tmp_path / "logs" / "metrics.jsonl").is_file()
    assert [r["type"] for r in records] == ["hparams"] + ["metrics"] * (len(recorder.calls) - 2) + ["finish"]
    assert records[0]["params"]["max_epochs"] == 3 and records[0]["params"]["monitor"] == "val/auc"
    written = [(r["metrics"], r["step"]) for r in records if r["type"] == "metrics"]
    assert written == [(c[1], c[2]) for c in recorder.calls if c[0] == "metrics"]  # exact round trip
    assert [m["val/auc"] for m, _ in written if "epoch" in m] == pytest.approx(SCORES)
    assert records[-1] == {"type": "finish", "status": "success"}


# -- failure and interruption ----------------------------------------------------------------
def test_error_in_training_step_finishes_loggers_once_as_failed(tmp_path):
    seed_style, rec_style = RecordingLogger(), StatusLogger()
    trainer = FailingTrainer(Logistic(), fail_at=6, loggers=[seed_style, rec_style], **settings(tmp_path, max_epochs=3))
    train, val = loaders(n_train=64, batch_size=16)  # step 6 is the third batch of epoch 1

    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(train, val, verbose=False)

    assert seed_style.kinds().count("hparams") == 1
    assert seed_style.kinds().count("finish") == 1 and seed_style.calls[-1] == ("finish",)
    assert rec_style.kinds().count("finish") == 1 and rec_style.calls[-1] == ("finish", "failed")
    assert [m["epoch"] for m, _ in rec_style.epoch_records()] == [0]


def test_keyboard_interrupt_saves_last_checkpoint_and_finishes_as_interrupted(tmp_path):
    seed_style, rec_style = RecordingLogger(), StatusLogger()
    trainer = FailingTrainer(
        Logistic(),
        fail_at=5,
        error=KeyboardInterrupt(),
        loggers=[seed_style, rec_style],
        **settings(tmp_path, max_epochs=3),
    )
    train, val = loaders(n_train=64, batch_size=16)  # step 5: epoch 1, after its first batch

    with pytest.raises(KeyboardInterrupt):
        trainer.fit(train, val, verbose=False)

    assert seed_style.calls[-1] == ("finish",) and seed_style.kinds().count("finish") == 1
    assert rec_style.calls[-1] == ("finish", "interrupted") and rec_style.kinds().count("finish") == 1
    last = load_checkpoint(tmp_path / "ckpt" / "last.ckpt")  # written at the interrupt, not at epoch 0's end
    assert (last["epoch"], last["global_step"], last["batch_in_epoch"]) == (1, 5, 1)
    assert last["epoch_complete"] is False
    assert same_weights(last["model"], trainer.model.state_dict())


@pytest.mark.parametrize("loader_kind", ["columnar", "dataloader"])
def test_resume_after_keyboard_interrupt_continues_the_same_run(tmp_path, loader_kind):
    x, y = click_data(64)

    def train_loader():
        if loader_kind == "columnar":
            return ColumnarLoader(x, y, batch_size=16, shuffle=True, seed=3)
        return DataLoader(TorchDataset(x, y), batch_size=16, shuffle=True)

    def trainer(directory, fail_at=None):
        torch.manual_seed(0)
        return FailingTrainer(
            DropoutMLP(),
            fail_at=fail_at,
            error=KeyboardInterrupt(),
            **settings(tmp_path, checkpoint_dir=str(tmp_path / directory), max_epochs=3),
        )

    reference = trainer("reference")
    reference.fit(train_loader(), verbose=False)

    interrupted = trainer("run", fail_at=6)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(train_loader(), verbose=False)
    resumed = trainer("run")
    resumed.resume_checkpoint(tmp_path / "run" / "last.ckpt")
    resumed.fit(train_loader(), verbose=False)

    assert resumed.global_step == reference.global_step == 12
    assert same_weights(resumed.model.state_dict(), reference.model.state_dict())


def test_an_explicit_loggers_wins_over_torch_rechubs_model_logger(tmp_path):
    kept, ignored = RecordingLogger(), RecordingLogger()
    trainer = ClickTrainer(Logistic(), loggers=[kept], model_logger=ignored, **settings(tmp_path))
    assert trainer.loggers.loggers == (kept,)
    assert ClickTrainer(Logistic(), model_logger=ignored, **settings(tmp_path)).loggers.loggers == (ignored,)
