"""A third-party trainer plugin (tests/fixtures/rec-toy-trainer) runs through ``rec train`` with no CLI code.

The fixture is a real project (installed for real by ``nox -s smoke``); here its sources are
installed as a throwaway distribution with the same entry point. It registers a trainer, a
model and a data set, and nothing else: the run folder, resume, ``rec plugins`` and
``rec predict`` come from rec-core's pipeline.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from rec_core.cli import build_app
from rec_core.loggers import read_metrics_jsonl

from .cli_checks import install_toy_trainer, runner


@pytest.fixture
def toy_app(rec_plugin_site):
    install_toy_trainer(rec_plugin_site)
    return build_app(rec_plugin_site.plugin_manager())


def _train(app, *args):
    result = runner.invoke(app, ["train", "rating", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_rec_plugins_lists_the_trainer_its_model_and_data_set(toy_app):
    result = runner.invoke(toy_app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    (toy,) = [p for p in json.loads(result.output) if p["name"] == "toy"]
    assert toy["distribution"] == "rec-toy-trainer" and toy["errors"] == []
    assert toy["registered"] == {"datasets": ["toy-ratings"], "models": ["mf"], "trainers": ["rating"]}
    assert "rating" in runner.invoke(toy_app, ["train", "--help"]).output


def test_rec_train_writes_a_normal_run_folder_and_learns(toy_app, tmp_path):
    out = tmp_path / "run"
    summary = _train(toy_app, "--epochs", "3", "--output", str(out), "--set", "model.dim=4")
    assert summary["model"] == "mf" and summary["data"] == "toy-ratings" and summary["epochs"] == 3
    for name in ("config.toml", "run.json", "model.json", "summary.json", "metrics.jsonl", "checkpoints/last.ckpt",
                 "checkpoints/checkpoints.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "run.json").read_text())["task"] == "rating"
    model = json.loads((out / "model.json").read_text())
    assert model["model"] == "mf" and model["model_params"] == {"dim": 4}
    assert model["targets"] == {"rating": "regression"}
    weights = torch.load(summary["best_checkpoint"], weights_only=True)["model"]
    assert weights["user.weight"].shape[1] == 4  # model.dim reached the model
    # Predicting the mean rating scores the rating's standard deviation; the model must beat it clearly.
    from rec_toy.data import TOY_RATINGS

    spread = float(np.std(TOY_RATINGS.load(seed=42).test.target))
    assert summary["test"]["test/rmse"] < 0.7 * spread, (summary["test"], spread)


def test_rec_train_resumes_the_run(toy_app, tmp_path):
    out = tmp_path / "run"
    _train(toy_app, "--epochs", "2", "--output", str(out))
    summary = _train(toy_app, "--epochs", "4", "--resume", str(out))
    assert summary["epochs"] == 4 and summary["output"] == str(out)
    records = read_metrics_jsonl(out / "metrics.jsonl")
    epochs = [r["metrics"]["epoch"] for r in records if r["type"] == "metrics" and "epoch" in r["metrics"]]
    assert epochs == [0, 1, 2, 3]


def test_rec_predict_scores_a_user_file_with_the_plugin_model(toy_app, tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"user": rng.integers(1, 50, 600), "item": rng.integers(1, 30, 600)})
    frame["rating"] = ((frame["user"] % 5) + 1).astype(float)  # a rating that depends on the user only
    frame.to_csv(tmp_path / "ratings.csv", index=False)
    out = tmp_path / "run"
    _train(toy_app, "--data", str(tmp_path / "ratings.csv"), "--set", "data.label=rating", "--set",
           "data.regression=rating", "--set", "data.sparse=['user', 'item']", "--epochs", "2", "--output", str(out))
    assert (out / "encoder.json").is_file()
    frame.drop(columns=["rating"]).head(25).to_csv(tmp_path / "new.csv", index=False)
    result = runner.invoke(toy_app, ["predict", str(out), "--data", str(tmp_path / "new.csv"),
                                     "--output", str(tmp_path / "scored.csv"), "--json"])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert len(scored) == 25 and list(scored.columns) == ["user", "item", "prediction"]
    assert scored["prediction"].between(-5, 10).all()
