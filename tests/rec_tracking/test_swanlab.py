"""SwanLabLogger, offline and for real: train, then read the ``.swanlab`` file and config.yaml back."""

from __future__ import annotations

import pytest

from rec_core.callbacks import Callback
from rec_core.errors import RecError
from rec_core.loggers import BaseLogger

from .readers import read_swanlab
from .support import (
    SWANLAB_SETTINGS,
    FailingTrainer,
    assert_scalars_match,
    check_schedule,
    fit,
    jsonl_records,
    logged_hparams,
    none_as_string,
    require_sdk,
)

pytestmark = pytest.mark.usefixtures("_swanlab_installed")


@pytest.fixture
def _swanlab_installed() -> None:
    require_sdk("swanlab")


def make_logger(tmp_path, **kwargs):
    from rec_tracking import SwanLabLogger

    options = {"project": "rec-tests", "experiment_name": "click", "logdir": tmp_path / "sl", "mode": "offline",
               "settings": SWANLAB_SETTINGS, **kwargs}
    return SwanLabLogger(**options)


def test_training_run_reads_back_hparams_metrics_and_success(tmp_path):
    logger = make_logger(tmp_path, description="d", config={"dataset": {"name": "synthetic", "rows": 96}})

    records = fit([logger], tmp_path)

    run = read_swanlab(tmp_path / "sl")
    check_schedule(records)
    hparams = logged_hparams(records)
    assert run.config == none_as_string({"dataset": {"name": "synthetic", "rows": 96}, **hparams})
    assert run.config["optimizer_params"] == {"momentum": 0.9} and run.config["gradient_clip_val"] == "None"
    assert_scalars_match(run.scalars, records, rel=1e-12)
    assert run.state == "FINISHED"
    assert run.start == {"project": "rec-tests", "name": "click", "description": "d", "tags": []}


@pytest.mark.parametrize(("error", "state"), [(RuntimeError("boom"), "CRASHED"), (KeyboardInterrupt(), "ABORTED")])
def test_failed_or_interrupted_run_ends_crashed_or_aborted(tmp_path, error, state):
    logger = make_logger(tmp_path)
    with pytest.raises(type(error)):
        fit([logger], tmp_path, trainer_cls=FailingTrainer, fail_at=6, error=error)

    run = read_swanlab(tmp_path / "sl")
    assert run.state == state and "rec: training ended with status" in run.error
    assert_scalars_match(run.scalars, jsonl_records(tmp_path), rel=1e-12)


def test_finish_is_idempotent_and_logging_afterwards_raises(tmp_path):
    logger = make_logger(tmp_path)
    logger.log_metrics({"a": 1.0}, step=1)
    logger.finish("failed")
    logger.finish("success")  # ignored: the first status stands
    assert read_swanlab(tmp_path / "sl").state == "CRASHED"
    with pytest.raises(RuntimeError, match="finished"):
        logger.log_metrics({"a": 2.0}, step=2)


class _FinishBackendAt(Callback):
    def __init__(self, logger, step: int) -> None:
        self.logger, self.step = logger, step

    def on_train_batch_end(self, trainer, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            self.logger.run.finish()


def test_backend_error_is_one_warning_and_training_goes_on(tmp_path):
    logger = make_logger(tmp_path)
    with pytest.warns(RuntimeWarning, match=r"SwanLabLogger\.log_metrics failed") as caught:
        records = fit([logger], tmp_path, callbacks=[_FinishBackendAt(logger, 3)])
    assert len([w for w in caught if "SwanLabLogger" in str(w.message)]) == 1
    assert records[-1] == {"type": "finish", "status": "success"}
    assert read_swanlab(tmp_path / "sl").state == "FINISHED"  # ended by the callback, left alone after


def test_from_run_writes_under_the_run_folder_with_cli_options(tmp_path):
    from rec_tracking import SwanLabLogger

    run_dir = tmp_path / "run"
    logger = SwanLabLogger.from_run(run_dir, project="from-cli", mode="offline", settings=SWANLAB_SETTINGS)
    logger.log_hyperparams({"lr": 0.1, "optim": {"betas": [0.9, 0.99]}})
    logger.log_metrics({"train/loss": 0.5}, step=3)
    logger.finish()

    run = read_swanlab(run_dir / "swanlab")
    assert run.start["project"] == "from-cli" and run.start["name"] == "run"
    assert run.config == {"lr": 0.1, "optim": {"betas": [0.9, 0.99]}}
    assert run.scalars == {"train/loss": {3: 0.5}} and run.state == "FINISHED"


def test_from_run_is_a_no_op_logger_on_other_ranks(tmp_path, monkeypatch):
    from rec_tracking import SwanLabLogger

    monkeypatch.setenv("RANK", "2")
    assert type(SwanLabLogger.from_run(tmp_path / "run", mode="offline")) is BaseLogger
    assert not (tmp_path / "run").exists()


def test_a_second_active_run_is_a_one_line_error_from_run(tmp_path):
    from rec_tracking import SwanLabLogger

    first = make_logger(tmp_path)
    with pytest.raises(RecError, match=r"logger 'swanlab' could not start: RuntimeError: .*inactive Run"):
        SwanLabLogger.from_run(tmp_path / "run", mode="offline", settings=SWANLAB_SETTINGS)
    first.finish()
