"""The generic request -> run pipeline: several targets, --weighter, --callback, logged loss parts."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rec_core.cli import build_app
from rec_core.loggers import read_metrics_jsonl

PAIR_PLUGIN = '''
import numpy as np
from torch import nn

from rec_core import BaseTrainer, hookimpl
from rec_core.callbacks import Callback
from rec_core.datasets import Split, TaskData, split_indices
from rec_core.features import DenseFeature
from rec_core.weighting import BaseLossWeighter


class PairTrainer(BaseTrainer):
    """Two regression targets from one shared layer: one loss part per target."""

    config_defaults = {"max_epochs": 2, "batch_size": 64, "learning_rate": 0.05, "monitor": "val/loss",
                       "progress_bar": False}
    default_model = "twohead"
    default_data = "pairs"

    def training_step(self, batch):
        x, y = batch
        out = self.network(x)
        return {"a": nn.functional.mse_loss(out[:, 0], y[:, 0]), "b": nn.functional.mse_loss(out[:, 1], y[:, 1])}


class TwoHead(nn.Module):
    def __init__(self, n_inputs, hidden=8):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_inputs, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    @classmethod
    def from_features(cls, features, hidden=8):
        return cls(len(features), hidden)

    def forward(self, x):
        return self.body(torch_stack(x))


def torch_stack(x):
    import torch
    return torch.stack([x[k] for k in sorted(x)], dim=1)


class Pairs:
    def load(self, *, seed=0, **params):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(600, 3)).astype(np.float32)
        targets = {"a": (x[:, 0] * 2).astype(np.float32), "b": (x[:, 1] - x[:, 2]).astype(np.float32)}
        columns = {f"x{i}": x[:, i] for i in range(3)}
        parts = split_indices(600, (0.8, 0.1, 0.1), seed)
        splits = {name: Split({k: v[r] for k, v in columns.items()}, {k: v[r] for k, v in targets.items()})
                  for name, r in zip(("train", "val", "test"), parts)}
        return TaskData("pairs", [DenseFeature(f"x{i}") for i in range(3)], splits,
                        targets={"a": "regression", "b": "regression"})


class FixedWeighter(BaseLossWeighter):
    def __init__(self, task_names, a_weight=1.0):
        super().__init__(task_names)
        self.a_weight = a_weight

    def combine(self, losses):
        a, b = self.ordered_losses(losses)
        return self.a_weight * a + b

    def loss_weights(self):
        return {"a": float(self.a_weight), "b": 1.0}


class EpochFile(Callback):
    def __init__(self, filename="epochs.txt"):
        self.filename = filename
        self.seen = 0

    def on_train_epoch_end(self, trainer):
        self.seen += 1

    def on_fit_end(self, trainer):
        import pathlib
        (pathlib.Path(trainer.config.log_dir) / self.filename).write_text(str(self.seen))


class BareTrainer(PairTrainer):
    """A trainer without a default model or data set."""

    default_model = None
    default_data = None


@hookimpl
def rec_register_trainers(register):
    register("pair", PairTrainer)
    register("bare", BareTrainer)


@hookimpl
def rec_register_models(register):
    register("twohead", TwoHead, task="pair")


@hookimpl
def rec_register_datasets(register):
    register("pairs", Pairs(), task="pair")


@hookimpl
def rec_register_loss_weighters(register):
    register("fixed", FixedWeighter)


@hookimpl
def rec_register_callbacks(register):
    register("epoch-file", EpochFile)
'''

runner = CliRunner()


@pytest.fixture
def app(rec_plugin_site):
    rec_plugin_site.install("rec-pair", entry_points={"rec": {"pair": "pair_plugin"}},
                            modules={"pair_plugin.py": PAIR_PLUGIN})
    return build_app(rec_plugin_site.plugin_manager())


def test_weighter_and_callbacks_from_the_command_line_and_logged_loss_parts(app, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "pair", "--weighter", "fixed", "--set", "weighter.a_weight=3",
                                 "--callback", "epoch-file", "--set", "callback.epoch-file.filename=seen.txt",
                                 "--output", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert (out / "seen.txt").read_text() == "2"  # the callback ran, with its option
    epochs = [r["metrics"] for r in read_metrics_jsonl(out / "metrics.jsonl")
              if r["type"] == "metrics" and "epoch" in r["metrics"]]
    assert len(epochs) == 2
    for metrics in epochs:
        assert metrics["loss_weight/a"] == 3.0 and metrics["loss_weight/b"] == 1.0
        # the total is the weighted sum of the parts, epoch means of the same batches
        assert metrics["train/loss"] == pytest.approx(3 * metrics["train/a_loss"] + metrics["train/b_loss"], rel=1e-5)
    assert epochs[1]["train/a_loss"] < epochs[0]["train/a_loss"]


def test_default_weighter_logs_equal_weights(app, tmp_path):
    out = tmp_path / "run"
    assert runner.invoke(app, ["train", "pair", "--epochs", "1", "--output", str(out)]).exit_code == 0
    (epoch,) = [r["metrics"] for r in read_metrics_jsonl(out / "metrics.jsonl")
                if r["type"] == "metrics" and "epoch" in r["metrics"]]
    assert epoch["loss_weight/a"] == epoch["loss_weight/b"] == 1.0
    assert epoch["train/loss"] == pytest.approx(epoch["train/a_loss"] + epoch["train/b_loss"], rel=1e-5)


@pytest.mark.parametrize(("args", "message"), [
    (["--weighter", "fixd"], "unknown loss weighter 'fixd'; did you mean 'fixed'?"),
    (["--weighter", "fixed", "--set", "weighter.alpha=2"], "loss weighter 'fixed': bad options {'alpha': 2}"),
    (["--callback", "epoch-file", "--set", "callback.epoch-file.colour=red"],
     "callback 'epoch-file': bad options {'colour': 'red'}"),
    (["--set", "weighter.a_weight=2"], "weighter options given but no weighter chosen: add --weighter NAME"),
])
def test_bad_weighter_or_callback_is_one_line_before_the_run(app, tmp_path, args, message):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "pair", *args, "--output", str(out)])
    assert result.exit_code == 1, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_several_targets_reach_the_loader_and_the_run_record(app, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "pair", "--epochs", "1", "--output", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["data"] == "pairs" and summary["model"] == "twohead"
    assert json.loads((out / "model.json").read_text())["targets"] == {"a": "regression", "b": "regression"}


@pytest.mark.parametrize(("args", "message"), [
    ([], "trainer 'bare' has no default data set; choose one with --data NAME|FILE"),
    (["--data", "pairs"], "data set 'pairs' is for task 'pair', not bare"),
])
def test_a_trainer_without_defaults_says_what_to_choose(app, tmp_path, args, message):
    result = runner.invoke(app, ["train", "bare", *args, "--output", str(tmp_path / "run")])
    assert result.exit_code == 1 and message in result.output, result.output
