"""All three loggers in one run (as torch-rechub's ``model_logger=[...]``), with BaseTrainer and CTRTrainer."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn

from rec_core.loggers import JsonlLogger, read_metrics_jsonl

from .readers import read_swanlab, read_tensorboardx, read_wandb
from .support import (
    SWANLAB_SETTINGS,
    WANDB_SETTINGS,
    FailingTrainer,
    assert_scalars_match,
    click_loaders,
    fit,
    flat_hparams,
    jsonl_records,
    logged_hparams,
    none_as_string,
    require_sdk,
)


@pytest.fixture
def three_loggers(tmp_path):
    for module in ("wandb", "swanlab", "tensorboardX"):
        require_sdk(module)
    from rec_tracking import SwanLabLogger, TensorBoardXLogger, WandbLogger

    return [
        TensorBoardXLogger(log_dir=tmp_path / "tb"),
        WandbLogger(project="rec-tests", dir=tmp_path / "wb", mode="offline", settings=WANDB_SETTINGS),
        SwanLabLogger(project="rec-tests", logdir=tmp_path / "sl", mode="offline", settings=SWANLAB_SETTINGS),
    ]


def _merged_wandb_scalars(run) -> dict[str, dict[int, float]]:
    scalars: dict[str, dict[int, float]] = {}
    for row in run.history:
        for key, value in row.items():
            if not key.startswith("_"):
                scalars.setdefault(key, {})[row["_step"]] = float(value)
    return scalars


def check_three(tmp_path, records, *, wandb_exit: int, swanlab_state: str, tb_status: str, status: str) -> None:
    hparams = logged_hparams(records)
    wb, sl, tb = read_wandb(tmp_path / "wb"), read_swanlab(tmp_path / "sl"), read_tensorboardx(tmp_path / "tb")
    assert wb.config == hparams and sl.config == none_as_string(hparams) and tb.hparams == flat_hparams(hparams)
    assert_scalars_match(_merged_wandb_scalars(wb), records, rel=1e-12)
    assert_scalars_match(sl.scalars, records, rel=1e-12)
    assert_scalars_match(tb.scalars, records)
    assert (wb.exit_code, sl.state, tb.session_status) == (wandb_exit, swanlab_state, tb_status)
    assert list(tb.texts["rec/status"].values()) == [status]
    assert records[-1] == {"type": "finish", "status": status}


def test_three_loggers_as_a_list_all_hold_the_same_run(tmp_path, three_loggers):
    records = fit(three_loggers, tmp_path)
    check_three(tmp_path, records, wandb_exit=0, swanlab_state="FINISHED", tb_status="STATUS_SUCCESS",
                status="success")


def test_a_failing_fit_finishes_every_logger_as_failed(tmp_path, three_loggers):
    with pytest.raises(RuntimeError, match="boom"):
        fit(three_loggers, tmp_path, trainer_cls=FailingTrainer, fail_at=5, error=RuntimeError("boom"))
    records = jsonl_records(tmp_path)
    assert max(r["step"] for r in records if r["type"] == "metrics") == 4  # died in the second epoch
    check_three(tmp_path, records, wandb_exit=1, swanlab_state="CRASHED", tb_status="STATUS_FAILURE",
                status="failed")


def _ctr_trainer():
    try:
        return importlib.import_module("rec_trainers").CTRTrainer
    except (ImportError, AttributeError):
        return None


class TinyCTR(nn.Module):
    """An embedding for the categorical ``c`` next to the dense ``f``; returns logits."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(10, 4)
        self.linear = nn.Linear(8, 1)

    def forward(self, x):
        return self.linear(torch.cat([x["f"], self.embedding(x["c"])], dim=1)).squeeze(-1)


@pytest.mark.skipif(_ctr_trainer() is None, reason="rec_trainers.CTRTrainer is not installed")
def test_ctr_trainer_with_three_loggers(tmp_path, three_loggers):
    ctr_trainer = _ctr_trainer()
    jsonl = JsonlLogger(tmp_path / "jsonl")
    trainer = ctr_trainer(
        TinyCTR(), optimizer_params={"lr": 0.05}, n_epoch=2, earlystop_patience=5, device="cpu",
        model_path=str(tmp_path / "model"), model_logger=[jsonl, *three_loggers],
        progress_bar=False, log_every_n_steps=2, random_seed=0,
    )
    train, val = click_loaders(category=True)
    trainer.fit(train, val, verbose=False)

    records = read_metrics_jsonl(tmp_path / "jsonl")
    epoch_metrics = [r["metrics"] for r in records if r["type"] == "metrics" and "epoch" in r["metrics"]]
    assert len(epoch_metrics) == 2 and {"val/auc", "val/logloss", "train/loss"} <= set(epoch_metrics[-1])
    check_three(tmp_path, records, wandb_exit=0, swanlab_state="FINISHED", tb_status="STATUS_SUCCESS",
                status="success")
