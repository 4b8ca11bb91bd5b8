"""TrainingConfig: validation, TOML round trip and torch-rechub keyword mapping."""

from __future__ import annotations

import pytest

from rec_core.config import TrainingConfig, parse_value, split_rechub_kwargs
from rec_core.errors import ConfigError


def test_toml_round_trip_keeps_every_value(tmp_path):
    config = TrainingConfig(
        max_epochs=3, precision="bf16", gpus=[0, 1], optimizer_params={"betas": [0.8, 0.9]},
        scheduler="StepLR", scheduler_params={"step_size": 2}, gradient_clip_val=1.5, version="v7",
    )
    path = tmp_path / "config.toml"
    config.to_toml(path)
    assert TrainingConfig.from_toml(path) == config


def test_unknown_key_names_the_key_and_suggests(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("batch_sise = 3\n")
    with pytest.raises(ConfigError, match=rf"unknown config key 'batch_sise' in {path}; did you mean 'batch_size'"):
        TrainingConfig.from_toml(path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_epochs", "ten", "config key 'max_epochs' expects int, got str 'ten'"),
        ("max_epochs", 2.5, "config key 'max_epochs' expects int, got float 2.5"),
        ("progress_bar", 1, "config key 'progress_bar' expects bool, got int 1"),
        ("gpus", ["a"], "config key 'gpus' expects int or list[int]"),
        ("max_epochs", 0, "config key 'max_epochs' must be >= 1"),
        ("mode", "up", "config key 'mode' must be 'min' or 'max'"),
    ],
)
def test_wrong_types_and_values_name_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TrainingConfig.from_dict({key: value})


def test_ints_are_accepted_for_floats():
    config = TrainingConfig(learning_rate=1)
    assert config.learning_rate == 1.0 and isinstance(config.learning_rate, float)


def test_rechub_keyword_arguments_map_onto_fields():
    import torch

    values, objects = split_rechub_kwargs(
        {
            "n_epoch": 5,
            "earlystop_patience": 2,
            "optimizer_fn": torch.optim.SGD,
            "optimizer_params": {"lr": 0.1, "weight_decay": 1e-5, "momentum": 0.9},
            "scheduler_fn": torch.optim.lr_scheduler.StepLR,
            "scheduler_params": {"step_size": 1},
            "device": "cpu",
            "gpus": (0,),
            "model_path": "./saved",
        }
    )
    config = TrainingConfig.from_dict(values)
    assert config.max_epochs == 5 and config.early_stopping_patience == 2
    assert config.learning_rate == 0.1 and config.weight_decay == 1e-5
    assert config.optimizer_params == {"momentum": 0.9}
    assert config.optimizer == "torch.optim.sgd.SGD"
    assert config.scheduler == "torch.optim.lr_scheduler.StepLR"
    assert config.checkpoint_dir == "./saved" and config.gpus == [0]
    assert objects == {"optimizer_fn": torch.optim.SGD, "scheduler_fn": torch.optim.lr_scheduler.StepLR}


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), ("1e-3", 0.001), ("true", True), ("[1, 2]", [1, 2]), ("adamw", "adamw"), ('"7"', "7")],
)
def test_parse_value(text, value):
    assert parse_value(text) == value


def test_resolved_mode_follows_the_metric():
    assert TrainingConfig(monitor="val/auc").resolved_mode() == "max"
    assert TrainingConfig(monitor="val/logloss").resolved_mode() == "min"
    assert TrainingConfig(monitor="val/auc", mode="min").resolved_mode() == "min"


def test_resolved_mode_of_an_unknown_metric_asks_for_mode():
    with pytest.raises(ConfigError, match="cannot tell whether 'val/my_score' should rise or fall: set mode="):
        TrainingConfig(monitor="val/my_score").resolved_mode()
    assert TrainingConfig(monitor="val/my_score", mode="max").resolved_mode() == "max"
