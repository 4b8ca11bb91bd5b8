"""``rec train --logger ...``: each tracker writes under the run folder, with ``--set logger.NAME.KEY=VALUE``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rec_core.cli import build_app
from rec_core.loggers import read_metrics_jsonl

from .readers import read_swanlab, read_tensorboardx, read_wandb
from .support import WANDB_SETTINGS, assert_scalars_match, flat_hparams, logged_hparams, require_sdk

CLICK_PLUGIN = '''
import torch
from torch import nn
from rec_core import BaseTrainer, hookimpl
from rec_core.data import ColumnarLoader
from rec_core.pipeline import PreparedRun


class ClickTrainer(BaseTrainer):
    """Fit a logistic click model on synthetic data (test plugin)."""

    config_defaults = {"max_epochs": 2, "batch_size": 32, "learning_rate": 0.1, "optimizer": "SGD",
                       "monitor": "val/loss", "progress_bar": False, "log_every_n_steps": 2}

    def training_step(self, batch):
        x, y = batch
        return nn.functional.binary_cross_entropy_with_logits(self.network(x["f"]).squeeze(-1), y)

    @classmethod
    def from_request(cls, request, *, config, loggers):
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(160, 3, generator=gen)
        y = (x[:, 0] > x[:, 1]).float()
        loader = lambda a, b, **kw: ColumnarLoader({"f": x[a:b]}, y[a:b], batch_size=config.batch_size, **kw)
        trainer = cls(nn.Linear(3, 1), config, loggers=loggers)
        return PreparedRun(trainer, loader(0, 128, shuffle=True, seed=1), loader(128, 160),
                           info={"model": "logistic", "data": "synthetic"})


@hookimpl
def rec_register_trainers(register):
    register("click", ClickTrainer)
'''

runner = CliRunner()


@pytest.fixture
def app(rec_plugin_site):
    rec_plugin_site.install("rec-click", entry_points={"rec": {"click": "click_plugin"}},
                            modules={"click_plugin.py": CLICK_PLUGIN})
    return build_app(rec_plugin_site.plugin_manager(only=["click", "tracking"]))


def test_rec_train_with_three_loggers_writes_them_under_the_run_folder(app, tmp_path):
    for module in ("wandb", "swanlab", "tensorboardX"):
        require_sdk(module)
    run_dir = tmp_path / "run"
    args = [
        "train", "click", "--output", str(run_dir), "--logger", "tensorboardx", "--logger", "wandb",
        "--set", "logger.wandb.project=cli-project", "--set", "logger.wandb.mode=offline",
        *[f"--set=logger.wandb.settings.{key}={value}" for key, value in WANDB_SETTINGS.items()],
        "--set", "logger.swanlab.mode=offline",
        *[f"--set=logger.swanlab.settings.probe.{key}=false" for key in ("monitor", "git", "requirements")],
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output

    records = read_metrics_jsonl(run_dir)
    tb = read_tensorboardx(run_dir / "tensorboardx")
    wb = read_wandb(run_dir / "wandb")
    sl = read_swanlab(run_dir / "swanlab")
    assert tb.hparams == flat_hparams(logged_hparams(records))
    assert_scalars_match(tb.scalars, records)
    assert_scalars_match(sl.scalars, records, rel=1e-12)
    assert wb.run_info["project"] == "cli-project" and wb.run_info["name"] == "run" and wb.exit_code == 0
    assert sl.start["project"] == "rec" and sl.start["name"] == "run" and sl.state == "FINISHED"
    assert tb.session_status == "STATUS_SUCCESS"

    shown = runner.invoke(app, ["runs", "show", str(run_dir)])  # the same run, from metrics.jsonl alone
    assert shown.exit_code == 0, shown.output
    assert "val/loss" in shown.output and "success" in shown.output and "▁" in shown.output


def test_rec_train_with_a_bad_logger_option_is_one_line(app, tmp_path):
    require_sdk("tensorboardX")
    result = runner.invoke(app, ["train", "click", "--output", str(tmp_path / "run"),
                                 "--set", "logger.tensorboardx.no_such_option=1"])
    assert result.exit_code == 1
    assert "logger 'tensorboardx': bad options" in result.output and "Traceback" not in result.output
