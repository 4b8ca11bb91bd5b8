"""``rec train mtl`` through the command line: registered data, weighters, a user file with two labels."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from rec_core.cli import build_app
from rec_core.loggers import read_metrics_jsonl
from rec_core.plugins import make_plugin_manager

from ..rec_core.cli_checks import fails_with, runner


@pytest.fixture(scope="module")
def app():
    pm = make_plugin_manager()
    if "mtl" not in pm.registry("trainers"):
        pytest.skip("rec-trainers is not installed in this environment")
    return build_app(pm)


def _samples() -> Path:
    path = Path(os.environ.get("REC_DATA_DIR", "-")) / "rechub-samples"
    if not (path / "ali-ccp").is_dir():
        pytest.skip(f"needs the shared real data sets: set REC_DATA_DIR (got {path})")
    return path


def _train(app, *args):
    result = runner.invoke(app, ["train", "mtl", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.mark.parametrize("model", ["mmoe", "ple", "sharedbottom", "aitm", "esmm"])
def test_every_model_with_gradnorm_on_a_registered_data_set(app, tmp_path, model):
    _samples()
    out = tmp_path / "run"
    summary = _train(app, "--data", "ali-ccp-sample", "--model", model, "--weighter", "gradnorm",
                     "--set", "weighter.alpha=0.16", "--epochs", "2", "--batch-size", "32", "--output", str(out))
    assert summary["model"] == model and summary["monitor"] == "val/task_0_score"
    assert {"test/task_0_auc", "test/task_1_auc", "test/task_0_logloss"} <= set(summary["test"])
    epochs = [r["metrics"] for r in read_metrics_jsonl(out / "metrics.jsonl")
              if r["type"] == "metrics" and "epoch" in r["metrics"]]
    assert {"train/task_0_loss", "train/task_1_loss", "loss_weight/task_0", "loss_weight/task_1"} <= set(epochs[-1])
    assert epochs[-1]["loss_weight/task_0"] + epochs[-1]["loss_weight/task_1"] == pytest.approx(2.0)  # renormalised


def test_adaptive_params_from_a_config_key_and_early_stopping_task(app, tmp_path):
    _samples()
    summary = _train(app, "--data", "census-income-sample", "--set", 'adaptive_params={method = "uwl"}',
                     "--set", "earlystop_taskid=1", "--epochs", "2", "--output", str(tmp_path / "run"))
    assert summary["monitor"] == "val/task_1_score"
    config = (tmp_path / "run" / "config.toml").read_text()
    assert 'method = "uwl"' in config and "earlystop_taskid = 1" in config


def test_a_user_file_with_two_labels_trains_and_predicts_both(app, tmp_path):
    folder = _samples() / "census-income"
    frame = pd.concat([pd.read_csv(folder / f"census_income_{part}_sample.csv") for part in ("train", "val", "test")])
    frame = frame.rename(columns={"marital status": "never_married"})
    frame.to_csv(tmp_path / "people.csv", index=False)
    out = tmp_path / "run"
    summary = _train(app, "--data", str(tmp_path / "people.csv"), "--label", "income", "--label", "never_married",
                     "--set", "data.split=[0.5, 0.25, 0.25]", "--epochs", "2", "--batch-size", "16",
                     "--output", str(out))
    assert json.loads((out / "model.json").read_text())["targets"] == {"income": "binary", "never_married": "binary"}
    assert summary["data"] == str(tmp_path / "people.csv")
    new = frame.drop(columns=["income", "never_married"]).head(12)
    new.to_csv(tmp_path / "new.csv", index=False)
    result = runner.invoke(app, ["predict", str(out), "--data", str(tmp_path / "new.csv"),
                                 "--output", str(tmp_path / "scored.csv")])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert list(scored.columns[-2:]) == ["prediction_income", "prediction_never_married"] and len(scored) == 12
    assert scored[["prediction_income", "prediction_never_married"]].stack().between(0, 1).all()


@pytest.mark.parametrize(("args", "message"), [
    (["--weighter", "gradnorm", "--set", "weighter.alpah=1"], "loss weighter 'gradnorm': bad options"),
    (["--set", 'adaptive_params={method = "dwa"}'], "unknown adaptive_params method 'dwa'"),
    (["--set", "earlystop_taskid=5"], "earlystop_taskid 5 is out of range"),
    (["--model", "esmm", "--set", "model.user_features=['nope']"], "user feature 'nope' is not among"),
])
def test_bad_options_are_one_line_and_write_nothing(app, tmp_path, args, message):
    _samples()
    out = tmp_path / "run"
    fails_with(app, ["train", "mtl", "--data", "census-income-sample", *args, "--output", str(out)], message)
    assert not out.exists()


def test_census_incomes_recipe_is_the_benchmarks_run_and_a_weighter_flag_wins(app, tmp_path):
    if not (Path(os.environ.get("REC_DATA_DIR", "-")) / "census-income-kdd").is_dir():
        pytest.skip("needs the real Census-Income file: set REC_DATA_DIR to the shared data folder")
    result = runner.invoke(app, ["train", "mtl", "--model", "mmoe", "--data", "census-income", "--epochs", "3",
                                 "--output", str(tmp_path / "uwl"), "--json"])
    assert result.exit_code == 0, result.output
    assert "recipe census-income/mmoe (rec_trainers:recipes/census-income.toml): " in result.output
    config = (tmp_path / "uwl" / "config.toml").read_text()
    assert 'method = "uwl"' in config and "weight_decay = 0.0001" in config and "early_stopping_patience = 3" in config
    record = json.loads((tmp_path / "uwl" / "run.json").read_text())
    assert record["model_params"]["n_expert"] == 8 and record["model_params"]["expert_params"] == {"dims": [16]}
    assert record["recipe"]["overridden"] == ["max_epochs"]
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["test"]["test/task_0_auc"] > 0.85 and summary["epochs"] == 3  # --epochs beats the recipe's 30
    epoch = [r["metrics"] for r in read_metrics_jsonl(tmp_path / "uwl" / "metrics.jsonl")
             if r["type"] == "metrics" and "epoch" in r["metrics"]][-1]
    assert epoch["loss_weight/task_0"] != pytest.approx(1.0)  # UWL moved the weights
    equal = _train(app, "--model", "mmoe", "--data", "census-income", "--epochs", "1", "--weighter", "equal",
                   "--output", str(tmp_path / "equal"))
    epoch = [r["metrics"] for r in read_metrics_jsonl(tmp_path / "equal" / "metrics.jsonl")
             if r["type"] == "metrics" and "epoch" in r["metrics"]][-1]
    assert epoch["loss_weight/task_0"] == pytest.approx(1.0) and equal["epochs"] == 1  # the flag's weighter
