"""``rec train ctr`` and ``rec predict`` through the command line, with the real plugin installed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rec_core.cli import build_app
from rec_core.plugins import make_plugin_manager

MODELS = make_plugin_manager().registry("models").names(task="ctr")  # every ctr model registered
runner = CliRunner()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    pm = make_plugin_manager()
    if "ctr" not in pm.registry("trainers"):
        pytest.skip("rec-trainers is not installed in this environment")
    return build_app(pm)


def _data_dir() -> Path:
    path = Path(os.environ.get("REC_DATA_DIR", "-"))
    if not (path / "rechub-samples").is_dir():
        pytest.skip(f"needs the shared real data sets: set REC_DATA_DIR (got {path})")
    return path


def _train(app, tmp_path, *args):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "ctr", *args, "--output", str(out), "--json"])
    return result, out


@pytest.mark.parametrize("model", MODELS)
def test_every_model_trains_on_the_bundled_data(app, tmp_path, model):
    result, out = _train(app, tmp_path, "--model", model, "--epochs", "2", "--batch-size", "256", "--lr", "0.01",
                         "--set", "data.rows=6000")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["model"] == model and summary["data"] == "synthetic-ctr"
    assert 0.5 < summary["best"]["val/auc"] <= summary["info"]["bayes_auc_val"] + 0.02
    assert {"test/auc", "test/logloss"} <= set(summary["test"])
    for name in ("config.toml", "run.json", "model.json", "summary.json", "metrics.jsonl", "checkpoints/last.ckpt"):
        assert (out / name).is_file(), name


@pytest.mark.parametrize("model", [m for m in MODELS if m != "din"])
def test_every_model_trains_on_criteo_sample(app, tmp_path, model):
    _data_dir()
    result, _ = _train(app, tmp_path, "--model", model, "--data", "criteo-sample", "--epochs", "2",
                       "--batch-size", "32")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["data"] == "criteo-sample" and summary["epochs"] >= 1


def test_din_on_data_without_a_history_says_why(app, tmp_path):
    _data_dir()
    result, out = _train(app, tmp_path, "--model", "din", "--data", "criteo-sample")
    assert result.exit_code == 1
    assert "din needs a SequenceFeature" in result.output and "(data set 'criteo-sample')" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_user_csv_trains_and_rec_predict_scores_a_new_file(app, tmp_path):
    source = _data_dir() / "rechub-samples" / "criteo" / "criteo_sample.csv"
    train_file = tmp_path / "clicks.csv"
    shutil.copy(source, train_file)
    result, out = _train(app, tmp_path, "--data", str(train_file), "--label", "label", "--epochs", "2",
                         "--batch-size", "16", "--set", "data.min_count=2")
    assert result.exit_code == 0, result.output
    assert (out / "encoder.json").is_file()

    new = pd.read_csv(source).drop(columns=["label"]).head(40)
    new.loc[0, "C1"] = "never-seen-category"  # maps to the OOV bucket, not an error
    new_file = tmp_path / "new.csv"
    new.to_csv(new_file, index=False)
    scored = tmp_path / "scored.csv"
    result = runner.invoke(app, ["predict", str(out), "--data", str(new_file), "--output", str(scored), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["rows"] == 40
    predictions = pd.read_csv(scored)
    assert len(predictions) == 40 and predictions["prediction"].between(0, 1).all()
    assert list(predictions.columns[:-1]) == list(new.columns)

    again = runner.invoke(app, ["predict", str(out), "--data", str(new_file), "--output", str(scored)])
    assert again.exit_code == 1 and "already exists" in again.output  # never overwritten

    missing = new.drop(columns=["C7"])
    missing.to_csv(new_file, index=False)
    result = runner.invoke(app, ["predict", str(out), "--data", str(new_file), "--output", str(tmp_path / "x.csv")])
    assert result.exit_code == 1 and "'C7'" in result.output and str(new_file) in result.output


def _bad(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "text", "label", "expected"),
    [
        ("nolabel.csv", "a,b\n1,x\n2,y\n", "click", "label column 'click' missing in"),
        ("threeway.csv", "click,a\n0,x\n1,y\n2,z\n", "click", "has value 2 at row 3; expected 0 or 1"),
        ("nanlabel.csv", "click,a\n0,x\n,y\n1,z\n", "click", "is missing (NaN) at row 2"),
        ("empty.csv", "", "click", "is empty"),
        ("table.xlsx", "click,a\n0,x\n", "click", "unknown format '.xlsx'"),
    ],
)
def test_bad_data_is_one_line_before_training_and_touches_nothing(app, tmp_path, name, text, label, expected):
    path = _bad(tmp_path, name, text)
    result, out = _train(app, tmp_path, "--data", str(path), "--label", label)
    assert result.exit_code == 1, result.output
    assert expected in result.output and str(path) in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()  # no run folder, no checkpoint written


def test_bad_data_does_not_touch_an_existing_run(app, tmp_path):
    good, out = _train(app, tmp_path, "--epochs", "1", "--set", "data.rows=3000")
    assert good.exit_code == 0, good.output
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = _bad(tmp_path, "bad.csv", "click,a\n0,x\n7,y\n")
    result = runner.invoke(app, ["train", "ctr", "--data", str(bad), "--label", "click", "--resume", str(out)])
    assert result.exit_code == 1
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
