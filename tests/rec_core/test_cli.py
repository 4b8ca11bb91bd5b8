"""The ``rec`` command line: listing, ``rec train`` validation, errors and start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rec_core.cli import build_app

from . import plugin_sources as src
from .cli_checks import installed

runner = CliRunner()


@pytest.fixture
def widget_app(rec_plugin_site):
    rec_plugin_site.install(
        "rec-widgets", entry_points={"rec": {"widgets": "widgets_plugin"}}, modules={"widgets_plugin.py": src.WIDGETS}
    )
    pm = rec_plugin_site.plugin_manager()
    trainer = pm.registry("trainers").get("widget").load()
    trainer.seen.clear()
    return build_app(pm), trainer


def test_core_alone_lists_builtins_and_explains_how_to_get_trainers(rec_plugin_manager):
    app = build_app(rec_plugin_manager)
    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 0
    assert "jsonl" in result.output and "early-stopping" in result.output
    assert "pip install rec-trainers" in result.output
    listing = runner.invoke(app, ["list", "trainers"])
    assert listing.exit_code == 0 and "pip install" in listing.output and "rec-trainers" in listing.output
    loggers = json.loads(runner.invoke(app, ["list", "loggers", "--json"]).output)
    assert loggers == [
        {"description": "metrics.jsonl in the run folder", "name": "jsonl", "plugin": "core", "task": None}
    ]


def test_list_filters_models_by_task(widget_app):
    app, _ = widget_app
    models = json.loads(runner.invoke(app, ["list", "models", "--task", "widget", "--json"]).output)
    assert [m["name"] for m in models] == ["gizmo"]
    assert runner.invoke(app, ["list", "gadgets"]).exit_code == 2  # not a kind: Typer's usage error


def test_train_resolves_names_and_options_into_a_request(widget_app, tmp_path):
    app, trainer = widget_app
    config = tmp_path / "run.toml"
    config.write_text('max_epochs = 7\nbatch_size = 64\n[model]\nname = "gizmo"\ndepth = 3\n')
    result = runner.invoke(
        app,
        ["train", "widget", "--config", str(config), "--set", "batch_size=128", "--set", "model.depth=5",
         "--set", "optimizer_params={momentum = 0.9}", "--lr", "0.01", "--logger", "jsonl",
         "--output", str(tmp_path / "run")],
    )
    assert result.exit_code == 1 and "widget dry run: request recorded" in result.output, result.output
    (request,) = trainer.seen
    assert request.task == "widget"
    assert request.model.name == "gizmo"
    assert request.model_params == {"depth": 5}
    assert (request.config.max_epochs, request.config.batch_size, request.config.learning_rate) == (7, 128, 0.01)
    assert request.config.optimizer_params == {"momentum": 0.9}
    assert [entry.name for entry, _ in request.loggers] == ["jsonl"]
    assert request.output == tmp_path / "run"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "gizmoo"], "unknown widget model 'gizmoo'; did you mean 'gizmo'?"),
        (["--set", "max_epoch=3"], "unknown config key 'max_epoch' in --set; did you mean 'max_epochs'"),
        (["--set", "batch_size=big"], "config key 'batch_size' expects int, got str 'big'"),
        (["--logger", "wandb"], "'wandb' is provided by rec-tracking"),
        (["--data", "nosuch.csv"], "data file not found: nosuch.csv"),
        (["--resume", "nowhere.ckpt"], "cannot resume: checkpoint not found: nowhere.ckpt"),
        (["--set", "precision=8"], "config key 'precision' must be one of"),
    ],
)
def test_train_user_mistakes_are_one_red_line_with_exit_1(widget_app, args, message, tmp_path):
    app, trainer = widget_app
    result = runner.invoke(app, ["train", "widget", "--output", str(tmp_path / "out"), *args])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0
    assert trainer.seen == []


def test_malformed_set_is_a_usage_error_with_exit_2(widget_app):
    app, _ = widget_app
    result = runner.invoke(app, ["train", "widget", "--set", "noequals"])
    assert result.exit_code == 2
    assert "expected key=value" in result.output


def test_unknown_task_suggests_and_names_the_package(widget_app):
    app, _ = widget_app
    result = runner.invoke(app, ["train", "widgte"])
    assert result.exit_code == 1
    assert "unknown trainer 'widgte'; did you mean 'widget'?" in result.output
    result = runner.invoke(app, ["train", "ctr"])  # not loaded here: the widget plugin alone is allowed
    if installed("rec-trainers"):  # installed, but REC_LOAD_PLUGINS leaves it out: say so, not "pip install"
        assert "'ctr' is provided by rec-trainers, which is installed but switched off: plugin 'trainers' is " \
               "not in REC_LOAD_PLUGINS" in result.output
        assert "pip install" not in result.output
    else:
        assert "'ctr' is provided by rec-trainers: pip install rec-trainers" in result.output


def test_bad_config_file_is_named(widget_app, tmp_path):
    app, _ = widget_app
    bad = tmp_path / "bad.toml"
    bad.write_text("max_epochs = = 3\n")
    result = runner.invoke(app, ["train", "widget", "--config", str(bad)])
    assert result.exit_code == 1
    assert f"invalid TOML in {bad}" in result.output
    bad.write_text("learning_rat = 0.1\n")
    result = runner.invoke(app, ["train", "widget", "--config", str(bad)])
    assert f"unknown config key 'learning_rat' in {bad}; did you mean 'learning_rate'" in result.output


def test_existing_output_folder_is_never_overwritten(widget_app, tmp_path):
    app, trainer = widget_app
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text('{"precious": true}')
    result = runner.invoke(app, ["train", "widget", "--output", str(out)])
    assert result.exit_code == 1
    assert "already exists and is not empty" in result.output
    assert (out / "summary.json").read_text() == '{"precious": true}'
    assert trainer.seen == []


def test_debug_shows_the_traceback(widget_app):
    app, _ = widget_app
    result = runner.invoke(app, ["--debug", "train", "widget", "--model", "nope"])
    assert result.exit_code == 1
    assert result.exception is not None and "unknown widget model 'nope'" in str(result.exception)


def _rec_executable() -> str:
    path = Path(sysconfig.get_path("scripts")) / "rec"
    if not path.exists():
        pytest.skip(f"the rec console script is not installed in this environment ({path})")
    return str(path)


def test_installed_rec_entry_point_runs_for_real():
    rec = _rec_executable()
    env = {**os.environ, "REC_LOAD_PLUGINS": "-"}
    result = subprocess.run([rec, "plugins"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "core" in result.stdout
    result = subprocess.run([rec, "train", "nope"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: unknown trainer 'nope'")
    assert "Traceback" not in result.stderr


def test_rec_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from rec_core.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("NO-TORCH")
