"""``TrainingConfig.compile_model``: the network runs through ``torch.compile`` and trains like the eager one."""

from __future__ import annotations

import shutil

import pytest
import torch

from .trainer_fixtures import ClickTrainer, Logistic, loaders, settings, snapshot

needs_compiler = pytest.mark.skipif(
    not any(shutil.which(name) for name in ("g++", "clang++", "c++")),
    reason="torch.compile's CPU backend needs a C++ compiler (none on PATH)",
)


@needs_compiler
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")  # torch's own import
def test_a_compiled_network_trains_like_the_eager_one_and_saves_the_same_keys(tmp_path) -> None:
    runs = {}
    for compiled in (False, True):
        train, val = loaders(n_train=96, batch_size=32)
        torch.manual_seed(0)
        trainer = ClickTrainer(Logistic(), **settings(tmp_path / str(compiled), max_epochs=2, compile_model=compiled))
        trainer.fit(train, val, verbose=False)
        assert (trainer.network is not trainer.model) is compiled
        assert type(trainer.model) is Logistic
        runs[compiled] = snapshot(trainer.model)
    assert runs[True].keys() == runs[False].keys()
    for name, value in runs[False].items():
        torch.testing.assert_close(runs[True][name], value, rtol=1e-5, atol=1e-6)


def test_compile_is_off_by_default_and_leaves_the_network_alone(tmp_path) -> None:
    trainer = ClickTrainer(Logistic(), **settings(tmp_path))
    assert trainer.config.compile_model is False and trainer.network is trainer.model
