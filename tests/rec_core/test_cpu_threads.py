"""Tests for the ``CpuThreads`` callback and ``TrainingConfig.cpu_threads``.

A fake clock makes a training step "cost" a chosen number of seconds per thread count, so
the probe's choice is known in advance; the threads each step really ran on are recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from rec_core import ConfigError, TrainingConfig
from rec_core.callbacks import Callback, CpuThreads
from rec_core.callbacks import cpu_threads as module

from .trainer_fixtures import ClickTrainer, Logistic, RecordingLogger, loaders, settings

START_THREADS = 4
PROBE = 2 + 8  # warm-up + timed steps per candidate


@pytest.fixture(autouse=True)
def four_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(START_THREADS)
    yield
    torch.set_num_threads(before)


class _Costly(ClickTrainer):
    """Each training step advances a fake clock by ``cost[threads]`` seconds and records ``threads``."""

    def __init__(self, *args: Any, cost: dict[int, float], clock: list[float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cost, self.clock, self.seen = cost, clock, []

    def training_step(self, batch: Any) -> torch.Tensor:
        threads = torch.get_num_threads()
        self.seen.append(threads)
        self.clock[0] += self.cost[threads]
        return super().training_step(batch)


def _fit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cost: dict[int, float], *, epochs: int = 2,
         callbacks: list[Callback] | None = None, **config: Any) -> _Costly:
    clock = [0.0]
    monkeypatch.setattr(module.time, "perf_counter", lambda: clock[0])
    trainer = _Costly(Logistic(), cost=cost, clock=clock, callbacks=callbacks,
                      **settings(tmp_path, max_epochs=epochs, **config))
    train, _ = loaders(n_train=64, batch_size=2)  # 32 steps per epoch
    trainer.fit(train, verbose=False)
    return trainer


def _callback(trainer: _Costly) -> CpuThreads:
    return next(c for c in trainer.callbacks if isinstance(c, CpuThreads))


def test_auto_times_each_count_keeps_the_fastest_and_restores_torchs_count(tmp_path, monkeypatch) -> None:
    logger = RecordingLogger()
    trainer = _fit(tmp_path, monkeypatch, {4: 3.0, 2: 1.0, 1: 2.0}, cpu_threads="auto", loggers=[logger])
    assert trainer.seen[:PROBE] == [4] * PROBE  # torch's count, then halving down to one
    assert trainer.seen[PROBE : 2 * PROBE] == [2] * PROBE
    assert trainer.seen[2 * PROBE : 3 * PROBE] == [1] * PROBE
    assert trainer.seen[3 * PROBE :] == [2] * (64 - 3 * PROBE)
    callback = _callback(trainer)
    assert callback.chosen == 2 and callback.timings == {4: 3.0, 2: 1.0, 1: 2.0}
    assert torch.get_num_threads() == START_THREADS  # fit leaves torch as it found it
    logged = [metrics["cpu_threads"] for kind, *rest in logger.calls if kind == "metrics"
              for metrics in rest[:1] if "cpu_threads" in metrics]
    assert logged == [2.0]


def test_auto_keeps_torchs_count_unless_another_is_clearly_faster(tmp_path, monkeypatch) -> None:
    trainer = _fit(tmp_path, monkeypatch, {4: 1.0, 2: 0.95, 1: 0.96}, cpu_threads="auto")
    assert _callback(trainer).chosen == 4  # 5 % faster is within the 10 % margin
    assert trainer.seen[3 * PROBE :] == [4] * (64 - 3 * PROBE)


def test_a_fixed_count_trains_on_it_and_deterministic_runs_do_not_probe(tmp_path, monkeypatch) -> None:
    fixed = _fit(tmp_path / "a", monkeypatch, {4: 1.0, 2: 1.0, 1: 1.0}, cpu_threads=1)
    assert fixed.seen == [1] * 64 and torch.get_num_threads() == START_THREADS
    steady = _fit(tmp_path / "b", monkeypatch, {4: 9.0, 2: 1.0, 1: 1.0}, cpu_threads="auto", deterministic=True)
    assert steady.seen == [4] * 64  # "auto" under deterministic=True keeps torch's count
    untouched = _fit(tmp_path / "c", monkeypatch, {4: 1.0}, cpu_threads=None)
    assert untouched.seen == [4] * 64 and not any(isinstance(c, CpuThreads) for c in untouched.callbacks)


def test_a_resumed_run_keeps_the_count_it_chose_without_probing_again(tmp_path, monkeypatch) -> None:
    cost = {4: 3.0, 2: 2.0, 1: 1.0}
    first = _fit(tmp_path, monkeypatch, cost, epochs=1, cpu_threads="auto")
    assert _callback(first).chosen == 1
    clock = [0.0]
    monkeypatch.setattr(module.time, "perf_counter", lambda: clock[0])
    resumed = _Costly(Logistic(), cost=cost, clock=clock, **settings(tmp_path, max_epochs=2, cpu_threads="auto"))
    resumed.resume_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    train, _ = loaders(n_train=64, batch_size=2)
    resumed.fit(train, verbose=False)
    assert resumed.seen == [1] * 32  # epoch 2 only, on the saved choice from its first step


def test_the_count_is_restored_when_fit_fails(tmp_path, monkeypatch) -> None:
    class Boom(Callback):
        def on_train_batch_end(self, trainer: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            if batch_idx == 3:
                raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        _fit(tmp_path, monkeypatch, {4: 1.0, 2: 1.0, 1: 1.0}, cpu_threads=1, callbacks=[Boom()])
    assert torch.get_num_threads() == START_THREADS


@pytest.mark.parametrize("value", [0, -2, "fast", "2"])
def test_a_bad_cpu_threads_is_a_one_line_config_error(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"^config key 'cpu_threads' must be a positive integer or 'auto'"):
        TrainingConfig(cpu_threads=value)
    with pytest.raises(ConfigError, match="CpuThreads threads must be a positive integer or 'auto'"):
        CpuThreads(value)


def test_cpu_threads_comes_from_a_set_string_like_any_key() -> None:
    from rec_core.config import parse_value

    assert TrainingConfig.from_dict({"cpu_threads": parse_value("auto")}).cpu_threads == "auto"
    assert TrainingConfig.from_dict({"cpu_threads": parse_value("1")}).cpu_threads == 1
