"""Tests of the logger contract, LoggerGroup fan-out and the built-in JSONL logger."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest
import torch

from rec_core.errors import ConfigError, DataError
from rec_core.loggers import (
    BaseLogger,
    JsonlLogger,
    LoggerGroup,
    flatten_params,
    read_metrics_jsonl,
)


class SeedStyleLogger(BaseLogger):
    """A torch-rechub-style logger: ``finish`` takes no status."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def log_metrics(self, metrics, step=None):  # seed style: untyped
        self.calls.append(("metrics", (dict(metrics), step)))

    def log_hyperparams(self, params):
        self.calls.append(("hparams", dict(params)))

    def finish(self):
        self.calls.append(("finish", None))


class StatusLogger(BaseLogger):
    """A rec-style logger that wants the final status."""

    name = "status"

    def __init__(self) -> None:
        self.statuses: list[str] = []

    def finish(self, status: str = "success") -> None:
        self.statuses.append(status)


class KwargsLogger:
    """Duck-typed logger (no BaseLogger base) whose finish takes ``**kwargs``."""

    def __init__(self) -> None:
        self.finish_kwargs: list[dict[str, Any]] = []

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        pass

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        pass

    def finish(self, **kwargs: Any) -> None:
        self.finish_kwargs.append(kwargs)


class FlakyLogger(BaseLogger):
    """A backend whose every call raises, like a tracker whose server went away."""

    def __init__(self) -> None:
        self.attempts = 0

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        self.attempts += 1
        raise ConnectionError("tracker unreachable")

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        self.attempts += 1
        raise ConnectionError("tracker unreachable")

    def finish(self, status: str = "success") -> None:
        raise ConnectionError("cannot close run")


# --- BaseLogger -------------------------------------------------------------------------


def test_base_logger_methods_are_no_ops() -> None:
    logger = BaseLogger()
    assert logger.log_metrics({"loss": 1.0}, step=3) is None
    assert logger.log_hyperparams({"lr": 0.1}) is None
    assert logger.finish("failed") is None
    assert logger.finish() is None


def test_seed_style_subclass_works_through_a_group() -> None:
    logger = SeedStyleLogger()
    group = LoggerGroup(logger)

    group.log_hyperparams({"lr": 0.01})
    group.log_metrics({"train/loss": 0.5}, step=1)
    group.finish("interrupted")

    assert logger.calls == [
        ("hparams", {"lr": 0.01}),
        ("metrics", ({"train/loss": 0.5}, 1)),
        ("finish", None),
    ]


# --- LoggerGroup: normalisation -----------------------------------------------------------


def test_group_of_none_is_falsy_and_does_nothing() -> None:
    group = LoggerGroup(None)
    assert not group
    assert len(group) == 0
    assert list(group) == []
    group.log_hyperparams({"lr": 0.1})
    group.log_metrics({"loss": 1.0}, step=0)
    group.finish("failed")
    group.finish()


def test_group_accepts_one_logger_a_list_and_skips_none() -> None:
    first, second = SeedStyleLogger(), StatusLogger()
    assert LoggerGroup(first).loggers == (first,)
    group = LoggerGroup([first, None, second])
    assert group
    assert group.loggers == (first, second)
    assert LoggerGroup(group).loggers == (first, second)
    assert LoggerGroup(iter([second])).loggers == (second,)


@pytest.mark.parametrize("bad", ["wandb", 42, [SeedStyleLogger(), object()]])
def test_group_rejects_objects_that_are_not_loggers(bad: object) -> None:
    with pytest.raises(ConfigError, match="is not a logger"):
        LoggerGroup(bad)  # type: ignore[arg-type]


def test_group_dispatches_to_every_logger_in_order() -> None:
    seen: list[tuple[str, int | None]] = []

    class Recorder(BaseLogger):
        def __init__(self, tag: str) -> None:
            self.tag = tag

        def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
            seen.append((self.tag, step))

    LoggerGroup([Recorder("a"), Recorder("b")]).log_metrics({"x": 1.0}, step=7)
    assert seen == [("a", 7), ("b", 7)]


# --- LoggerGroup: finish ------------------------------------------------------------------


def test_finish_calls_each_logger_once_and_passes_status_only_where_accepted() -> None:
    seed, status, kwargs = SeedStyleLogger(), StatusLogger(), KwargsLogger()
    group = LoggerGroup([seed, status, kwargs])

    group.finish("failed")
    group.finish("success")
    group.finish()

    assert seed.calls == [("finish", None)]
    assert status.statuses == ["failed"]
    assert kwargs.finish_kwargs == [{"status": "failed"}]
    assert group.finished


def test_finish_rejects_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="crashed"):
        LoggerGroup(StatusLogger()).finish("crashed")


def test_finish_error_is_warned_and_the_other_loggers_still_finish() -> None:
    flaky, status = FlakyLogger(), StatusLogger()
    group = LoggerGroup([flaky, status])

    with pytest.warns(RuntimeWarning, match=r"FlakyLogger\.finish.*cannot close run"):
        group.finish("failed")

    assert status.statuses == ["failed"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        group.finish("failed")  # already finished: no second attempt, no second warning


# --- LoggerGroup: backend errors ---------------------------------------------------------


def test_backend_error_is_warned_once_per_logger_and_logging_goes_on() -> None:
    flaky, seed = FlakyLogger(), SeedStyleLogger()
    group = LoggerGroup([flaky, seed])

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        group.log_hyperparams({"lr": 0.1})
        for step in range(5):
            group.log_metrics({"loss": 1.0 / (step + 1)}, step=step)

    assert all(warning.category is RuntimeWarning for warning in record)
    messages = [str(warning.message) for warning in record]
    assert len(messages) == 1
    assert "FlakyLogger" in messages[0]
    assert "ConnectionError" in messages[0]
    assert "tracker unreachable" in messages[0]
    assert flaky.attempts == 6  # still called: the error may be transient
    assert [call[0] for call in seed.calls] == ["hparams"] + ["metrics"] * 5


def test_each_failing_logger_gets_its_own_warning() -> None:
    group = LoggerGroup([FlakyLogger(), FlakyLogger()])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        group.log_metrics({"loss": 1.0})
        group.log_metrics({"loss": 1.0})
    assert [warning.category for warning in record] == [RuntimeWarning, RuntimeWarning]


# --- flatten_params -----------------------------------------------------------------------


def test_flatten_params_joins_nested_keys_and_stringifies_non_scalars() -> None:
    params = {
        "lr": 0.01,
        "epochs": 3,
        "amp": False,
        "model": {"name": "deepfm", "mlp": {"dims": [256, 128], "dropout": 0.2}},
        "device": None,
        "pair": (1, 2),
        "tensor_lr": torch.tensor(0.5),
        "numpy_wd": np.float32(0.25),
    }
    flat = flatten_params(params)
    assert flat == {
        "lr": 0.01,
        "epochs": 3,
        "amp": False,
        "model/name": "deepfm",
        "model/mlp/dims": "[256, 128]",
        "model/mlp/dropout": 0.2,
        "device": "None",
        "pair": "(1, 2)",
        "tensor_lr": 0.5,
        "numpy_wd": 0.25,
    }
    assert flatten_params({"a": {"b": 1}}, sep=".") == {"a.b": 1}
    assert params["model"]["mlp"]["dims"] == [256, 128]  # input untouched


# --- JsonlLogger --------------------------------------------------------------------------


def test_jsonl_logger_writes_one_json_object_per_line(tmp_path) -> None:
    run_dir = tmp_path / "runs" / "exp1"
    logger = JsonlLogger(run_dir)
    assert logger.name == "jsonl"
    assert logger.path == run_dir / "metrics.jsonl"

    logger.log_hyperparams({"lr": 0.01, "model": {"name": "deepfm"}, "dims": (8, 4)})
    logger.log_metrics(
        {"train/loss": torch.tensor(0.25), "val/auc": np.float32(0.75), "count": np.int64(3)},
        step=np.int64(10),
    )
    logger.log_metrics({"epoch_time": 1.5})
    logger.finish()

    lines = logger.path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert records[0] == {
        "type": "hparams",
        "params": {"lr": 0.01, "model": {"name": "deepfm"}, "dims": [8, 4]},
    }
    metrics = records[1]
    assert metrics["type"] == "metrics"
    assert metrics["step"] == 10
    assert isinstance(metrics["time"], float)
    assert metrics["metrics"] == {"train/loss": 0.25, "val/auc": 0.75, "count": 3.0}
    assert all(isinstance(value, float) for value in metrics["metrics"].values())
    assert records[2]["step"] is None
    assert records[3] == {"type": "finish", "status": "success"}
    assert read_metrics_jsonl(run_dir) == records


def test_jsonl_logger_accepts_a_file_path(tmp_path) -> None:
    path = tmp_path / "logs" / "run.jsonl"
    logger = JsonlLogger(path)
    logger.log_metrics({"loss": 1.0}, step=0)
    logger.finish()
    assert logger.path == path
    assert [record["type"] for record in read_metrics_jsonl(path)] == ["metrics", "finish"]


def test_jsonl_logger_flushes_every_line(tmp_path) -> None:
    logger = JsonlLogger(tmp_path)
    logger.log_metrics({"loss": 0.5}, step=1)
    # Read through another handle while the logger still has the file open.
    assert read_metrics_jsonl(tmp_path)[0]["metrics"] == {"loss": 0.5}
    logger.finish()


def test_jsonl_logger_appends_on_resume(tmp_path) -> None:
    first = JsonlLogger(tmp_path)
    first.log_metrics({"loss": 1.0}, step=1)
    first.finish("interrupted")

    resumed = JsonlLogger(tmp_path)
    resumed.log_metrics({"loss": 0.5}, step=2)
    resumed.finish()

    records = read_metrics_jsonl(tmp_path)
    assert [(r["type"], r.get("step"), r.get("status")) for r in records] == [
        ("metrics", 1, None),
        ("finish", None, "interrupted"),
        ("metrics", 2, None),
        ("finish", None, "success"),
    ]


def test_jsonl_logger_drops_a_torn_last_line_before_appending(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"type": "metrics", "step": 1, "metrics": {}}\n{"type": "metr', "utf-8")

    logger = JsonlLogger(path)
    logger.log_metrics({"loss": 0.1}, step=2)
    logger.finish()

    assert [r.get("step") for r in read_metrics_jsonl(path)] == [1, 2, None]


def test_jsonl_logger_keeps_a_complete_last_line_without_newline(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"type": "metrics", "step": 1, "metrics": {}}', "utf-8")

    logger = JsonlLogger(path)
    logger.finish()

    assert [r["type"] for r in read_metrics_jsonl(path)] == ["metrics", "finish"]


def test_jsonl_logger_finish_status_through_a_group(tmp_path) -> None:
    group = LoggerGroup([JsonlLogger(tmp_path)])
    group.finish("failed")
    assert read_metrics_jsonl(tmp_path)[-1] == {"type": "finish", "status": "failed"}


def test_jsonl_logger_rejects_an_unknown_status(tmp_path) -> None:
    logger = JsonlLogger(tmp_path)
    with pytest.raises(ValueError, match="done"):
        logger.finish("done")
    assert not logger.path.exists()


# --- read_metrics_jsonl -------------------------------------------------------------------


def test_read_metrics_jsonl_names_file_and_line_of_a_corrupt_record(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"type": "hparams", "params": {}}\n{"type": oops}\n{"type": "finish"}\n')
    with pytest.raises(DataError, match=r"metrics\.jsonl, line 2") as info:
        read_metrics_jsonl(path)
    assert str(path) in str(info.value)


def test_read_metrics_jsonl_rejects_a_line_that_is_not_an_object(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"type": "hparams", "params": {}}\n[1, 2]\n')
    with pytest.raises(DataError, match="line 2: expected a JSON object"):
        read_metrics_jsonl(path)


def test_read_metrics_jsonl_skips_a_truncated_last_line(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"type": "hparams", "params": {}}\n\n{"type": "metrics", "st')
    assert read_metrics_jsonl(path) == [{"type": "hparams", "params": {}}]


def test_read_metrics_jsonl_reports_a_missing_file(tmp_path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_metrics_jsonl(tmp_path / "nowhere")


# --- import cost -------------------------------------------------------------------------


def test_importing_the_loggers_package_does_not_import_torch() -> None:
    code = (
        "import sys, rec_core.loggers, rec_core.loggers.base; "
        "heavy = [m for m in ('torch',) if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_plain_params_and_to_number_convert_tensor_scalars_and_keep_nesting():
    import numpy as np
    import torch

    from rec_core.loggers import plain_params, to_number

    assert to_number(torch.tensor(0.5)) == 0.5 and to_number(np.float64(2.0)) == 2.0 and to_number(3) == 3
    assert to_number(torch.ones(2)) is None and to_number("7") is None
    params = {"lr": torch.tensor(0.25), "dims": (256, 128), "opt": {"betas": [0.9, np.float32(0.5)]},
              "path": None, "fn": len}
    assert plain_params(params, none="None") == {
        "lr": 0.25, "dims": [256, 128], "opt": {"betas": [0.9, 0.5]}, "path": "None", "fn": str(len)
    }
