"""Bad input to ``rec train ctr`` and its Python API: one line, exit 1, and nothing written or changed.

The classes of mistakes a new user makes with their own file and options: unknown data
options, malformed model options, duplicate column names, data that cannot train, a
checkpoint of another data set's model, a plugin switched off by REC_DISABLE_PLUGINS.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rec_core.cli import build_app
from rec_core.datasets import load_table
from rec_core.errors import ConfigError, DataError, UnknownNameError
from rec_core.plugins import DISABLE_ENV, make_plugin_manager
from rec_core.run import TrainRequest

from ..rec_core.cli_checks import fails_with, runner, snapshot


@pytest.fixture
def app(pm):
    return build_app(pm)


@pytest.fixture
def criteo_csv(tmp_path) -> Path:
    source = Path(os.environ.get("REC_DATA_DIR", "-")) / "rechub-samples" / "criteo" / "criteo_sample.csv"
    if not source.is_file():
        pytest.skip(f"needs the shared real data sets: set REC_DATA_DIR (looked for {source})")
    return Path(shutil.copy(source, tmp_path / "clicks.csv"))


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_unknown_data_option_of_a_user_file(app, criteo_csv, tmp_path):
    out = tmp_path / "run"
    before = snapshot(tmp_path)
    fails_with(app, ["train", "ctr", "--data", str(criteo_csv), "--label", "label", "--set", "data.spars=C1",
                     "--output", str(out)], "unknown option 'spars'")
    assert snapshot(tmp_path) == before
    with pytest.raises(ConfigError, match=r"unknown option 'spars'.*sparse"):
        load_table(criteo_csv, label="label", spars=["C1"])


def test_malformed_model_option(app, pm, tmp_path):
    out = tmp_path / "run"
    fails_with(app, ["train", "ctr", "--set", "model.mlp_params={dims=\"abc\"}", "--set", "data.rows=2000",
                     "--output", str(out)], "model 'deepfm': bad options {'mlp_params': {'dims': 'abc'}}")
    assert not out.exists()
    trainer_cls = pm.registry("trainers").get("ctr").load()
    data = pm.registry("datasets").get("synthetic-ctr").load().load(rows=2000)
    with pytest.raises(ConfigError, match="model 'deepfm': bad options"):
        trainer_cls.build_model(pm.registry("models").get("deepfm", task="ctr"), {"mlp_params": {"dims": "abc"}},
                                data)


def test_duplicate_column_names_are_named(app, tmp_path):
    path = _write(tmp_path, "dup.csv", "click,city,city\n0,a,b\n1,c,d\n0,e,f\n1,g,h\n")
    fails_with(app, ["train", "ctr", "--data", str(path), "--label", "click", "--output", str(tmp_path / "run")],
               f"column 'city' appears twice in {path}")
    assert not (tmp_path / "run").exists()
    with pytest.raises(DataError, match="column 'city' appears twice"):
        load_table(path, label="click")


@pytest.mark.parametrize(("text", "message"), [
    ("click,a\n1,x\n", "has 1 data row"),
    ("click,a\n" + "".join(f"1,{c}\n" for c in "abcdefghijklmnopqrst"), "only the value 1"),
])
def test_data_that_cannot_train(app, tmp_path, text, message):
    path = _write(tmp_path, "small.csv", text)
    output = fails_with(app, ["train", "ctr", "--data", str(path), "--label", "click",
                              "--output", str(tmp_path / "run")], message)
    assert str(path) in output and not (tmp_path / "run").exists()
    with pytest.raises(DataError, match=message):
        load_table(path, label="click")


def test_checkpoint_of_another_data_sets_model(app, tmp_path):
    out = tmp_path / "run"
    assert runner.invoke(app, ["train", "ctr", "--epochs", "1", "--set", "data.rows=2000", "--set", "data.vocab_cap=50",
                               "--output", str(out)]).exit_code == 0
    before = snapshot(out)
    output = fails_with(app, ["train", "ctr", "--set", "data.rows=2000", "--set", "data.vocab_cap=20",
                              "--resume", str(out)], "model weights do not match DeepFM")
    assert "shape:" in output and len(output) < 500
    assert snapshot(out) == before  # the run's record (config.toml, run.json, model.json) is untouched


def test_a_disabled_plugin_is_named_with_the_variable(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "trainers")
    app = build_app(make_plugin_manager())
    output = fails_with(app, ["train", "ctr"], f"plugin 'trainers' is blocked by {DISABLE_ENV}")
    assert "pip install" not in output
    with pytest.raises(UnknownNameError, match=f"switched off: plugin 'trainers' is blocked by {DISABLE_ENV}"):
        make_plugin_manager().registry("models").get("deepfm", task="ctr")


def test_the_api_request_fails_before_the_folder_is_written(pm, criteo_csv, tmp_path):
    from rec_core.cli._train import build_request
    from rec_core.pipeline import run_training

    out = tmp_path / "api-run"
    request: TrainRequest = build_request(pm, "ctr", data=str(criteo_csv), sets=["data.label=label", "data.bogus=1"],
                                          output=out)
    with pytest.raises(ConfigError, match="unknown option 'bogus'"):
        run_training(request.trainer.load(), request)
    assert not out.exists()
