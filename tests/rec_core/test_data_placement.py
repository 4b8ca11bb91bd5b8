"""Tests for ``TrainingConfig.data_on_device``: a ColumnarLoader's columns moved to the accelerator once.

The decision is a pure function (tested here for every case); moving and training on CUDA
is tested where CUDA exists.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from rec_core import ConfigError, TrainingConfig
from rec_core.data import ColumnarDataset, ColumnarLoader
from rec_core.trainer._placement import AUTO_FREE_FRACTION, place_loader, wants_device_data

from .trainer_fixtures import ClickTrainer, Logistic, loaders, settings, snapshot

CUDA = torch.device("cuda", 0)
CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("setting", "device", "nbytes", "free", "expected"),
    [
        ("auto", CUDA, 100, 400, True),  # exactly a quarter of the free memory
        ("auto", CUDA, 101, 400, False),
        ("auto", CUDA, 1, None, False),  # free memory unknown: stay on the host
        (True, CUDA, 10**12, 1, True),  # forced, even when it may not fit
        (False, CUDA, 1, 10**12, False),
        (True, CPU, 1, None, False),  # the CPU is where the data already is
        ("auto", CPU, 1, 10**12, False),
    ],
)
def test_the_data_goes_to_the_device_when_the_setting_and_the_budget_say_so(setting, device, nbytes, free,
                                                                            expected) -> None:
    assert AUTO_FREE_FRACTION == 0.25
    assert wants_device_data(setting, device, nbytes, free) is expected


def test_a_loader_reports_its_size_and_moving_to_where_it_is_changes_nothing() -> None:
    dataset = ColumnarDataset({"a": torch.arange(10), "b": torch.zeros(10, 3)}, torch.ones(10))
    assert dataset.nbytes == 10 * 8 + 30 * 4 + 10 * 4
    assert dataset.device == CPU and dataset.to("cpu") is dataset
    loader = ColumnarLoader(dataset, batch_size=4, shuffle=True, seed=1)
    assert loader.to("cpu") is loader
    assert place_loader(loader, True, CPU) is loader
    plain = [torch.zeros(3)]
    assert place_loader(plain, True, CPU) is plain  # not a ColumnarLoader: left as it is


def test_a_bad_data_on_device_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^config key 'data_on_device' must be true, false or 'auto'"):
        TrainingConfig(data_on_device="sometimes")


class _DeviceRecorder(ClickTrainer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.devices: set[str] = set()

    def training_step(self, batch: Any) -> torch.Tensor:
        self.devices.add(batch[0]["f"].device.type)
        return super().training_step(batch)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_the_columns_move_once_and_training_is_unchanged(tmp_path) -> None:
    results = {}
    for setting in ("auto", False):
        train, val = loaders(n_train=256, batch_size=32)
        trainer = _DeviceRecorder(Logistic(), **settings(tmp_path / str(setting), device="cuda", max_epochs=2,
                                                         data_on_device=setting))
        trainer.fit(train, val, verbose=False)
        assert trainer.devices == {"cuda"}
        on_device = trainer._train_loader.dataset.device.type == "cuda"
        assert on_device is (setting == "auto")
        assert train.dataset.device == CPU  # the caller's loader is left on the host
        results[setting] = snapshot(trainer.model)
    for name, value in results[False].items():
        torch.testing.assert_close(results["auto"][name], value, rtol=0, atol=0)
