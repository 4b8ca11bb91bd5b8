"""TensorBoardXLogger for real: train, then read the event files back with our TFRecord reader."""

from __future__ import annotations

import pytest

from rec_core.callbacks import Callback
from rec_core.loggers import BaseLogger

from .readers import read_tensorboardx
from .support import (
    FailingTrainer,
    assert_scalars_match,
    check_schedule,
    fit,
    flat_hparams,
    jsonl_records,
    logged_hparams,
    require_sdk,
)

pytestmark = pytest.mark.usefixtures("_tensorboardx_installed")


@pytest.fixture
def _tensorboardx_installed() -> None:
    require_sdk("tensorboardX")


def make_logger(tmp_path, **kwargs):
    from rec_tracking import TensorBoardXLogger

    return TensorBoardXLogger(log_dir=tmp_path / "tb", **kwargs)


def test_training_run_reads_back_hparams_metrics_and_success(tmp_path):
    logger = make_logger(tmp_path)

    records = fit([logger], tmp_path)

    tb = read_tensorboardx(tmp_path / "tb")
    check_schedule(records)
    hparams = flat_hparams(logged_hparams(records))
    assert tb.hparams == hparams  # flattened: nested values would be dropped by TensorBoard
    assert tb.hparams["optimizer_params/momentum"] == 0.9 and tb.hparams["gradient_clip_val"] == "None"
    assert_scalars_match(tb.scalars, records)  # float32 on disk; names kept ("val/acc@0.5")
    assert tb.session_status == "STATUS_SUCCESS"
    assert tb.texts == {"rec/status": {12: "success"}}
    assert tb.hparams_runs == {str(tmp_path / "tb")}  # hparams and scalars in one run, no sub-run


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failed_or_interrupted_run_records_the_status(tmp_path, error):
    logger = make_logger(tmp_path)
    with pytest.raises(type(error)):
        fit([logger], tmp_path, trainer_cls=FailingTrainer, fail_at=6, error=error)

    tb = read_tensorboardx(tmp_path / "tb")
    status = "failed" if isinstance(error, RuntimeError) else "interrupted"
    assert tb.session_status == "STATUS_FAILURE"
    assert tb.texts == {"rec/status": {6: status}}
    assert_scalars_match(tb.scalars, jsonl_records(tmp_path))


def test_finish_is_idempotent_and_logging_afterwards_raises(tmp_path):
    logger = make_logger(tmp_path)
    logger.log_metrics({"val/ndcg@10": 0.25, "note": "text value"}, step=7)
    logger.log_metrics({"val/ndcg@10": 0.5})  # no step: stays at the last step seen
    logger.finish("interrupted")
    logger.finish("success")

    tb = read_tensorboardx(tmp_path / "tb")
    assert tb.scalars == {"val/ndcg@10": {7: 0.5}}
    assert tb.texts == {"note": {7: "text value"}, "rec/status": {7: "interrupted"}}
    with pytest.raises(RuntimeError, match="closed"):
        logger.log_metrics({"a": 1.0}, step=8)
    with pytest.raises(ValueError, match="finish status"):
        logger.finish("done")


class _CloseWriterAt(Callback):
    def __init__(self, logger, step: int) -> None:
        self.logger, self.step = logger, step

    def on_train_batch_end(self, trainer, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            self.logger.writer.close()


def test_backend_error_is_one_warning_and_training_goes_on(tmp_path):
    logger = make_logger(tmp_path)
    with pytest.warns(RuntimeWarning, match=r"TensorBoardXLogger\.log_metrics failed") as caught:
        records = fit([logger], tmp_path, callbacks=[_CloseWriterAt(logger, 3)])
    assert len([w for w in caught if "TensorBoardXLogger" in str(w.message)]) == 1
    assert records[-1] == {"type": "finish", "status": "success"}
    assert set(read_tensorboardx(tmp_path / "tb").scalars["train/loss_step"]) == {2}  # written before the close


def test_from_run_writes_under_the_run_folder_with_cli_options(tmp_path):
    from rec_tracking import TensorBoardXLogger

    logger = TensorBoardXLogger.from_run(tmp_path / "run", filename_suffix=".rec")
    logger.log_hyperparams({"optim": {"lr": 0.1, "betas": [0.9, 0.99]}, "seed": None})
    logger.log_metrics({"train/loss": 0.5}, step=3)
    logger.finish()

    tb = read_tensorboardx(tmp_path / "run" / "tensorboardx")
    assert [f.name.endswith(".rec") for f in tb.files] == [True]
    assert tb.hparams == {"optim/lr": 0.1, "optim/betas": "[0.9, 0.99]", "seed": "None"}
    assert tb.scalars == {"train/loss": {3: 0.5}} and tb.session_status == "STATUS_SUCCESS"


def test_from_run_is_a_no_op_logger_on_other_ranks(tmp_path, monkeypatch):
    from rec_tracking import TensorBoardXLogger

    monkeypatch.setenv("RANK", "1")
    assert type(TensorBoardXLogger.from_run(tmp_path / "run")) is BaseLogger
    assert not (tmp_path / "run").exists()
