"""Tests for ``TrainingConfig.capture_step``: the whole training step replayed as one CUDA graph.

On the CPU: what is refused before training (one line each), the graph-safe optimizer mode and
the plain checkpoints it writes, and the captured flow itself with the CUDA graph replaced by a
stand-in that records the step without running it and runs it on every replay (warm-up,
static inputs, the eager partial batch, counters, schedulers, fallbacks). Where CUDA exists,
a real captured run is compared with the eager one.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from rec_core import ConfigError, TrainingConfig
from rec_core.trainer import _capture
from rec_core.trainer._capture import WARMUP_STEPS, CaptureStats, GraphSafeOptimizers, capture_blocker

from .trainer_fixtures import ClickTrainer, loaders, same_weights, settings, snapshot

# 64 training rows in batches of 12: five full batches and a partial one of four rows per epoch.
N_TRAIN, BATCH = 64, 12


class BatchNormMLP(nn.Module):
    """An MLP with batch norm (running statistics are state a captured step must update too).

    The layer before the batch norm has no bias: its gradient is ~0 there, and Adam would amplify
    the rounding of the learning rate (float32 in the graph-safe mode) in it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(4, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.mlp(x["f"]).squeeze(-1)


def _blocker_of(**changes: Any) -> str | None:
    adam = torch.optim.Adam([nn.Parameter(torch.zeros(2))])
    trainer = SimpleNamespace(device=torch.device("cuda", 0), config=TrainingConfig(),
                              precision=SimpleNamespace(scaler=None), dist=SimpleNamespace(is_distributed=False),
                              optimizers=[adam])
    for name, value in changes.items():
        setattr(trainer, name, value)
    return capture_blocker(trainer)


def test_what_cannot_be_captured_is_named_before_training() -> None:
    assert _blocker_of() is None
    assert "needs a CUDA device (this run trains on cpu)" in _blocker_of(device=torch.device("cpu"))
    assert "compile_model" in _blocker_of(config=TrainingConfig(compile_model=True))
    assert "accumulate_grad_batches must be 1" in _blocker_of(config=TrainingConfig(accumulate_grad_batches=2))
    assert "fp16's gradient scaler" in _blocker_of(precision=SimpleNamespace(scaler=object()))
    assert "DDP" in _blocker_of(dist=SimpleNamespace(is_distributed=True))
    sgd = torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=0.1)
    assert "optimizer SGD has no capturable mode" in _blocker_of(optimizers=[sgd])


def test_capture_step_on_the_cpu_is_a_one_line_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"^capture_step: needs a CUDA device \(this run trains on cpu\)$"):
        ClickTrainer(BatchNormMLP(), **settings(tmp_path, capture_step=True))
    with pytest.raises(ConfigError, match=r"config key 'capture_step'"):
        TrainingConfig(capture_step="sometimes")


def test_graph_safe_optimizers_take_scheduled_rates_in_place_and_are_given_back_as_built() -> None:
    weight = nn.Parameter(torch.ones(3))
    adam = torch.optim.Adam([weight], lr=0.1, fused=True)
    schedule = torch.optim.lr_scheduler.StepLR(adam, step_size=1, gamma=0.5)
    safe = GraphSafeOptimizers([adam], torch.device("cpu"))
    group = adam.param_groups[0]
    rate = group["lr"]
    assert group["capturable"] is True and isinstance(rate, torch.Tensor)
    weight.grad = torch.ones(3)
    adam.step()
    schedule.step()
    assert group["lr"] is rate and float(rate) == pytest.approx(0.05)  # updated where a graph reads it
    saved = safe.plain_state(0)
    assert saved["param_groups"][0]["lr"] == pytest.approx(0.05) and not isinstance(saved["param_groups"][0]["lr"],
                                                                                    torch.Tensor)
    assert saved["param_groups"][0]["capturable"] is False
    assert group["capturable"] is True  # the saved copy changed, not the running optimizer
    fresh = torch.optim.Adam([nn.Parameter(torch.ones(3))], lr=0.1, fused=True)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == pytest.approx(0.05)
    safe.restore()
    assert group["capturable"] is False and isinstance(group["lr"], float) and group["lr"] == pytest.approx(0.05)


class GraphSafeEager(ClickTrainer):
    """Eager steps with the optimizers set as a captured run sets them (a float32 learning rate)."""

    def _setup_fit(self, *args: Any, **kwargs: Any) -> None:
        super()._setup_fit(*args, **kwargs)
        GraphSafeOptimizers(self.optimizers, self.device)


def _fit(tmp_path, capture: bool, model: nn.Module | None = None, graph_safe: bool = False,
         **overrides: Any) -> ClickTrainer:
    torch.manual_seed(0)
    model = model or BatchNormMLP()
    train, val = loaders(N_TRAIN, BATCH)
    options = {"optimizer": "Adam", "learning_rate": 0.01, "max_epochs": 3, "gradient_clip_val": 0.5,
               "scheduler": "StepLR", "scheduler_params": {"step_size": 4, "gamma": 0.5}, "scheduler_interval": "step",
               **overrides}
    name = "captured" if capture else "graph-safe" if graph_safe else "eager"
    trainer = (GraphSafeEager if graph_safe else ClickTrainer)(model, **settings(tmp_path / name, capture_step=capture,
                                                                                 **options))
    trainer.fit(train, val)
    return trainer


def test_a_captured_run_trains_like_the_eager_one(tmp_path, rec_capture_on_cpu) -> None:
    eager = _fit(tmp_path, capture=False)
    same_optimizer = _fit(tmp_path, capture=False, graph_safe=True)
    captured = _fit(tmp_path, capture=True)
    assert rec_capture_on_cpu.built == 1  # captured once for the whole fit
    steps_per_epoch = -(-N_TRAIN // BATCH)
    full = N_TRAIN // BATCH
    assert captured.capture_stats == CaptureStats(replays=3 * full - WARMUP_STEPS,
                                                  eager_steps=WARMUP_STEPS + 3,  # + each epoch's partial batch
                                                  fallback=None)
    assert eager.capture_stats is None
    assert captured.global_step == eager.global_step == 3 * steps_per_epoch
    # Bit for bit the eager run whose optimizer is set as the captured run sets it (batch norm
    # statistics, clipping and the per-step schedule included) ...
    assert same_weights(snapshot(same_optimizer.model), snapshot(captured.model))
    # ... and the plain eager run up to the rounding of the learning rate to float32.
    a, b = snapshot(eager.model), snapshot(captured.model)
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-5, atol=1e-6, msg=name)
    assert eager.learning_rate == pytest.approx(0.01 * 0.5 ** (18 // 4))
    assert captured.learning_rate == pytest.approx(eager.learning_rate, rel=1e-6)
    group = captured.optimizer.param_groups[0]
    assert isinstance(group["lr"], float) and group["capturable"] is False  # given back as built


def test_a_short_epochs_last_partial_batch_is_not_the_one_captured(tmp_path, rec_capture_on_cpu) -> None:
    torch.manual_seed(0)
    trainer = ClickTrainer(BatchNormMLP(), **settings(tmp_path, optimizer="Adam", capture_step=True, max_epochs=2))
    trainer.fit(*loaders(40, BATCH))  # batches of 12, 12, 12 and 4 rows
    # Epoch 1: three warm-up steps, then the partial batch eagerly (not captured); epoch 2: the capture
    # on its first batch and two more replays, the partial batch eagerly again.
    assert trainer.capture_stats == CaptureStats(replays=3, eager_steps=5, fallback=None)
    assert rec_capture_on_cpu.built == 1


def test_a_captured_run_reads_every_batch_not_the_one_it_was_captured_on(tmp_path, rec_capture_on_cpu,
                                                                          monkeypatch) -> None:
    captured = _fit(tmp_path, capture=True, max_epochs=1)
    again = _fit(tmp_path / "again", capture=True, max_epochs=1)
    assert torch.equal(snapshot(captured.model)["mlp.0.weight"], snapshot(again.model)["mlp.0.weight"])
    # With the copy into the static inputs switched off, the replays train on the captured batch.
    original = _capture.CapturedStep.run

    def stale(self: Any, batch: Any) -> torch.Tensor:
        if self._graph is not None:
            fits = _capture._signature(*_capture.tree_flatten(batch)) == self._signature
            return self._replay() if fits else self._eager(batch)
        return original(self, batch)

    monkeypatch.setattr(_capture.CapturedStep, "run", stale)
    stuck = _fit(tmp_path / "stuck", capture=True, max_epochs=1)
    assert not torch.equal(snapshot(stuck.model)["mlp.0.weight"], snapshot(captured.model)["mlp.0.weight"])


def test_a_captured_runs_checkpoint_is_plain_and_resumes_bit_identically(tmp_path, rec_capture_on_cpu) -> None:
    whole = _fit(tmp_path / "whole", capture=True, max_epochs=3)
    first = _fit(tmp_path / "first", capture=True, max_epochs=2)
    path = tmp_path / "first" / "captured" / "ckpt" / "last.ckpt"  # written during the captured fit
    group = torch.load(path, weights_only=True)["optimizers"][0]["param_groups"][0]
    assert isinstance(group["lr"], float) and group["capturable"] is False  # as built, not graph-safe
    # Resumed with capture: the same run as the uninterrupted one, bit for bit.
    torch.manual_seed(0)
    train, val = loaders(N_TRAIN, BATCH)
    options = {"optimizer": "Adam", "learning_rate": 0.01, "max_epochs": 3, "gradient_clip_val": 0.5,
               "scheduler": "StepLR", "scheduler_params": {"step_size": 4, "gamma": 0.5}, "scheduler_interval": "step"}
    resumed = ClickTrainer(BatchNormMLP(), **settings(tmp_path / "resumed", capture_step=True, **options))
    resumed.resume_checkpoint(path)
    resumed.fit(train, val)
    assert resumed.global_step == whole.global_step == 3 * -(-N_TRAIN // BATCH)
    assert same_weights(snapshot(resumed.model), snapshot(whole.model))
    assert first.capture_stats.replays > 0 and resumed.capture_stats.replays > 0
    # Resumed eagerly: the checkpoint loads into a plain trainer and training goes on.
    torch.manual_seed(0)
    eager = ClickTrainer(BatchNormMLP(), **settings(tmp_path / "eager", **options))
    eager.resume_checkpoint(path)
    eager.fit(*loaders(N_TRAIN, BATCH))
    assert eager.global_step == whole.global_step
    for name, value in snapshot(whole.model).items():
        torch.testing.assert_close(snapshot(eager.model)[name], value, rtol=1e-5, atol=1e-6, msg=name)


def test_a_captured_bf16_step_runs_autocast_without_its_weight_cache(tmp_path, rec_capture_on_cpu) -> None:
    caching: set[bool] = set()

    class Watching(ClickTrainer):
        def training_step(self, batch: Any) -> torch.Tensor:
            caching.add(self.precision.cache_casts)
            return super().training_step(batch)

    torch.manual_seed(0)
    trainer = Watching(BatchNormMLP(), **settings(tmp_path, optimizer="Adam", precision="bf16", capture_step=True,
                                                  max_epochs=1))
    trainer.fit(*loaders(N_TRAIN, BATCH))
    assert caching == {False} and trainer.precision.cache_casts is True  # off for the fit only
    assert trainer.capture_stats.fallback is None and trainer.capture_stats.replays == N_TRAIN // BATCH - WARMUP_STEPS


def test_a_multi_part_loss_falls_back_to_eager_steps_with_one_warning(tmp_path, rec_capture_on_cpu) -> None:
    class TwoPart(ClickTrainer):
        def training_step(self, batch: Any) -> dict[str, torch.Tensor]:
            loss = super().training_step(batch)
            return {"click": loss, "again": 0.5 * loss}

    torch.manual_seed(0)
    train, val = loaders(N_TRAIN, BATCH)
    trainer = TwoPart(BatchNormMLP(), **settings(tmp_path, optimizer="Adam", capture_step=True, max_epochs=2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(train, val)
    mine = [w for w in caught if "capture_step" in str(w.message)]
    assert len(mine) == 1
    message = str(mine[0].message)
    assert "capture_step: this run trains eagerly: a multi-part loss goes through a loss weighter" in message
    stats = trainer.capture_stats
    assert stats.replays == 0 and stats.eager_steps == 2 * -(-N_TRAIN // BATCH)
    assert stats.fallback == "a multi-part loss goes through a loss weighter, which is not captured"
    assert rec_capture_on_cpu.built == 0


def test_a_failed_capture_trains_the_batch_eagerly_and_says_why(tmp_path, rec_capture_on_cpu, monkeypatch) -> None:
    class Refusing:  # what torch.cuda.graph raises for an op that waits on the host
        def __init__(self, fn: Any) -> None:
            raise RuntimeError("operation not permitted when stream is capturing\nmore detail")

    monkeypatch.setattr(_capture, "CudaGraph", Refusing)
    eager = _fit(tmp_path, capture=False, max_epochs=1)
    refused = r"the capture failed \(operation not permitted when stream is capturing\)$"
    with pytest.warns(RuntimeWarning, match=refused):
        fallen = _fit(tmp_path, capture=True, max_epochs=1)
    assert fallen.global_step == eager.global_step
    for name, value in snapshot(eager.model).items():
        torch.testing.assert_close(snapshot(fallen.model)[name], value, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_the_captured_step_trains_like_the_eager_one(tmp_path) -> None:
    results = {}
    for capture in (False, True):
        results[capture] = _fit(tmp_path / str(capture), capture=capture, device="cuda")
    stats = results[True].capture_stats
    assert stats.fallback is None and stats.replays == 3 * (N_TRAIN // BATCH) - WARMUP_STEPS
    a, b = snapshot(results[False].model), snapshot(results[True].model)
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-5, msg=name)
    assert results[True].learning_rate == pytest.approx(results[False].learning_rate)
