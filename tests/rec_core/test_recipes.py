"""Per-data-set recipes: shipped with a data set's registration, applied under the user's own settings.

A throwaway plugin registers a tiny trainer, two models and data sets whose recipe files live
in the plugin's package; the tests drive ``rec train`` and ``rec list datasets`` through the CLI.
"""

from __future__ import annotations

import json

import pytest
import torch

from rec_core.cli import build_app
from rec_core.cli._train import build_request
from rec_core.config import tomllib
from rec_core.errors import RecError
from rec_core.recipes import Recipe, format_value, recipe_for, recipe_models, resolve_recipe

from .cli_checks import fails_with, runner

PLUGIN = '''
import torch
from torch import nn
from rec_core import BaseTrainer, hookimpl
from rec_core.data import ColumnarLoader
from rec_core.errors import ConfigError
from rec_core.pipeline import PreparedRun


class TinyNet(nn.Module):
    def __init__(self, hidden=8):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.mlp(x["f"]).squeeze(-1)


class TinyTrainer(BaseTrainer):
    """Fit a tiny classifier on generated rows (test plugin)."""

    config_defaults = {"max_epochs": 3, "batch_size": 16, "learning_rate": 0.05, "monitor": "val/loss",
                       "progress_bar": False}
    default_model = "tinynet"

    def training_step(self, batch):
        x, y = batch
        return nn.functional.binary_cross_entropy_with_logits(self.network(x), y)

    @classmethod
    def from_request(cls, request, *, config, loggers):
        n = int(request.data_params.get("rows", 200))
        if n < 10:
            raise ConfigError(f"data.rows must be >= 10, got {n}")
        x = torch.randn(n, 3, generator=torch.Generator().manual_seed(5))
        y = (x[:, 0] > 0).float()
        loader = lambda a, b, **kw: ColumnarLoader({"f": x[a:b]}, y[a:b], batch_size=config.batch_size, **kw)
        model = cls.model_entry(request).load()(**request.model_params)
        trainer = cls(model, config, loggers=loggers)
        name = request.data.name if request.data is not None else "generated"
        return PreparedRun(trainer, loader(0, n // 2, shuffle=True, seed=config.random_seed),
                           loader(n // 2, 3 * n // 4), loader(3 * n // 4, n), info={"data": name})


@hookimpl
def rec_register_trainers(register):
    register("tiny", TinyTrainer)


@hookimpl
def rec_register_models(register):
    register("tinynet", TinyNet, task="tiny")
    register("widenet", TinyNet, task="tiny")


@hookimpl
def rec_register_datasets(register):
    register("toy", "tiny_plugin:TinyNet", task="tiny", recipe="tiny_recipes:toy.toml")
    register("bare", "tiny_plugin:TinyNet", task="tiny")
    register("every", "tiny_plugin:TinyNet", task="tiny", recipe="tiny_recipes:every.toml")
    register("typo", "tiny_plugin:TinyNet", task="tiny", recipe="tiny_recipes:typo.toml")
    register("flat", "tiny_plugin:TinyNet", task="tiny", recipe="tiny_recipes:flat.toml")
    register("gone", "tiny_plugin:TinyNet", task="tiny", recipe="tiny_recipes:missing.toml")
'''

TOY = '''
[tiny]
max_epochs = 2
batch_size = 8

[tiny.trainer.tinynet]
learning_rate = 0.2

[tiny.model.tinynet]
hidden = 5

[other]
batch_size = 99
'''


@pytest.fixture
def site(rec_plugin_site):
    rec_plugin_site.install("rec-tiny-recipes", entry_points={"rec": {"tiny": "tiny_plugin"}}, modules={
        "tiny_plugin.py": PLUGIN,
        "tiny_recipes/__init__.py": "",
        "tiny_recipes/toy.toml": TOY,
        "tiny_recipes/every.toml": "[tiny]\nbatch_size = 4\n",
        "tiny_recipes/typo.toml": "[tiny]\nbatch_sise = 4\n",
        "tiny_recipes/flat.toml": "[tiny]\nmodel = 3\n",
    })
    return rec_plugin_site


@pytest.fixture
def pm(site):
    return site.plugin_manager()


@pytest.fixture
def app(pm):
    return build_app(pm)


def _train(app, tmp_path, *args):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "tiny", *args, "--output", str(out), "--json"])
    assert result.exit_code == 0, result.output
    config = tomllib.loads((out / "config.toml").read_text())
    run = json.loads((out / "run.json").read_text())
    weights = torch.load(json.loads(result.stdout.strip().splitlines()[-1])["best_checkpoint"], weights_only=True)
    return result, config, run, weights["model"]["mlp.0.weight"].shape[0]


def test_a_model_with_its_own_tables_gets_the_task_settings_and_its_own(pm):
    recipe = resolve_recipe(pm, "toy", "tiny", "tinynet")
    assert recipe == Recipe("toy", "tiny", "tinynet", "tiny_recipes:toy.toml",
                            {"max_epochs": 2, "batch_size": 8, "learning_rate": 0.2}, {"hidden": 5})
    assert recipe_for(pm, "toy", "widenet", "tiny") == ({"max_epochs": 2, "batch_size": 8}, {})
    assert resolve_recipe(pm, "toy", "seq", "tinynet") is None  # no table for that task
    assert resolve_recipe(pm, "bare", "tiny", "tinynet") is None  # no recipe at all
    assert recipe_models(pm.registry("datasets").get("toy")) == {"tiny": ["tinynet"], "other": ["*"]}


def test_rec_train_applies_the_recipe_and_says_so(app, tmp_path):
    result, config, run, hidden = _train(app, tmp_path, "--data", "toy")  # default model: tinynet
    assert (config["max_epochs"], config["batch_size"], config["learning_rate"], hidden) == (2, 8, 0.2, 5)
    line = next(line for line in result.output.splitlines() if line.startswith("recipe "))
    assert line == ("recipe toy/tinynet (tiny_recipes:toy.toml): batch_size=8, learning_rate=0.2, max_epochs=2, "
                    "model.hidden=5; --recipe none to train without it")
    assert run["recipe"]["settings"] == {"max_epochs": 2, "batch_size": 8, "learning_rate": 0.2}
    assert run["recipe"]["model_params"] == {"hidden": 5}


def test_the_users_set_flags_and_config_file_win_over_the_recipe(app, tmp_path):
    user_config = tmp_path / "mine.toml"
    user_config.write_text("max_epochs = 1\n")
    result, config, run, hidden = _train(app, tmp_path, "--data", "toy", "--config", str(user_config),
                                         "--set", "batch_size=4", "--set", "model.hidden=3", "--lr", "0.01")
    assert (config["max_epochs"], config["batch_size"], config["learning_rate"], hidden) == (1, 4, 0.01, 3)
    assert "; yours: batch_size, learning_rate, max_epochs, model.hidden;" in result.output
    assert run["recipe"]["overridden"] == ["batch_size", "learning_rate", "max_epochs", "model.hidden"]


def test_recipe_none_trains_with_the_trainer_defaults(app, tmp_path):
    result, config, run, hidden = _train(app, tmp_path, "--data", "toy", "--recipe", "none")
    assert (config["max_epochs"], config["batch_size"], config["learning_rate"], hidden) == (3, 16, 0.05, 8)
    assert "recipe toy" not in result.output and "recipe" not in run


def test_another_model_gets_only_the_task_settings(app, tmp_path):
    result, config, _, hidden = _train(app, tmp_path, "--data", "toy", "--model", "widenet")
    assert (config["batch_size"], config["learning_rate"], hidden) == (8, 0.05, 8)
    assert "recipe toy/widenet (tiny_recipes:toy.toml): batch_size=8, max_epochs=2;" in result.output


def test_a_users_file_and_a_data_set_without_recipe_get_none(pm, tmp_path):
    table = tmp_path / "clicks.csv"
    table.write_text("f,label\n1,0\n")
    assert build_request(pm, "tiny", data=str(table), output=tmp_path / "a").recipe is None
    request = build_request(pm, "tiny", data="bare", output=tmp_path / "b")
    assert request.recipe is None and request.config.batch_size == 16


def test_rec_list_datasets_shows_which_models_have_a_recipe(app):
    result = runner.invoke(app, ["list", "datasets", "--json"])
    assert result.exit_code == 0, result.output
    recipes = {row["name"]: row["recipes"] for row in json.loads(result.output)}
    assert recipes["toy"] == {"tiny": ["tinynet"], "other": ["*"]}
    assert recipes["bare"] == {} and recipes["every"] == {"tiny": ["*"]}
    assert recipes["gone"].startswith("unreadable: data set 'gone': cannot read its recipe")
    table = runner.invoke(app, ["list", "datasets"], terminal_width=200)
    row = next(line for line in table.output.splitlines() if " toy " in line)
    assert "tiny: tinynet; other: all models" in row


def test_a_bad_request_with_a_recipe_is_still_one_line(app, tmp_path):
    fails_with(app, ["train", "tiny", "--data", "toy", "--set", "data.rows=3", "--output", str(tmp_path / "r")],
               "data.rows must be >= 10")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("data", "message"), [
    ("typo", "unknown config key 'batch_sise' in the recipe tiny_recipes:typo.toml; did you mean 'batch_size'?"),
    ("flat", "data set 'flat': recipe tiny_recipes:flat.toml: [tiny]: 'model' must hold one table per model"),
    ("gone", "data set 'gone': cannot read its recipe tiny_recipes:missing.toml"),
])
def test_a_broken_recipe_is_one_line_naming_the_file(app, tmp_path, data, message):
    fails_with(app, ["train", "tiny", "--data", data, "--output", str(tmp_path / "r")], message)


def test_read_recipe_errors_are_rec_errors(pm):
    with pytest.raises(RecError, match="cannot read its recipe"):
        recipe_models(pm.registry("datasets").get("gone"))


def test_recipe_values_print_as_set_reads_them():
    from rec_core.config import parse_value

    value = {"dims": [400, 400], "dropout": 0.2, "batch_norm": True, "name": "relu", "l2": 1e-05}
    assert format_value(value) == '{dims=[400, 400], dropout=0.2, batch_norm=true, name="relu", l2=1e-05}'
    assert parse_value(format_value(value)) == value
