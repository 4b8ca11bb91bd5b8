"""Tests of rec_core.callbacks: the base, EarlyStopping, ModelCheckpoint and EarlyStopper."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from rec_core.callbacks import (
    Callback,
    CallbackList,
    EarlyStopper,
    EarlyStopping,
    ModelCheckpoint,
)
from rec_core.errors import ConfigError

NAN = float("nan")
STEPS_PER_EPOCH = 10


class FakeTrainer:
    """Provide exactly the attributes the callbacks may use, as BaseTrainer will."""

    def __init__(
        self,
        checkpoint_dir: Path | None,
        callbacks: list[Callback] | None = None,
        *,
        monitor: str | None = "val/auc",
        mode: str | None = "max",
        rank: int = 0,
    ) -> None:
        self.config = SimpleNamespace(
            monitor=monitor,
            mode=mode,
            checkpoint_dir=str(checkpoint_dir) if checkpoint_dir else None,
            save_top_k=1,
            early_stopping_patience=3,
        )
        torch.manual_seed(0)
        self.model = torch.nn.Linear(3, 1)
        self.current_epoch = 0
        self.global_step = 0
        self.callback_metrics: dict[str, float] = {}
        self.should_stop = False
        self.is_global_zero = rank == 0
        self.callbacks = CallbackList(callbacks)
        self.saved: list[str] = []

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        path = Path(path)
        checkpoint: dict[str, Any] = {
            "model": self.model.state_dict(),
            "epoch": self.current_epoch,
            "global_step": self.global_step,
            "callbacks": self.callbacks.state_dict(),
        }
        self.callbacks.call("on_save_checkpoint", self, checkpoint)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
        self.saved.append(path.name)
        return path

    def run_epoch(self, metrics: dict[str, float] | None, *, steps: int = STEPS_PER_EPOCH) -> None:
        """Train one epoch (one batch per optimizer step), then validate if `metrics`."""
        self.callbacks.call("on_train_epoch_start", self)
        for batch_idx in range(steps):
            self.callbacks.call("on_train_batch_start", self, None, batch_idx)
            self.global_step += 1
            with torch.no_grad():
                self.model.weight.add_(0.1)
            self.callback_metrics["train/loss"] = 1.0 / self.global_step
            self.callbacks.call("on_train_batch_end", self, torch.tensor(0.5), None, batch_idx)
        if metrics is not None:
            self.callbacks.call("on_validation_start", self)
            self.callback_metrics.update(metrics)
            self.callbacks.call("on_validation_end", self)
        self.callbacks.call("on_train_epoch_end", self)

    def fit(self, scores: list[float], key: str = "val/auc") -> None:
        """Run one epoch per score, validating `key`, until a callback stops training."""
        self.callbacks.call("on_fit_start", self)
        for score in scores:
            self.run_epoch({key: score, "val/other": 0.0})
            if self.should_stop:
                break
            self.current_epoch += 1
        self.callbacks.call("on_fit_end", self)


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


def ckpt_name(epoch: int) -> str:
    return f"epoch={epoch}-step={(epoch + 1) * STEPS_PER_EPOCH}.ckpt"


def read_index(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "checkpoints.json").read_text("utf-8"))


# --- Callback and CallbackList -------------------------------------------------------


class Recorder(Callback):
    name = "recorder"

    def __init__(self, tag: str, log: list[str]) -> None:
        self.tag = tag
        self.log = log
        self.count = 0

    @property
    def state_key(self) -> str:
        return self._generate_state_key(tag=self.tag)

    def on_fit_start(self, trainer: Any) -> None:
        self.log.append(self.tag)

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count}

    def load_state_dict(self, state: Any) -> None:
        self.count = state["count"]


def test_base_hooks_are_no_ops() -> None:
    callback = Callback()
    trainer = FakeTrainer(None)
    args: dict[str, tuple[Any, ...]] = {
        "on_train_batch_start": (None, 0),
        "on_train_batch_end": (torch.tensor(1.0), None, 0),
        "on_exception": (RuntimeError("boom"),),
        "on_save_checkpoint": ({},),
    }
    for hook in Callback.HOOKS:
        assert getattr(callback, hook)(trainer, *args.get(hook, ())) is None
    assert callback.state_dict() == {}
    assert callback.state_key == "Callback"


def test_state_key_names_class_and_init_args() -> None:
    a = EarlyStopping(monitor="val/auc", mode="max")
    b = EarlyStopping(monitor="val/logloss", mode="min")
    assert a.state_key == "EarlyStopping{'monitor': 'val/auc', 'mode': 'max'}"
    assert a.state_key != b.state_key
    assert ModelCheckpoint(monitor="val/auc").state_key == (
        "ModelCheckpoint{'dirpath': None, 'monitor': 'val/auc', 'mode': None, "
        "'every_n_epochs': 1, 'every_n_train_steps': None}"
    )
    assert EarlyStopping.name == "early-stopping"
    assert ModelCheckpoint.name == "checkpoint"


def test_callback_list_calls_in_order_with_checkpointers_last() -> None:
    class CheckpointRecorder(Recorder):
        saves_checkpoints = True

    log: list[str] = []
    callbacks = CallbackList(
        [Recorder("a", log), CheckpointRecorder("ckpt", log), Recorder("b", log)]
    )
    callbacks.append(Recorder("c", log))
    callbacks.call("on_fit_start", FakeTrainer(None))
    assert log == ["a", "b", "c", "ckpt"]
    assert len(callbacks) == 4
    assert ModelCheckpoint.saves_checkpoints
    assert not EarlyStopping.saves_checkpoints


def test_callback_list_call_passes_arguments() -> None:
    seen: list[tuple[Any, ...]] = []

    class Spy(Callback):
        def on_train_batch_end(
            self, trainer: Any, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            seen.append((trainer, outputs, batch, batch_idx))

    trainer = FakeTrainer(None)
    CallbackList([Spy(), Spy()]).call("on_train_batch_end", trainer, 1.5, "batch", batch_idx=7)
    assert seen == [(trainer, 1.5, "batch", 7)] * 2


def test_callback_list_rejects_unknown_hook() -> None:
    with pytest.raises(ValueError, match="unknown callback hook 'on_fit_begin'"):
        CallbackList([Callback()]).call("on_fit_begin", FakeTrainer(None))


def test_callback_list_state_round_trip_ignores_unknown_and_keeps_missing() -> None:
    log: list[str] = []
    source = CallbackList([Recorder("a", log), Recorder("b", log)])
    source[0].count, source[1].count = 3, 5  # type: ignore[attr-defined]
    states = source.state_dict()
    assert states == {"Recorder{'tag': 'a'}": {"count": 3}, "Recorder{'tag': 'b'}": {"count": 5}}

    del states["Recorder{'tag': 'b'}"]
    states["SomethingElse{}"] = {"x": 1}
    target = CallbackList([Recorder("a", log), Recorder("b", log)])
    target.load_state_dict(states)
    assert [c.count for c in target] == [3, 0]  # type: ignore[attr-defined]


def test_callback_list_rejects_duplicate_state_keys() -> None:
    callbacks = CallbackList([EarlyStopping("val/auc", "max"), EarlyStopping("val/auc", "max")])
    with pytest.raises(ConfigError, match="share the checkpoint state key"):
        callbacks.state_dict()


# --- EarlyStopping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "key", "scores"),
    [
        ("max", "val/auc", [0.60, 0.70, 0.69, 0.70, 0.65, 0.99]),
        ("min", "val/logloss", [0.50, 0.40, 0.41, 0.40, 0.45, 0.01]),
    ],
)
def test_early_stopping_after_exactly_patience_bad_validations(
    mode: str, key: str, scores: list[float]
) -> None:
    stopper = EarlyStopping(monitor=key, mode=mode, patience=3)
    trainer = FakeTrainer(None, [stopper])
    trainer.fit(scores, key=key)
    # Epochs 2, 3 and 4 do not improve on epoch 1 (an equal value is no improvement).
    assert trainer.should_stop
    assert trainer.current_epoch == 4
    assert stopper.stopped_epoch == 4
    assert stopper.best_score == scores[1]
    assert stopper.wait_count == 3


def test_early_stopping_not_before_patience() -> None:
    stopper = EarlyStopping(monitor="val/auc", mode="max", patience=3)
    trainer = FakeTrainer(None, [stopper])
    trainer.fit([0.6, 0.5, 0.5, 0.7, 0.6, 0.6])
    assert not trainer.should_stop
    assert stopper.stopped_epoch is None
    assert stopper.wait_count == 2
    assert stopper.best_score == 0.7


def test_early_stopping_min_delta() -> None:
    stopper = EarlyStopping(monitor="val/auc", mode="max", min_delta=0.01, patience=3)
    trainer = FakeTrainer(None, [stopper])
    trainer.fit([0.500, 0.505, 0.509, 0.515])
    assert stopper.best_score == 0.515
    assert stopper.wait_count == 0

    stopper = EarlyStopping(monitor="val/loss", mode="min", min_delta=0.1, patience=2)
    trainer = FakeTrainer(None, [stopper])
    trainer.fit([1.0, 0.95, 0.91, 0.5], key="val/loss")
    assert trainer.should_stop
    assert stopper.stopped_epoch == 2
    assert stopper.best_score == 1.0


def test_early_stopping_nan_is_no_improvement() -> None:
    stopper = EarlyStopping(monitor="val/auc", mode="max", patience=2)
    trainer = FakeTrainer(None, [stopper])
    trainer.fit([NAN, 0.5, NAN, NAN, 0.9])
    assert trainer.should_stop
    assert stopper.stopped_epoch == 3
    assert stopper.best_score == 0.5


def test_early_stopping_defaults_to_trainer_config() -> None:
    stopper = EarlyStopping(patience=1)
    trainer = FakeTrainer(None, [stopper], monitor="val/logloss", mode="min")
    trainer.fit([0.3, 0.2, 0.25], key="val/logloss")
    assert (stopper.monitor, stopper.mode) == ("val/logloss", "min")
    assert stopper.stopped_epoch == 2
    assert stopper.state_key == "EarlyStopping{'monitor': None, 'mode': None}"


def test_mode_is_derived_from_the_metric_name() -> None:
    by_config = EarlyStopping(patience=1)
    own_metric = EarlyStopping(monitor="val/logloss", patience=1)
    trainer = FakeTrainer(None, [by_config, own_metric], monitor="val/ndcg@10", mode=None)
    trainer.callbacks.call("on_fit_start", trainer)
    assert (by_config.mode, own_metric.mode) == ("max", "min")

    # The config's mode belongs to the config's monitor, not to another metric.
    other = EarlyStopping(monitor="train/loss")
    trainer = FakeTrainer(None, [other], monitor="val/auc", mode="max")
    trainer.callbacks.call("on_fit_start", trainer)
    assert other.mode == "min"

    unknown = EarlyStopping(monitor="val/collision_rate")
    with pytest.raises(ConfigError, match="cannot tell whether 'val/collision_rate'"):
        unknown.on_fit_start(FakeTrainer(None, mode=None))


def test_early_stopping_missing_metric_names_key_and_available() -> None:
    trainer = FakeTrainer(None, [EarlyStopping(monitor="val/auc", mode="max")])
    trainer.callback_metrics = {"val/logloss": 0.3, "train/loss": 0.5}
    with pytest.raises(ConfigError) as info:
        trainer.callbacks.call("on_validation_end", trainer)
    message = str(info.value)
    assert "'val/auc'" in message
    assert "available metrics: train/loss, val/logloss" in message


def test_early_stopping_not_strict_skips_missing_metric() -> None:
    stopper = EarlyStopping(monitor="val/auc", mode="max", patience=1, strict=False)
    trainer = FakeTrainer(None, [stopper])
    for _ in range(3):
        trainer.callbacks.call("on_validation_end", trainer)
    assert not trainer.should_stop
    assert stopper.wait_count == 0


def test_early_stopping_state_round_trip() -> None:
    stopper = EarlyStopping(monitor="val/auc", mode="max", patience=3)
    FakeTrainer(None, [stopper]).fit([0.7, 0.6, 0.65])
    restored = EarlyStopping(monitor="val/auc", mode="max", patience=3)
    restored.load_state_dict(stopper.state_dict())
    assert (restored.best_score, restored.wait_count, restored.stopped_epoch) == (0.7, 2, None)
    trainer = FakeTrainer(None, [restored])
    trainer.fit([0.69])
    assert trainer.should_stop


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "maximum"}, "mode must be 'min' or 'max'"),
        ({"min_delta": -0.1}, "min_delta must be >= 0"),
        ({"patience": -1}, "patience must be >= 0"),
    ],
)
def test_early_stopping_rejects_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        EarlyStopping(**kwargs)


def test_early_stopping_needs_a_monitor() -> None:
    trainer = FakeTrainer(None, [EarlyStopping()], monitor=None)
    with pytest.raises(ConfigError, match="needs a metric to monitor"):
        trainer.callbacks.call("on_fit_start", trainer)


# --- ModelCheckpoint -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "key", "scores", "kept"),
    [
        ("max", "val/auc", [0.70, 0.75, 0.72, 0.80, 0.74, 0.78], [3, 5]),
        ("min", "val/logloss", [0.50, 0.45, 0.47, 0.44, 0.60, 0.46], [3, 1]),
    ],
)
def test_checkpoint_keeps_top_k_and_last(
    tmp_path: Path, mode: str, key: str, scores: list[float], kept: list[int]
) -> None:
    checkpoint = ModelCheckpoint(monitor=key, mode=mode, save_top_k=2)
    trainer = FakeTrainer(tmp_path, [checkpoint])
    trainer.fit(scores, key=key)

    best, second = (ckpt_name(e) for e in kept)
    assert files_in(tmp_path) == {best, second, "last.ckpt", "checkpoints.json"}
    index = read_index(tmp_path)
    assert index == {
        "best": best,
        "best_score": scores[kept[0]],
        "monitor": key,
        "mode": mode,
        "top_k": [
            {"path": best, "score": scores[kept[0]]},
            {"path": second, "score": scores[kept[1]]},
        ],
        "last": "last.ckpt",
    }
    assert checkpoint.best_model_path == str(tmp_path / best)
    assert checkpoint.best_model_score == scores[kept[0]]
    assert checkpoint.last_model_path == str(tmp_path / "last.ckpt")

    saved = torch.load(tmp_path / best, weights_only=True)
    assert saved["epoch"] == kept[0]
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert last["epoch"] == len(scores) - 1
    assert last["callbacks"][checkpoint.state_key]["top_k"][0]["path"] == best


def test_checkpoint_keep_all_and_keep_none(tmp_path: Path) -> None:
    everything = ModelCheckpoint(tmp_path / "all", monitor="val/auc", mode="max", save_top_k=-1)
    nothing = ModelCheckpoint(tmp_path / "none", monitor="val/auc", mode="max", save_top_k=0)
    FakeTrainer(None, [everything, nothing]).fit([0.5, NAN, 0.7, 0.6])

    assert files_in(tmp_path / "all") == {
        ckpt_name(0),
        ckpt_name(2),
        ckpt_name(3),
        "last.ckpt",
        "checkpoints.json",
    }
    assert [e["score"] for e in read_index(tmp_path / "all")["top_k"]] == [0.7, 0.6, 0.5]
    assert files_in(tmp_path / "none") == {"last.ckpt", "checkpoints.json"}
    assert read_index(tmp_path / "none")["best"] is None
    assert nothing.best_model_path is None


def test_checkpoint_non_finite_never_ranked_and_ties_keep_older(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(monitor="val/auc", mode="max", save_top_k=1)
    FakeTrainer(tmp_path, [checkpoint]).fit([NAN, 0.6, NAN, 0.6, math.inf])
    assert files_in(tmp_path) == {ckpt_name(1), "last.ckpt", "checkpoints.json"}
    assert read_index(tmp_path)["best_score"] == 0.6


def test_checkpoint_without_monitor_keeps_newest(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(save_top_k=2)
    trainer = FakeTrainer(tmp_path, [checkpoint], monitor=None)
    trainer.fit([0.9, 0.1, 0.5])
    assert files_in(tmp_path) == {ckpt_name(2), ckpt_name(1), "last.ckpt", "checkpoints.json"}
    assert checkpoint.best_model_path == str(tmp_path / ckpt_name(2))
    assert checkpoint.best_model_score is None


def test_checkpoint_filename_template_with_metric(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(filename="{epoch}-{val_auc:.4f}", save_top_k=2)
    FakeTrainer(tmp_path, [checkpoint]).fit([0.5, 0.75])
    assert files_in(tmp_path) == {"0-0.5000.ckpt", "1-0.7500.ckpt", "last.ckpt", "checkpoints.json"}

    bad = ModelCheckpoint(tmp_path / "bad", filename="{epoch}-{val_acc}")
    with pytest.raises(ConfigError, match=r"uses \{val_acc\}, which is not available"):
        FakeTrainer(None, [bad]).fit([0.5])


def test_checkpoint_every_n_train_steps_writes_last(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(every_n_train_steps=4, every_n_epochs=None)
    trainer = FakeTrainer(tmp_path, [checkpoint])
    trainer.callbacks.call("on_fit_start", trainer)
    for step in range(1, 10):
        trainer.global_step = step
        for batch_idx in range(2):  # two accumulated batches per optimizer step
            trainer.callbacks.call(
                "on_train_batch_end", trainer, torch.tensor(0.1), None, batch_idx
            )
        if step < 4:
            assert not (tmp_path / "last.ckpt").exists()
    assert trainer.saved == ["last.ckpt", "last.ckpt"]
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["global_step"] == 8
    assert files_in(tmp_path) == {"last.ckpt", "checkpoints.json"}
    assert read_index(tmp_path)["last"] == "last.ckpt"


def test_checkpoint_without_validation_saves_at_train_epoch_end(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint()  # monitors val/auc, which is never logged
    trainer = FakeTrainer(tmp_path, [checkpoint])
    trainer.callbacks.call("on_fit_start", trainer)
    trainer.run_epoch(None)
    assert files_in(tmp_path) == {"last.ckpt", "checkpoints.json"}

    by_loss = ModelCheckpoint(tmp_path / "loss", monitor="train/loss", mode="min")
    trainer = FakeTrainer(None, [by_loss])
    for epoch in range(3):
        trainer.current_epoch = epoch
        trainer.run_epoch(None)
    assert by_loss.best_model_path == str(tmp_path / "loss" / ckpt_name(2))
    assert files_in(tmp_path / "loss") == {ckpt_name(2), "last.ckpt", "checkpoints.json"}


def test_checkpoint_validation_and_epoch_end_save_once(tmp_path: Path) -> None:
    trainer = FakeTrainer(tmp_path, [ModelCheckpoint(save_top_k=1)])
    trainer.fit([0.5, 0.6])
    assert trainer.saved == [ckpt_name(0), ckpt_name(1)]  # last.ckpt is copied, not re-saved
    assert (tmp_path / "last.ckpt").read_bytes() == (tmp_path / ckpt_name(1)).read_bytes()


def test_checkpoint_every_n_epochs(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(save_top_k=-1, every_n_epochs=2)
    FakeTrainer(tmp_path, [checkpoint]).fit([0.1, 0.2, 0.3, 0.4, 0.5])
    assert files_in(tmp_path) == {ckpt_name(1), ckpt_name(3), "last.ckpt", "checkpoints.json"}


def test_checkpoint_missing_monitor_after_validation_raises(tmp_path: Path) -> None:
    trainer = FakeTrainer(tmp_path, [ModelCheckpoint(monitor="val/ndcg@10", mode="max")])
    with pytest.raises(ConfigError, match=r"'val/ndcg@10'.*available metrics: .*val/auc"):
        trainer.fit([0.5])


def test_checkpoint_on_other_ranks_writes_nothing(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(save_top_k=2, every_n_train_steps=3)
    trainer = FakeTrainer(tmp_path / "ckpt", [checkpoint], rank=1)
    trainer.fit([0.5, 0.7, 0.6])
    assert not (tmp_path / "ckpt").exists()
    assert trainer.saved == []
    assert checkpoint.best_model_path == str(tmp_path / "ckpt" / ckpt_name(1))
    assert [e["epoch"] for e in checkpoint.top_k] == [1, 2]


def test_checkpoint_state_round_trip_continues_management(tmp_path: Path) -> None:
    first = ModelCheckpoint(monitor="val/auc", mode="max", save_top_k=2)
    FakeTrainer(tmp_path, [first]).fit([0.70, 0.80, 0.75])
    assert files_in(tmp_path) == {ckpt_name(1), ckpt_name(2), "last.ckpt", "checkpoints.json"}

    resumed = ModelCheckpoint(monitor="val/auc", mode="max", save_top_k=2)
    trainer = FakeTrainer(tmp_path, [resumed])
    state = torch.load(tmp_path / "last.ckpt", weights_only=True)
    trainer.callbacks.load_state_dict(state["callbacks"])
    trainer.current_epoch, trainer.global_step = state["epoch"] + 1, state["global_step"]
    assert resumed.best_model_score == 0.80

    trainer.fit([0.78, 0.60])
    assert files_in(tmp_path) == {ckpt_name(1), ckpt_name(3), "last.ckpt", "checkpoints.json"}
    assert read_index(tmp_path)["top_k"] == [
        {"path": ckpt_name(1), "score": 0.80},
        {"path": ckpt_name(3), "score": 0.78},
    ]


def test_checkpoint_holds_early_stopping_state_after_the_same_validation(
    tmp_path: Path,
) -> None:
    stopper = EarlyStopping(patience=5)
    trainer = FakeTrainer(tmp_path, [ModelCheckpoint(), stopper])  # checkpoint listed first
    trainer.fit([0.8, 0.7])
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)["callbacks"]
    assert saved[stopper.state_key]["wait_count"] == 1


def test_checkpoint_needs_a_directory() -> None:
    trainer = FakeTrainer(None, [ModelCheckpoint()])
    with pytest.raises(ConfigError, match="has no directory"):
        trainer.callbacks.call("on_fit_start", trainer)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "best"}, "mode must be 'min' or 'max'"),
        ({"save_top_k": -2}, "save_top_k must be >= -1"),
        ({"every_n_epochs": -1}, "every_n_epochs must be >= 0"),
        ({"every_n_train_steps": 10, "save_last": False}, "needs save_last=True"),
    ],
)
def test_checkpoint_rejects_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ModelCheckpoint(**kwargs)


# --- EarlyStopper (torch-rechub) -----------------------------------------------------


def test_early_stopper_matches_torch_rechub_semantics() -> None:
    stopper = EarlyStopper(patience=2)
    assert (stopper.best_auc, stopper.trial_counter, stopper.best_weights) == (0, 0, None)
    assert stopper.stop_training(0.0, {}) is False  # 0 does not beat the initial best of 0
    assert stopper.trial_counter == 1
    assert stopper.stop_training(0.6, {"w": 1}) is False
    assert (stopper.best_auc, stopper.trial_counter, stopper.best_weights) == (0.6, 0, {"w": 1})
    assert stopper.stop_training(0.6, {}) is False
    assert stopper.trial_counter == 1
    assert stopper.stop_training(NAN, {}) is True
    assert stopper.trial_counter == 1
    assert EarlyStopper(patience=1).stop_training(0.0, {}) is True


def test_early_stopper_best_weights_are_cpu_copies() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    stopper = EarlyStopper(patience=3)
    assert not stopper.stop_training(0.7, model.state_dict())
    snapshot = {k: v.clone() for k, v in model.state_dict().items()}

    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(8, 3)).pow(2).sum().backward()
        optimizer.step()

    best = stopper.best_weights
    assert best is not None
    live = model.state_dict()
    assert not torch.equal(live["0.weight"], snapshot["0.weight"])
    for key, value in snapshot.items():
        assert best[key].device.type == "cpu"
        assert torch.equal(best[key], value)
        assert best[key].data_ptr() != live[key].data_ptr()
    model.load_state_dict(best)
    assert torch.equal(model[0].weight, snapshot["0.weight"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_early_stopper_moves_cuda_weights_to_cpu() -> None:
    model = torch.nn.Linear(3, 1).cuda()
    stopper = EarlyStopper(patience=1)
    stopper.stop_training(0.5, model.state_dict())
    assert stopper.best_weights is not None
    assert {v.device.type for v in stopper.best_weights.values()} == {"cpu"}


# The two manual loops of seeds/torch-rechub-callbacks.md, with only the import changed.
SEED_USAGE = """
from rec_core.callbacks import EarlyStopper

# 创建早停器
early_stopper = EarlyStopper(patience=10)

# 在训练循环中使用
for epoch in range(n_epoch):
    # 训练一个 epoch
    train_one_epoch(model, train_dataloader)

    # 验证
    val_auc = evaluate(model, val_dataloader)

    # 检查是否需要早停
    if early_stopper.stop_training(val_auc, model.state_dict()):
        print(f'Early stopping at epoch {epoch}')
        print(f'Best validation AUC: {early_stopper.best_auc}')
        # 恢复最佳权重
        model.load_state_dict(early_stopper.best_weights)
        break
"""

SEED_MANUAL_LOOP = """
import torch
from rec_core.callbacks import EarlyStopper

early_stopper = EarlyStopper(patience=10)
optimizer = torch.optim.Adam(model.parameters(), lr=0.001)

for epoch in range(50):
    model.train()
    for batch in train_dl:
        # 训练步骤
        optimizer.zero_grad()
        loss = model(batch)
        loss.backward()
        optimizer.step()

    # 验证
    model.eval()
    val_auc = evaluate(model, val_dl)
    print(f"Epoch {epoch}, Val AUC: {val_auc:.4f}")

    # 早停检查
    if early_stopper.stop_training(val_auc, model.state_dict()):
        print(f"Early stopping! Best AUC: {early_stopper.best_auc:.4f}")
        model.load_state_dict(early_stopper.best_weights)
        break
"""


class TinyCTR(torch.nn.Module):
    """One categorical feature; forward takes a batch and returns the loss, as in the seed."""

    def __init__(self, n_categories: int) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(n_categories, 1)
        torch.nn.init.normal_(self.embedding.weight, std=0.1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.embedding(x).squeeze(-1))

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.binary_cross_entropy(self.predict(x), y)


def auc(y: torch.Tensor, p: torch.Tensor) -> float:
    pos, neg = p[y == 1], p[y == 0]
    greater = (pos[:, None] > neg[None, :]).float() + 0.5 * (pos[:, None] == neg[None, :]).float()
    return greater.mean().item()


def evaluate(model: TinyCTR, loader: DataLoader) -> float:
    with torch.no_grad():
        pairs = [(y, model.predict(x)) for x, y in loader]
    return auc(torch.cat([y for y, _ in pairs]), torch.cat([p for _, p in pairs]))


CTR = torch.tensor([0.05, 0.2, 0.4, 0.7, 0.9])


def seed_namespace() -> dict[str, Any]:
    """Build a click data set whose AUC peaks once the model orders the categories."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(len(CTR), (1536,), generator=generator)
    y = torch.bernoulli(CTR[x], generator=generator)
    train = DataLoader(TensorDataset(x[:1024], y[:1024]), batch_size=16)
    val = DataLoader(TensorDataset(x[1024:], y[1024:]), batch_size=256)
    torch.manual_seed(0)
    model = TinyCTR(len(CTR))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def train_one_epoch(model: TinyCTR, loader: DataLoader) -> None:
        for batch in loader:
            optimizer.zero_grad()
            model(batch).backward()
            optimizer.step()

    best_possible = auc(y[1024:], CTR[x[1024:]])
    return {
        "model": model,
        "evaluate": evaluate,
        "train_one_epoch": train_one_epoch,
        "n_epoch": 50,
        "train_dataloader": train,
        "val_dataloader": val,
        "train_dl": train,
        "val_dl": val,
        "best_possible": best_possible,
    }


@pytest.mark.parametrize("snippet", [SEED_USAGE, SEED_MANUAL_LOOP], ids=["usage", "manual-loop"])
def test_seed_snippet_runs_with_only_the_import_changed(
    snippet: str, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = seed_namespace()
    exec(compile(snippet, "<seed>", "exec"), namespace)

    stopper = namespace["early_stopper"]
    assert "Early stopping" in capsys.readouterr().out
    assert namespace["epoch"] < 49
    assert stopper.best_auc == pytest.approx(namespace["best_possible"])
    model = namespace["model"]
    for key, value in model.state_dict().items():
        assert torch.equal(value, stopper.best_weights[key])
    assert evaluate(model, namespace["val_dl"]) == stopper.best_auc


# ------------------------------------------------------------------ TimeLimit


def test_time_limit_stops_after_the_epoch_that_spends_the_budget_and_carries_what_was_spent(monkeypatch):
    from rec_core.callbacks import TimeLimit
    from rec_core.callbacks import time_limit as module

    clock = [100.0]
    monkeypatch.setattr(module.time, "perf_counter", lambda: clock[0])
    limit = TimeLimit(seconds=10)
    trainer = FakeTrainer(None, [limit])
    trainer.callbacks.call("on_fit_start", trainer)
    clock[0] += 6
    trainer.callbacks.call("on_train_epoch_end", trainer)
    assert not trainer.should_stop
    clock[0] += 5
    trainer.callbacks.call("on_train_epoch_end", trainer)
    assert trainer.should_stop  # 11 s spent: stop after this epoch
    saved = trainer.callbacks.state_dict()[limit.state_key]
    assert saved == {"spent": pytest.approx(11.0)}

    resumed = TimeLimit(seconds=15)
    resumed.load_state_dict(saved)
    trainer = FakeTrainer(None, [resumed])
    trainer.callbacks.call("on_fit_start", trainer)
    clock[0] += 3
    trainer.callbacks.call("on_train_epoch_end", trainer)
    assert not trainer.should_stop
    clock[0] += 2
    trainer.callbacks.call("on_train_epoch_end", trainer)
    assert trainer.should_stop  # 11 + 5 s of the 15 s budget


@pytest.mark.parametrize("seconds", [0, -1, "10", True])
def test_time_limit_refuses_a_budget_that_is_not_a_positive_number(seconds):
    from rec_core.callbacks import TimeLimit

    with pytest.raises(ConfigError, match="TimeLimit seconds must be a positive number"):
        TimeLimit(seconds=seconds)
