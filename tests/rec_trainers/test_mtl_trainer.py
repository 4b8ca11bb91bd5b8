"""MTLTrainer: torch-rechub's API on the engine, per-task losses, metrics, weights and early stopping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rec_core.data import ColumnarLoader
from rec_core.errors import ConfigError
from rec_core.loggers import BaseLogger
from rec_trainers.trainers.mtl import MTLTrainer


class TwoTask(nn.Module):
    """A shared bottom and one linear head per task (the shape of SharedBottom)."""

    def __init__(self, task_types=("classification", "classification"), n_inputs: int = 4) -> None:
        super().__init__()
        self.task_types = list(task_types)
        self.bottom = nn.Sequential(nn.Linear(n_inputs, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU())
        self.heads = nn.ModuleList(nn.Linear(8, 1) for _ in self.task_types)

    def forward(self, x):
        hidden = self.bottom(x["f"])
        return torch.cat([head(hidden) for head in self.heads], dim=1)

    def shared_parameters(self):
        return list(self.bottom.parameters())

    def last_shared_parameters(self):
        return list(self.bottom[2].parameters())


class ListLogger(BaseLogger):
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def log_metrics(self, metrics, step=None):
        self.rows.append(dict(metrics))


def two_task_data(n: int, seed: int, regression_second: bool = False):
    """Return features and (n, 2) targets: task 0 a click rule, task 1 a click or a value from other features."""
    gen = torch.Generator().manual_seed(seed)
    f = torch.randn(n, 4, generator=gen)
    first = (f[:, 0] + 0.5 * f[:, 1] > 0).float()
    second = f[:, 2] - f[:, 3] if regression_second else (f[:, 2] - f[:, 3] > 0).float()
    return {"f": f}, torch.stack([first, second], dim=1)


def loaders(regression_second: bool = False):
    x, y = two_task_data(1200, 0, regression_second)
    train = ColumnarLoader({"f": x["f"][:1000]}, y[:1000], batch_size=100, shuffle=True, seed=1)
    val = ColumnarLoader({"f": x["f"][1000:]}, y[1000:], batch_size=500)
    return train, val


def make(tmp_path, model=None, **kwargs):
    torch.manual_seed(0)
    settings = {"optimizer_params": {"lr": 0.01}, "n_epoch": 3, "device": "cpu", "model_path": str(tmp_path),
                "progress_bar": False}
    return MTLTrainer(model or TwoTask(), kwargs.pop("task_types", ["classification", "classification"]),
                      **{**settings, **kwargs})


def test_fit_logs_the_seed_names_and_learns_both_tasks(tmp_path):
    logger = ListLogger()
    trainer = make(tmp_path, model_logger=logger)
    train, val = loaders()
    best_score, best = trainer.fit(train, val)
    assert trainer.monitor == "val/task_0_score" and trainer.config.mode == "max"
    epochs = [row for row in logger.rows if "epoch" in row]
    assert len(epochs) == 3
    for key in ("train/task_0_loss", "train/task_1_loss", "loss_weight/task_0", "loss_weight/task_1",
                "learning_rate", "val/task_0_score", "val/task_1_score", "val/task_0_auc", "val/task_1_logloss"):
        assert key in epochs[-1], key
    assert best["val/task_0_auc"] > 0.9 and best["val/task_1_auc"] > 0.9
    assert best_score == best["val/task_0_score"]
    assert (tmp_path / "model_base_0.pth").is_file()  # torch-rechub's file name for the best weights


def test_torch_rechub_evaluate_and_predict_forms(tmp_path):
    trainer = make(tmp_path)
    train, val = loaders()
    trainer.fit(train, val, mode="uwl", seed=3)
    scores = trainer.evaluate(trainer.model, val)
    assert isinstance(scores, list) and len(scores) == 2 and all(0.5 < s <= 1 for s in scores)
    assert trainer.evaluate(val)["task_0_score"] == pytest.approx(scores[0])  # RecBole form
    x, _ = two_task_data(7, 5)
    rows = trainer.predict(trainer.model, ColumnarLoader(x, batch_size=4))
    assert len(rows) == 7 and all(len(row) == 2 and all(0 <= p <= 1 for p in row) for row in rows)
    assert (tmp_path / "model_uwl_3.pth").is_file()


def test_regression_task_is_scored_by_mse_and_early_stopping_follows_its_task(tmp_path):
    trainer = make(tmp_path, model=TwoTask(("classification", "regression")),
                   task_types=["classification", "regression"], earlystop_taskid=1)
    assert trainer.monitor == "val/task_1_score" and trainer.config.mode == "min"
    train, val = loaders(regression_second=True)
    _, best = trainer.fit(train, val)
    assert set(best) == {"val/task_0_score", "val/task_0_auc", "val/task_0_logloss", "val/task_1_score",
                         "val/task_1_mse"}
    assert best["val/task_1_mse"] == best["val/task_1_score"] < 1.0  # the target's variance is 2


def test_early_stopping_restores_the_best_weights_of_the_chosen_task(tmp_path):
    trainer = make(tmp_path, n_epoch=8, earlystop_patience=1, earlystop_taskid=1)
    train, val = loaders()
    best_score, _ = trainer.fit(train, val)
    assert trainer.evaluate(val)["task_1_score"] == pytest.approx(best_score)


def test_weighter_gets_the_models_declared_shared_layers(tmp_path):
    model = TwoTask()
    trainer = make(tmp_path, model=model)
    assert trainer.shared_parameters() == list(model.bottom.parameters())
    assert trainer.last_shared_parameters() == list(model.bottom[2].parameters())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"task_types": ["classification", "ranking"]}, "unknown task type 'ranking'"),
    ({"earlystop_taskid": 2}, "earlystop_taskid 2 is out of range: the model has 2 tasks"),
])
def test_bad_settings_are_one_line_config_errors(tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make(tmp_path, **kwargs)


def test_a_model_with_fewer_outputs_than_tasks_is_named(tmp_path):
    trainer = make(tmp_path, model=TwoTask(("classification",)), task_types=["classification", "classification"])
    train, val = loaders()
    with pytest.raises(ConfigError, match="TwoTask returned 1 outputs for 2 tasks"):
        trainer.fit(train, val)


def test_task_outputs_are_independent_of_batch_composition(tmp_path):
    trainer = make(tmp_path)
    x, _ = two_task_data(10, 9)
    full = np.array(trainer.predict(trainer.model, ColumnarLoader(x, batch_size=10)))
    split = np.array(trainer.predict(trainer.model, ColumnarLoader(x, batch_size=3)))
    np.testing.assert_allclose(full, split, rtol=1e-6)


def test_only_the_tasks_a_model_trains_get_a_loss(tmp_path):
    model = TwoTask()
    model.trained_tasks = (1,)  # as ESMM trains CTR and CTCVR but not its CVR output
    logger = ListLogger()
    trainer = make(tmp_path, model=model, model_logger=logger, n_epoch=1)
    assert trainer.loss_names == ["task_1"]
    train, val = loaders()
    _, best = trainer.fit(train, val)
    (epoch,) = [row for row in logger.rows if "epoch" in row]
    assert "train/task_1_loss" in epoch and "train/task_0_loss" not in epoch
    assert {"val/task_0_auc", "val/task_1_auc"} <= set(best)  # every output is still evaluated
    model.trained_tasks = (2,)
    with pytest.raises(ConfigError, match=r"trained_tasks \[2\] must be task indices below 2"):
        make(tmp_path, model=model)


def test_the_weighter_learns_the_factor_the_loss_was_scaled_by(tmp_path):
    from rec_core.weighting import EqualWeighter

    class Recording(EqualWeighter):
        def __init__(self, task_names):
            super().__init__(task_names)
            self.seen: list[float] = []

        def after_backward(self, losses, shared_parameters, *, loss_scale=1.0):
            self.seen.append(loss_scale)

    weighter = Recording(["task_0", "task_1"])
    trainer = make(tmp_path, n_epoch=1, loss_weighter=weighter, accumulate_grad_batches=2)
    train, val = loaders()
    trainer.fit(train, val)
    assert weighter.seen and set(weighter.seen) == {0.5}  # each micro-batch's loss was halved


@pytest.mark.parametrize("method", ["uwl", "gradnorm", "metabalance"])
def test_resume_with_a_weighter_is_bit_identical(tmp_path, method):
    """Two epochs straight equal one epoch, a checkpoint, and a resumed second epoch (weighter state included)."""
    train, val = loaders()

    def trainer(folder, epochs):
        return make(folder, n_epoch=epochs, adaptive_params={"method": method}, random_seed=7, optimizer="SGD",
                    optimizer_params={"lr": 0.05})

    straight = trainer(tmp_path / "a", 2)
    straight.fit(train, val)
    first = trainer(tmp_path / "b", 1)
    first.fit(train, val)
    resumed = trainer(tmp_path / "c", 2)
    resumed.resume_checkpoint(tmp_path / "b" / "last.ckpt")
    resumed.fit(train, val)
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    for name, tensor in straight.loss_weighter.state_dict().items():
        assert torch.equal(tensor, resumed.loss_weighter.state_dict()[name]), name
    assert straight.loss_weighter.state_dict()  # the weighter has state to carry over


def test_every_model_runs_with_every_weighter(tmp_path):
    import os
    from pathlib import Path

    from rec_core.plugins import make_plugin_manager

    if not (Path(os.environ.get("REC_DATA_DIR", "-")) / "rechub-samples" / "census-income").is_dir():
        pytest.skip("needs torch-rechub's census sample: set REC_DATA_DIR")
    pm = make_plugin_manager()
    data = pm.registry("datasets").get("census-income-sample").load().load(seed=1)
    task_types = ["classification", "classification"]
    models = pm.registry("models").names(task="mtl")
    assert models == ["aitm", "esmm", "mmoe", "ple", "sharedbottom"]
    for name in models:
        for method in (None, "uwl", "gradnorm", "metabalance"):
            torch.manual_seed(0)
            model = pm.registry("models").get(name, task="mtl").load().from_features(data.features, task_types)
            trainer = MTLTrainer(model, task_types, n_epoch=2, device="cpu", model_path=str(tmp_path),
                                 adaptive_params={"method": method} if method else None, progress_bar=False,
                                 batch_size=16)
            loaders_ = trainer.make_loaders(data)
            before = [p.detach().clone() for p in trainer.shared_parameters()]
            trainer.fit(loaders_["train"], loaders_["val"], verbose=False)
            assert trainer.current_epoch >= 1, (name, method)
            assert any(not torch.equal(b, p) for b, p in zip(before, trainer.shared_parameters(), strict=True))
            scores = trainer.evaluate(trainer.model, loaders_["test"])
            assert len(scores) == 2 and all(0 <= s <= 1 for s in scores), (name, method, scores)
