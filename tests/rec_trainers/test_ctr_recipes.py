"""The frappe recipe: a tuned first run for every ctr model, applied, printed and overridable; no training here.

The recipe's quality is measured by ``benchmarks/ctr_quality.py``; these tests check that each
model's recipe builds its model and trainer, reaches the run through ``rec train``, and that
the user's settings win over it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from rec_core.cli import build_app
from rec_core.cli._train import build_request
from rec_core.features import SparseFeature
from rec_core.recipes import recipe_for, recipe_models

from ..rec_core.cli_checks import fails_with, runner, snapshot

# frappe's ten fields with their vocabulary sizes (id 0 included), as FRAPPE.load builds them
FIELDS = {"user": 958, "item": 4083, "daytime": 8, "weekday": 8, "isweekend": 3, "homework": 4, "cost": 3,
          "weather": 10, "country": 81, "city": 234}


@pytest.fixture(scope="module")
def app(pm):
    return build_app(pm)


def _models(pm) -> list[str]:
    return pm.registry("models").names(task="ctr")


def _frappe_features() -> list[SparseFeature]:
    return [SparseFeature(name, size, 10) for name, size in FIELDS.items()]


def test_every_ctr_model_but_din_has_a_frappe_recipe(pm):
    listed = recipe_models(pm.registry("datasets").get("frappe"))
    assert listed == {"ctr": sorted(set(_models(pm)) - {"din"})}


def test_each_recipe_builds_its_model_and_a_bars_style_trainer(pm, tmp_path):
    from rec_trainers.trainers.ctr import CTRTrainer

    batch = {name: torch.randint(1, size, (6,)) for name, size in FIELDS.items()}
    for name in sorted(set(_models(pm)) - {"din"}):
        settings, params = recipe_for(pm, "frappe", name, "ctr")
        model = pm.registry("models").get(name, task="ctr").load().from_features(_frappe_features(), **params)
        trainer = CTRTrainer(model, config=CTRTrainer.default_config().replace(**settings), device="cpu",
                             model_path=str(tmp_path / name))
        assert isinstance(trainer.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau), name
        assert trainer.scheduler.mode == "max" and trainer.config.monitor == "val/auc", name
        assert trainer.config.gradient_clip_val == 10.0 and trainer.config.early_stopping_patience == 2, name
        assert not any(getattr(m, "sparse", False) for m in model.modules()), name  # the L2 penalty needs dense rows
        model.train()
        assert model(batch).shape == (6,), name


def test_deepfm_is_the_default_and_the_users_set_wins(pm, tmp_path):
    request = build_request(pm, "ctr", data="frappe", output=tmp_path / "a")
    assert request.recipe.model == "deepfm" and request.config.batch_size == 4096
    assert request.model_params["mlp_params"] == {"dims": [400, 400, 400], "dropout": 0.2, "batch_norm": True}
    mine = build_request(pm, "ctr", data="frappe", output=tmp_path / "b", flags={"learning_rate": 0.01},
                         sets=["embedding_l2=0.001", "model.mlp_params={dims=[64]}"])
    assert mine.config.learning_rate == 0.01 and mine.config.embedding_l2 == 0.001
    assert mine.model_params["mlp_params"] == {"dims": [64]} and mine.config.batch_size == 4096
    assert mine.recipe.overridden == ("embedding_l2", "learning_rate", "model.mlp_params")
    bare = build_request(pm, "ctr", data="frappe", output=tmp_path / "c", recipe=False)
    assert bare.recipe is None and not bare.model_params
    assert bare.config.batch_size == bare.trainer.load().config_defaults["batch_size"]


def test_a_users_csv_gets_no_recipe(pm, tmp_path):
    table = tmp_path / "clicks.csv"
    table.write_text("user,item,label\n1,2,0\n3,4,1\n")
    request = build_request(pm, "ctr", data=str(table), output=tmp_path / "r", extras={"data.label": "label"})
    assert request.recipe is None and request.config.batch_size == 2048


@pytest.mark.parametrize("model", ["deepfm", "fm", "xdeepfm"])
def test_rec_train_ctr_on_frappe_prints_the_recipe_it_applied(app, monkeypatch, tmp_path, model):
    """Stop right after the run is validated: the recipe line is printed, no epoch is trained."""
    import rec_core.pipeline

    seen = {}

    def validated_only(trainer_cls, request, *, on_start=None):
        seen["request"] = request
        on_start()
        return {"task": "ctr", "model": model, "data": "frappe", "best": {}, "test": {}, "epochs": 0,
                "global_step": 0, "seconds": 0.0, "best_checkpoint": None}

    monkeypatch.setattr(rec_core.pipeline, "run_training", validated_only)
    result = runner.invoke(app, ["train", "ctr", "--data", "frappe", "--model", model, "--set", "max_epochs=3",
                                 "--output", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("recipe "))
    assert line.startswith(f"recipe frappe/{model} (rec_trainers:recipes/frappe.toml): batch_size=4096, ")
    assert "; yours: max_epochs; --recipe none to train without it" in line
    assert seen["request"].config.max_epochs == 3


def test_din_on_frappe_fails_with_a_one_line_reason(app, tmp_path):
    if not (Path(os.environ.get("REC_DATA_DIR", "-")) / "frappe").is_dir():
        pytest.skip("needs the shared real data sets: set REC_DATA_DIR")
    fails_with(app, ["train", "ctr", "--model", "din", "--data", "frappe", "--output", str(tmp_path / "r")],
               "din needs a SequenceFeature")
    assert not (tmp_path / "r").exists()


def test_linear_init_restarts_every_dense_layer(pm):
    from rec_core.errors import ConfigError

    deepfm = pm.registry("models").get("deepfm", task="ctr").load()
    torch.manual_seed(0)
    model = deepfm.from_features(_frappe_features(), linear_init="xavier_normal",
                                 mlp_params={"dims": [400, 400], "batch_norm": True})
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(layers) == 3 and all(not m.bias.detach().any() for m in layers)
    std = float(layers[1].weight.detach().std())
    assert abs(std - (2 / 800) ** 0.5) < 0.005  # Xavier-normal; PyTorch's default would give 1/sqrt(3 * 400) = 0.029
    with pytest.raises(ConfigError, match="unknown linear_init 'he'"):
        deepfm.from_features(_frappe_features(), linear_init="he")


def test_the_installed_rec_resumes_a_frappe_run_from_its_folder_alone(tmp_path):
    """``rec train ctr --resume RUN`` continues with the run's data, model and recipe; no need to repeat them."""
    import json
    import subprocess

    from rec_core.loggers import read_metrics_jsonl

    from ..rec_core.test_cli import _rec_executable

    if not (Path(os.environ.get("REC_DATA_DIR", "-")) / "frappe").is_dir():
        pytest.skip("needs the shared real data sets: set REC_DATA_DIR")
    rec, out = _rec_executable(), tmp_path / "run"

    def run(*args):
        return subprocess.run([rec, *args], capture_output=True, text=True, timeout=600)

    first = run("train", "ctr", "--data", "frappe", "--model", "fm", "--set", "max_epochs=1", "--output", str(out))
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = run("train", "ctr", "--resume", str(out), "--set", "max_epochs=2", "--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["data"] == "frappe" and summary["model"] == "fm" and summary["epochs"] == 2
    assert summary["test"]["test/auc"] > 0.9  # FM learned frappe, through both halves of the run
    records = read_metrics_jsonl(out / "metrics.jsonl")
    assert [r["metrics"]["epoch"] for r in records if r["type"] == "metrics" and "epoch" in r["metrics"]] == [0, 1]
    assert "batch_size = 4096" in (out / "config.toml").read_text()  # the recipe's setting, kept
    before = snapshot(out)
    wrong = run("train", "seq", "--resume", str(out))
    assert wrong.returncode == 1 and wrong.stderr.strip() == (
        f"error: {out} is a 'ctr' run: continue it with rec train ctr --resume {out}")
    assert snapshot(out) == before


def test_every_config_key_of_every_rec_trainers_trainer_is_documented(pm) -> None:
    from rec_core.config_docs import describe_settings

    for task in ("ctr", "match", "mtl", "seq"):
        trainer = pm.registry("trainers").get(task).load()
        assert [d.name for d in describe_settings(trainer.default_config()) if not d.description] == [], task


def test_the_installed_rec_lists_ctr_settings_and_refuses_capture_step_on_the_cpu(tmp_path):
    import json
    import subprocess

    from ..rec_core.test_cli import _rec_executable

    rec = _rec_executable()
    listed = subprocess.run([rec, "settings", "ctr", "--json"], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["batch_size"]["default"] == 2048 and rows["capture_step"]["default"] is False
    assert "sparse" in rows["sparse_embeddings"]["description"] and rows["embedding_l2"]["description"]
    unknown = subprocess.run([rec, "settings", "nope"], capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 1 and "unknown trainer 'nope'" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1 and "Traceback" not in unknown.stderr
    out = tmp_path / "run"
    refused = subprocess.run([rec, "train", "ctr", "--epochs", "1", "--set", "capture_step=true", "--device", "cpu",
                              "--output", str(out)], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.strip() == "error: capture_step: needs a CUDA device (this run trains on cpu)"
    assert not out.exists()  # nothing written
    # Resuming a finished run with it is refused the same way, and the run folder stays byte-identical.
    trained = subprocess.run([rec, "train", "ctr", "--epochs", "1", "--device", "cpu", "--output", str(out)],
                             capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr
    before = snapshot(out)
    resumed = subprocess.run([rec, "train", "ctr", "--resume", str(out), "--epochs", "2", "--set", "capture_step=true"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 1 and "capture_step: needs a CUDA device" in resumed.stderr
    assert snapshot(out) == before
