"""WandbLogger, offline and for real: train, then read the run's ``.wandb`` file back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rec_core.callbacks import Callback
from rec_core.errors import RecError
from rec_core.loggers import BaseLogger

from .readers import read_wandb
from .support import (
    WANDB_SETTINGS,
    check_schedule,
    expected_by_name,
    fit,
    logged_hparams,
    require_sdk,
)

pytestmark = pytest.mark.usefixtures("_wandb_installed")


@pytest.fixture
def _wandb_installed() -> None:
    require_sdk("wandb")


def make_logger(tmp_path, **kwargs):
    from rec_tracking import WandbLogger

    options = {"project": "rec-tests", "name": "click", "dir": tmp_path / "wb", "mode": "offline",
               "settings": WANDB_SETTINGS, **kwargs}
    return WandbLogger(**options)


def assert_history_matches(run, records) -> None:
    """Every JSONL metric is in wandb's history at its step, with the same value."""
    expected = expected_by_name(records)
    assert run.metric_names() == set(expected)
    merged: dict[int, dict] = {}
    for row in run.history:  # rows logged at the same step are merged by wandb
        merged.setdefault(row["_step"], {}).update(row)
    assert set(merged) == {step for by_step in expected.values() for step in by_step}
    for name, by_step in expected.items():
        for step, value in by_step.items():
            assert merged[step][name] == pytest.approx(value, rel=1e-12), (name, step)


def test_training_run_reads_back_hparams_metrics_and_success(tmp_path):
    logger = make_logger(tmp_path, config={"dataset": {"name": "synthetic", "rows": 96}}, tags=["t1"], notes="n")

    records = fit([logger], tmp_path)

    run = read_wandb(tmp_path / "wb")
    check_schedule(records)
    hparams = logged_hparams(records)
    assert run.config == {"dataset": {"name": "synthetic", "rows": 96}, **hparams}  # nested kept as nested
    assert run.config["optimizer_params"] == {"momentum": 0.9}
    assert_history_matches(run, records)
    assert run.exit_code == 0
    assert run.run_info == {"project": "rec-tests", "name": "click", "tags": ["t1"], "notes": "n"}
    assert run.path.parent.parent.parent == tmp_path / "wb"  # <dir>/wandb/offline-run-*/run-*.wandb


@pytest.mark.parametrize(("error", "exit_code"), [(RuntimeError("boom"), 1), (KeyboardInterrupt(), 255)])
def test_failed_or_interrupted_run_ends_with_a_nonzero_exit_code(tmp_path, error, exit_code):
    from .support import FailingTrainer, jsonl_records

    logger = make_logger(tmp_path)
    with pytest.raises(type(error)):
        fit([logger], tmp_path, trainer_cls=FailingTrainer, fail_at=6, error=error)

    run = read_wandb(tmp_path / "wb")
    records = jsonl_records(tmp_path)
    assert run.exit_code == exit_code
    assert_history_matches(run, records)  # everything logged before the failure is there
    assert records[-1]["status"] == ("failed" if exit_code == 1 else "interrupted")


def test_finish_is_idempotent_and_logging_afterwards_raises(tmp_path):
    logger = make_logger(tmp_path)
    logger.log_metrics({"a": 1.0}, step=1)
    logger.finish("failed")
    logger.finish("success")  # ignored: the first status stands
    assert read_wandb(tmp_path / "wb").exit_code == 1
    with pytest.raises(RuntimeError, match="finished"):
        logger.log_metrics({"a": 2.0}, step=2)
    with pytest.raises(ValueError, match="finish status"):
        logger.finish("crashed")


def test_two_loggers_at_once_keep_separate_runs(tmp_path):
    first = make_logger(tmp_path, name="first", dir=tmp_path / "a")
    second = make_logger(tmp_path, name="second", dir=tmp_path / "b")  # wandb alone would return `first`'s run
    first.log_metrics({"x": 1.0}, step=1)
    second.log_metrics({"x": 2.0}, step=1)
    second.finish("failed")
    first.log_metrics({"x": 3.0}, step=2)  # still running
    first.finish()
    a, b = read_wandb(tmp_path / "a"), read_wandb(tmp_path / "b")
    assert [r["x"] for r in a.history] == [1.0, 3.0] and a.exit_code == 0
    assert [r["x"] for r in b.history] == [2.0] and b.exit_code == 1


class _FinishBackendAt(Callback):
    """End the backend run under the logger's feet, as a dying tracker would."""

    def __init__(self, logger, step: int) -> None:
        self.logger, self.step = logger, step

    def on_train_batch_end(self, trainer, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            self.logger.run.finish()


def test_backend_error_is_one_warning_and_training_goes_on(tmp_path):
    logger = make_logger(tmp_path)
    with pytest.warns(RuntimeWarning, match=r"WandbLogger\.log_metrics failed: UsageError") as caught:
        records = fit([logger], tmp_path, callbacks=[_FinishBackendAt(logger, 3)])
    assert len([w for w in caught if "WandbLogger" in str(w.message)]) == 1
    assert [r["metrics"]["epoch"] for r in records if r["type"] == "metrics" and "epoch" in r["metrics"]] == [0, 1, 2]
    assert records[-1] == {"type": "finish", "status": "success"}


def test_from_run_writes_under_the_run_folder_with_cli_options(tmp_path):
    from rec_tracking import WandbLogger

    run_dir = tmp_path / "run"
    logger = WandbLogger.from_run(run_dir, project="from-cli", mode="offline", settings=WANDB_SETTINGS)
    logger.log_hyperparams({"lr": 0.1})
    logger.log_metrics({"train/loss": 0.5}, step=3)
    logger.finish()

    run = read_wandb(run_dir / "wandb")
    assert run.run_info["project"] == "from-cli" and run.run_info["name"] == "run"
    assert run.config == {"lr": 0.1} and run.history[0]["train/loss"] == 0.5 and run.exit_code == 0


def test_from_run_is_a_no_op_logger_on_other_ranks(tmp_path, monkeypatch):
    from rec_tracking import WandbLogger

    monkeypatch.setenv("RANK", "1")
    logger = WandbLogger.from_run(tmp_path / "run", mode="offline")
    assert type(logger) is BaseLogger
    assert not (tmp_path / "run").exists()


def test_from_run_turns_a_start_failure_into_one_line(tmp_path):
    from rec_tracking import WandbLogger

    with pytest.raises(RecError, match=r"logger 'wandb' could not start: .*mode=offline"):
        WandbLogger.from_run(tmp_path / "run", mode="no-such-mode", settings=WANDB_SETTINGS)


def test_offline_mode_alone_keeps_wandb_off_the_network_also_at_exit(tmp_path):
    """Without WANDB_MODE in the environment, wandb's analytics would POST at interpreter exit."""
    code = f"""
import socket, sys
def refuse(host, *args, **kwargs):
    print("NETWORK", host, file=sys.stderr, flush=True)
    raise OSError("no network in this test")
socket.getaddrinfo = refuse
from rec_tracking import WandbLogger
logger = WandbLogger(project="p", dir={str(tmp_path / "wb")!r}, mode="offline", settings={WANDB_SETTINGS!r})
logger.log_metrics({{"a": 1.0}}, step=1)
logger.finish()
"""
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_MODE", "WANDB_ERROR_REPORTING")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "NETWORK" not in result.stderr, result.stderr
    assert read_wandb(tmp_path / "wb").exit_code == 0


def test_reader_spans_blocks_and_checks_crcs(tmp_path):
    """Our LevelDB-log reader: records across 32 KiB blocks read back; a flipped byte is caught."""
    from .readers import iter_leveldb_log

    logger = make_logger(tmp_path)
    for step in range(1500):
        logger.log_metrics({"train/loss_step": 1.0 / (step + 1), f"k{step % 13}": float(step)}, step=step)
    logger.finish()
    run = read_wandb(tmp_path / "wb")
    data = run.path.read_bytes()
    assert len(data) > 4 * 32768
    assert [row["_step"] for row in run.history] == list(range(1500))
    assert run.history[-1]["train/loss_step"] == pytest.approx(1 / 1500, rel=1e-12)

    corrupt = bytearray(data)
    corrupt[40000] ^= 0xFF
    with pytest.raises(ValueError):  # a crc mismatch, or a broken frame if the byte was in a header
        list(iter_leveldb_log(bytes(corrupt), data[:7]))
