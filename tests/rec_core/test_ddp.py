"""DistributedDataParallel for real: gloo process groups on CPU, no mocks.

Each test starts its processes with ``torch.multiprocessing.start_processes`` (forkserver,
else spawn): indices ``0..world_size-1`` are the ranks of one DDP run (``WORLD_SIZE``/
``RANK``/``LOCAL_RANK``/``MASTER_*`` set before the trainer is built), and, where a test
compares against it, one more index runs the same recipe as a single process with the
global batch, beside the ranks. Workers write their results with ``torch.save``; every
join has a deadline, so a hang fails the test instead of blocking the suite.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import shutil
import socket
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from rec_core import BaseTrainer, ConfigError, TrainingConfig
from rec_core.callbacks import Callback, EarlyStopping
from rec_core.data import ColumnarLoader, TorchDataset
from rec_core.distributed import DistContext, shutdown
from rec_core.loggers import JsonlLogger, read_metrics_jsonl
from rec_core.weighting import BaseLossWeighter

WORLD = 2
BATCH = 8  # per rank; the single-process reference uses WORLD * BATCH
N_TRAIN = 96  # a multiple of WORLD * BATCH: every rank sees whole, equal batches
N_VAL = 41  # odd: the validation shards hold 21 and 20 rows
DEADLINE_S = 90.0
SCORES = [0.50, 0.60, 0.55, 0.58, 0.90, 0.95]  # val/score per epoch: stops after epoch 3
DRIFT_SCORES = [0.9, 0.5, 0.4]  # the first epoch is the best
_DIST_ENV = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK")


# -- what every process trains ----------------------------------------------------------------
class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.mlp(x["dense"]).squeeze(-1)


class _RegressionTrainer(BaseTrainer):
    def training_step(self, batch: Any) -> torch.Tensor:
        x, y = batch
        return F.mse_loss(self.network(x), y)


class _ScriptedTrainer(_RegressionTrainer):
    """Report a scripted ``val/score`` per epoch next to the real loss."""

    def compute_metrics(self, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        return {**super().compute_metrics(outputs), "score": SCORES[self.current_epoch]}


class _LearnedWeighter(BaseLossWeighter):
    """Learned task uncertainties (UWL-like): trainable parameters outside the DDP wrapper."""

    name = "learned"

    def __init__(self) -> None:
        super().__init__(["a", "b"])
        self.log_vars = nn.Parameter(torch.zeros(2))

    def combine(self, losses: Any) -> torch.Tensor:
        stacked = torch.stack(self.ordered_losses(losses))
        return (torch.exp(-self.log_vars) * stacked + self.log_vars).sum()


class _TwoTaskTrainer(BaseTrainer):
    def training_step(self, batch: Any) -> dict[str, torch.Tensor]:
        x, y = batch
        pred = self.network(x)
        return {"a": F.mse_loss(pred, y), "b": F.l1_loss(pred, y)}

    def compute_metrics(self, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        return {**super().compute_metrics(outputs), "score": DRIFT_SCORES[self.current_epoch]}


class _StopOnRankOne(Callback):
    """Ask to stop on rank 1 only, as a time budget or a NaN guard watching local values would."""

    def on_validation_end(self, trainer: Any) -> None:
        if trainer.dist.rank == 1:
            trainer.should_stop = True


class _Recorder(Callback):
    """Keep a copy of the trainer's metrics at every epoch end."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: Any) -> None:
        self.epochs.append(dict(trainer.callback_metrics))


def _data() -> tuple[tuple[dict[str, torch.Tensor], torch.Tensor], tuple[dict[str, torch.Tensor], torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(N_TRAIN + N_VAL, 6, generator=gen)
    y = x @ torch.randn(6, generator=gen) + 0.1 * torch.randn(N_TRAIN + N_VAL, generator=gen)
    return ({"dense": x[:N_TRAIN]}, y[:N_TRAIN]), ({"dense": x[N_TRAIN:]}, y[N_TRAIN:])


def _model() -> _Net:
    torch.manual_seed(0)  # the same start on every process (DDP broadcasts rank 0's anyway)
    return _Net()


def _trainer(cls: type[BaseTrainer], out: Path, name: str, recorder: _Recorder, **config: Any) -> BaseTrainer:
    settings: dict[str, Any] = {
        "max_epochs": 2,
        "optimizer": "SGD",
        "learning_rate": 0.05,
        "optimizer_params": {"momentum": 0.5},
        "device": "cpu",
        "progress_bar": False,
        "random_seed": 1,
        "log_every_n_steps": 2,
        "checkpoint_dir": str(out / ("ckpt-single" if name == "single" else "ckpt")),
    }
    settings.update(config)
    return cls(_model(), loggers=JsonlLogger(out / name), callbacks=[recorder], **settings)


def _result(trainer: BaseTrainer, recorder: _Recorder, **extra: Any) -> dict[str, Any]:
    return {
        "rank": trainer.dist.rank,
        "world_size": trainer.dist.world_size,
        "weights": {k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
        "epochs": recorder.epochs,
        "current_epoch": trainer.current_epoch,
        "global_step": trainer.global_step,
        "best_score": trainer.best_score,
        "best_result": trainer.best_result,
        **extra,
    }


# -- scenarios (run inside the workers) ------------------------------------------------------
def _columnar(out: Path, name: str, batch: int) -> dict[str, Any]:
    (x, y), (vx, vy) = _data()
    train = ColumnarLoader(x, y, batch_size=batch, shuffle=True, seed=5)
    val = ColumnarLoader(vx, vy, batch_size=batch)
    recorder = _Recorder()
    trainer = _trainer(_RegressionTrainer, out, name, recorder)
    trainer.fit(train, val, verbose=False)
    return _result(trainer, recorder)


def _dataloader(out: Path, name: str, batch: int) -> dict[str, Any]:
    (x, y), (vx, vy) = _data()
    torch.manual_seed(2)
    train = DataLoader(TorchDataset(x, y), batch_size=batch, shuffle=True)
    val = DataLoader(TorchDataset(vx, vy), batch_size=batch)
    with torch.no_grad():
        initial = float(F.mse_loss(_model()(vx), vy))
    recorder = _Recorder()
    trainer = _trainer(_RegressionTrainer, out, name, recorder)
    trainer.fit(train, val, verbose=False, saved=False)
    gathered = trainer.evaluate(val, load_best_model=False)["loss"]
    with torch.no_grad():
        direct = float(F.mse_loss(trainer.model(vx), vy))  # the whole set, on this process alone
    return _result(trainer, recorder, initial_loss=initial, gathered_loss=gathered, direct_loss=direct)


def _early_stop(out: Path, name: str, batch: int) -> dict[str, Any]:
    (x, y), (vx, vy) = _data()
    train = ColumnarLoader(x, y, batch_size=batch, shuffle=True, seed=5)
    val = ColumnarLoader(vx, vy, batch_size=batch)
    recorder = _Recorder()
    trainer = _trainer(
        _ScriptedTrainer,
        out,
        name,
        recorder,
        max_epochs=len(SCORES),
        monitor="val/score",
        mode="max",
        early_stopping_patience=2,
        save_top_k=1,
    )
    trainer.fit(train, val, verbose=False)
    stopper = next(c for c in trainer.callbacks if isinstance(c, EarlyStopping))
    return _result(trainer, recorder, stopped_epoch=stopper.stopped_epoch)


def _collectives(out: Path, name: str, batch: int) -> dict[str, Any]:
    context = DistContext.from_environment(TrainingConfig(device="cpu"))
    rank = context.rank
    # Rank 1's shard held no batch at all: it passes {} and still gets rank 0's rows.
    outputs = {"p": [torch.tensor([[0.0, 1.0], [2.0, 3.0]]), torch.tensor([[4.0, 5.0]])]} if rank == 0 else {}
    module = nn.Linear(3, 2)
    grads = nn.Linear(2, 1)
    with torch.no_grad():
        for tensor in module.parameters():
            tensor.fill_(rank + 1)
    grads.weight.grad = torch.full_like(grads.weight, float(rank + 1))
    grads.bias.grad = None if rank == 0 else torch.ones_like(grads.bias)
    result = {
        "outputs": context.gather_outputs(outputs),
        "uneven": context.gather(torch.full((rank + 1, 2), float(rank))),
        "mean": context.all_mean(float(rank + 1)),
        "any": (context.any_rank(rank == 1), context.any_rank(False)),
    }
    context.broadcast_module(module)
    context.all_reduce_grads(grads.parameters())
    result["module"] = {k: v.clone() for k, v in module.state_dict().items()}
    result["grads"] = (grads.weight.grad.clone(), grads.bias.grad.clone())
    return result


def _drift(out: Path, name: str, batch: int) -> dict[str, Any]:
    (x, y), (vx, vy) = _data()
    train = ColumnarLoader(x, y, batch_size=batch, shuffle=True, seed=5)
    val = ColumnarLoader(vx, vy, batch_size=batch)
    recorder = _Recorder()
    trainer = _trainer(
        _TwoTaskTrainer,
        out,
        name,
        recorder,
        loss_weighter=_LearnedWeighter(),
        max_epochs=len(DRIFT_SCORES),
        monitor="val/score",
        mode="max",
        early_stopping_patience=0,
        save_top_k=1,
        checkpoint_dir=str(out / f"ckpt-{name}"),  # no storage shared between the ranks
    )
    trainer.fit(train, val, verbose=False)
    return _result(trainer, recorder, weighter=trainer.loss_weighter.log_vars.detach().clone())


def _local_stop(out: Path, name: str, batch: int) -> dict[str, Any]:
    # Ranks that disagree about stopping block in mismatched collectives; gloo's default
    # 30-minute timeout would turn that into a hang, so this group gives up after 10 s
    # (the trainer joins a process group that is already there).
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=10))
    (x, y), (vx, vy) = _data()
    train = ColumnarLoader(x, y, batch_size=batch, shuffle=True, seed=5)
    val = ColumnarLoader(vx, vy, batch_size=batch)
    recorder = _Recorder()
    trainer = _trainer(_RegressionTrainer, out, name, recorder, max_epochs=3, early_stopping_patience=0)
    trainer.callbacks.append(_StopOnRankOne())
    trainer.fit(train, val, verbose=False, saved=False)
    return _result(trainer, recorder)


SCENARIOS = {
    "columnar": _columnar,
    "dataloader": _dataloader,
    "early_stop": _early_stop,
    "collectives": _collectives,
    "drift": _drift,
    "local_stop": _local_stop,
}


def _worker(index: int, port: int, out: str, scenario: str) -> None:
    """Run ``scenario`` as DDP rank ``index``, or as the single-process reference (index WORLD)."""
    warnings.simplefilter("error")  # the children keep the suite's -W error
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    if index < WORLD:
        os.environ.update(
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
            WORLD_SIZE=str(WORLD),
            RANK=str(index),
            LOCAL_RANK=str(index),
        )
        name, batch = f"rank{index}", BATCH
    else:
        for key in _DIST_ENV:
            os.environ.pop(key, None)
        name, batch = "single", WORLD * BATCH
    try:
        result = SCENARIOS[scenario](Path(out), name, batch)
    except BaseException:
        # Report, then leave at once: unwinding a broken process group can block in its
        # destructor (native threads waiting on a peer that is gone).
        (Path(out) / f"{name}.error").write_text(traceback.format_exc())
        os._exit(1)
    torch.save(result, Path(out) / f"{name}.pt")
    shutdown()  # a barrier first: no rank leaves while its peer still talks to it


# -- the parent side ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_START_METHOD = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"


def _warm_forkserver() -> None:
    # Workers fork from one server that has imported torch (and the dynamo package every
    # optimizer pulls in) once, instead of each spawned worker importing it for ~2-4 s.
    # The server has run no torch op, so forking it is safe for OpenMP and gloo alike.
    if _START_METHOD == "forkserver":
        import multiprocessing

        multiprocessing.set_forkserver_preload(["torch", "torch._dynamo", __name__])


def _launch(scenario: str, out: Path, *, reference: bool) -> dict[str, dict[str, Any]]:
    """Run the ranks (and the reference) of ``scenario``; return each one's result by name."""
    _warm_forkserver()
    try:
        return _launch_once(scenario, out, reference=reference)
    except _WorkerFailed as exc:
        if "EADDRINUSE" not in str(exc):
            pytest.fail(str(exc))
    # Another process took the free port before rank 0 bound it: once more, from scratch.
    shutil.rmtree(out)
    out.mkdir()
    try:
        return _launch_once(scenario, out, reference=reference)
    except _WorkerFailed as exc:
        pytest.fail(str(exc))


class _WorkerFailed(Exception):
    """A worker process failed; the message holds every worker's traceback."""


def _launch_once(scenario: str, out: Path, *, reference: bool) -> dict[str, dict[str, Any]]:
    nprocs = WORLD + (1 if reference else 0)
    context = mp.start_processes(
        _worker, args=(_free_port(), str(out), scenario), nprocs=nprocs, join=False, start_method=_START_METHOD
    )
    deadline = time.monotonic() + DEADLINE_S
    try:
        while not context.join(timeout=max(0.1, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                pytest.fail(f"{scenario}: the processes did not finish within {DEADLINE_S:.0f} s (a hang?)")
    except (mp.ProcessRaisedException, mp.ProcessExitedException) as exc:
        reports = [f"--- {path.stem} ---\n{path.read_text()}" for path in sorted(out.glob("*.error"))]
        raise _WorkerFailed("\n".join([f"{scenario}: {exc}".strip(), *reports])) from None
    finally:
        for process in context.processes:
            if process.is_alive():
                process.terminate()
                process.join(5)
    names = [f"rank{r}" for r in range(WORLD)] + (["single"] if reference else [])
    return {name: torch.load(out / f"{name}.pt", weights_only=False) for name in names}


def _metric_records(path: Path) -> list[dict[str, Any]]:
    return [r["metrics"] for r in read_metrics_jsonl(path) if r["type"] == "metrics" and "epoch" in r["metrics"]]


def _assert_weights_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _assert_weights_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-5, msg=lambda m, key=key: f"{key}: {m}")


@pytest.fixture(scope="module")
def columnar_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Two ranks with batch B and one process with batch 2B, on the same seeded ColumnarLoader."""
    out = tmp_path_factory.mktemp("ddp-columnar")
    return out, _launch("columnar", out, reference=True)


# -- tests ------------------------------------------------------------------------------------------
def test_ddp_columnar_matches_single_process_with_the_global_batch(columnar_run):
    _, results = columnar_run
    ranks, single = [results["rank0"], results["rank1"]], results["single"]
    assert [(r["rank"], r["world_size"]) for r in ranks] == [(0, 2), (1, 2)]
    assert (single["rank"], single["world_size"]) == (0, 1)
    assert [r["global_step"] for r in ranks] == [single["global_step"]] * 2 == [2 * N_TRAIN // (WORLD * BATCH)] * 2
    _assert_weights_equal(ranks[0]["weights"], ranks[1]["weights"])
    _assert_weights_close(ranks[0]["weights"], single["weights"])
    assert not torch.equal(single["weights"]["mlp.0.weight"], _model().state_dict()["mlp.0.weight"])  # it trained


def test_ddp_only_rank_zero_logs_and_checkpoints(columnar_run):
    out, results = columnar_run
    assert not (out / "rank1").exists()
    records = read_metrics_jsonl(out / "rank0")
    assert records[0]["type"] == "hparams" and records[-1] == {"type": "finish", "status": "success"}
    assert records[0]["params"]["world_size"] == 2
    assert len(_metric_records(out / "rank0")) == 2

    ckpt = out / "ckpt"
    index = json.loads((ckpt / "checkpoints.json").read_text())
    expected = {e["path"] for e in index["top_k"]} | {"last.ckpt", "checkpoints.json"}
    assert sorted(p.name for p in ckpt.iterdir()) == sorted(expected)  # no second copy, no temp files
    assert len(index["top_k"]) == 2
    single_ckpt = out / "ckpt-single"
    assert sorted(p.name for p in single_ckpt.iterdir()) == sorted(expected)
    for name in expected - {"checkpoints.json"}:
        saved = torch.load(ckpt / name, weights_only=True)["model"]
        _assert_weights_close(saved, torch.load(single_ckpt / name, weights_only=True)["model"])
    last = torch.load(ckpt / "last.ckpt", weights_only=True)["model"]
    _assert_weights_equal(last, results["rank0"]["weights"])  # val loss improved: the best is the last


def test_ddp_validation_metrics_cover_the_whole_uneven_set(columnar_run):
    out, results = columnar_run
    ddp, single = _metric_records(out / "rank0"), _metric_records(out / "single")
    assert [m["epoch"] for m in ddp] == [m["epoch"] for m in single] == [0, 1]
    for got, want in zip(ddp, single, strict=True):
        assert math.isclose(got["val/loss"], want["val/loss"], rel_tol=1e-5)
    # Every rank saw the same gathered metrics, so every rank took the same decisions.
    assert results["rank0"]["best_result"] == results["rank1"]["best_result"]
    assert [e["val/loss"] for e in results["rank0"]["epochs"]] == [e["val/loss"] for e in results["rank1"]["epochs"]]
    assert math.isclose(results["rank0"]["best_score"], results["single"]["best_score"], rel_tol=1e-5)


def test_ddp_with_a_plain_dataloader_trains_in_step(tmp_path):
    results = _launch("dataloader", tmp_path, reference=False)
    rank0, rank1 = results["rank0"], results["rank1"]
    _assert_weights_equal(rank0["weights"], rank1["weights"])
    assert rank0["global_step"] == rank1["global_step"] == 2 * N_TRAIN // (WORLD * BATCH)
    losses = [e["val/loss"] for e in rank0["epochs"]]
    assert losses == [e["val/loss"] for e in rank1["epochs"]]
    assert losses[-1] < 0.5 * rank0["initial_loss"]
    assert rank0["epochs"][1]["train/loss"] < rank0["epochs"][0]["train/loss"]
    # evaluate() on an odd-sized DataLoader: the shards gathered give the loss of the whole set.
    for result in (rank0, rank1):
        assert math.isclose(result["gathered_loss"], result["direct_loss"], rel_tol=1e-5)


def test_ddp_early_stopping_stops_every_rank_together(tmp_path):
    started = time.monotonic()
    results = _launch("early_stop", tmp_path, reference=False)
    assert time.monotonic() - started < DEADLINE_S
    rank0, rank1 = results["rank0"], results["rank1"]
    assert rank0["stopped_epoch"] == rank1["stopped_epoch"] == 3
    assert rank0["current_epoch"] == rank1["current_epoch"] == 4
    assert rank0["global_step"] == rank1["global_step"]
    assert [e["val/score"] for e in rank0["epochs"]] == [e["val/score"] for e in rank1["epochs"]] == SCORES[:4]
    # Both ranks end on the best epoch's weights (rank 1 reads rank 0's checkpoint).
    assert rank0["best_score"] == rank1["best_score"] == 0.60
    _assert_weights_equal(rank0["weights"], rank1["weights"])
    best = [p for p in (tmp_path / "ckpt").glob("*.ckpt") if p.name != "last.ckpt"]
    assert [p.name for p in best] == ["epoch=1-step=12.ckpt"]
    _assert_weights_equal(torch.load(best[0], weights_only=True)["model"], rank0["weights"])


def test_ddp_collectives_handle_empty_and_uneven_shards(tmp_path):
    results = _launch("collectives", tmp_path, reference=False)
    for result in results.values():
        assert result["outputs"].keys() == {"p"}
        assert torch.equal(result["outputs"]["p"], torch.arange(6.0).reshape(3, 2))
        assert torch.equal(result["uneven"], torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]))
        assert result["mean"] == 1.5
        assert result["any"] == (True, False)
        assert all(torch.equal(v, torch.ones_like(v)) for v in result["module"].values())  # rank 0's values
        weight, bias = result["grads"]
        assert torch.equal(weight, torch.full_like(weight, 1.5)) and torch.equal(bias, torch.full_like(bias, 0.5))


# -- sharding without a process group: a DistContext for rank 1 of 2 ----------------------------------
def _rank_one(seed: int = 7) -> DistContext:
    return DistContext(rank=1, world_size=2, local_rank=1, device=torch.device("cpu"), seed=seed)


def test_shard_train_dataloader_uses_a_seeded_distributed_sampler():
    from torch.utils.data.distributed import DistributedSampler

    (x, y), _ = _data()
    loader = DataLoader(TorchDataset(x, y), batch_size=8, shuffle=True, worker_init_fn=_free_port, drop_last=True)
    sharded = _rank_one().shard_train(loader)
    assert isinstance(sharded.sampler, DistributedSampler)
    assert (sharded.sampler.rank, sharded.sampler.num_replicas, sharded.sampler.seed) == (1, 2, 7)
    assert sharded.sampler.shuffle and sharded.drop_last and sharded.worker_init_fn is _free_port
    assert len(sharded) == N_TRAIN // 2 // 8
    plain = _rank_one().shard_train(DataLoader(TorchDataset(x, y), batch_size=8))
    assert not plain.sampler.shuffle


def test_shard_eval_gives_every_row_to_exactly_one_rank():
    _, (vx, vy) = _data()
    contexts = [_rank_one(), DistContext(rank=0, world_size=2, local_rank=0, device=torch.device("cpu"))]
    for loader in (ColumnarLoader(vx, vy, batch_size=8, shuffle=True), DataLoader(TorchDataset(vx, vy), batch_size=8)):
        parts = [torch.cat([yb for _, yb in context.shard_eval(loader)]) for context in contexts]
        assert [len(p) for p in parts] == [N_VAL // 2, N_VAL - N_VAL // 2]
        assert sorted(torch.cat(parts).tolist()) == sorted(vy.tolist())


def test_shard_refuses_what_it_cannot_split():
    _, (vx, vy) = _data()
    batches = torch.utils.data.BatchSampler(range(N_VAL), batch_size=4, drop_last=False)
    custom = DataLoader(TorchDataset(vx, vy), batch_sampler=list(batches))
    with pytest.raises(ConfigError, match="custom batch_sampler"):
        _rank_one().shard_eval(custom)
    with pytest.raises(ConfigError, match="cannot shard a list"):
        _rank_one().shard_train([1, 2])


def test_from_environment_explains_a_run_not_started_by_torchrun(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    with pytest.raises(ConfigError, match="MASTER_ADDR and MASTER_PORT not set; start the run with torchrun"):
        DistContext.from_environment(TrainingConfig(device="cpu"))
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ConfigError, match=r"RANK=2 must lie in \[0, WORLD_SIZE=2\)"):
        DistContext.from_environment(TrainingConfig(device="cpu"))
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ConfigError, match="RANK='one' is not an integer"):
        DistContext.from_environment(TrainingConfig(device="cpu"))


# -- cross-rank consistency of BaseTrainer ------------------


def test_ddp_train_loss_is_the_mean_over_all_ranks(columnar_run):
    out, _ = columnar_run
    for got, want in zip(_metric_records(out / "rank0"), _metric_records(out / "single"), strict=True):
        assert math.isclose(got["train/loss"], want["train/loss"], rel_tol=1e-5)


@pytest.fixture(scope="module")
def drift_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Two ranks with a learned loss weighter and a checkpoint directory each; epoch 0 is the best."""
    out = tmp_path_factory.mktemp("ddp-drift")
    return out, _launch("drift", out, reference=False)


def test_ddp_rank_one_writes_nothing_to_its_own_checkpoint_directory(drift_run):
    out, results = drift_run
    assert not (out / "ckpt-rank1").exists() and not (out / "rank1").exists()
    assert sorted(p.name for p in (out / "ckpt-rank0").iterdir()) == [
        "checkpoints.json",
        "epoch=0-step=6.ckpt",
        "last.ckpt",
    ]
    assert results["rank0"]["global_step"] == results["rank1"]["global_step"] == 3 * N_TRAIN // (WORLD * BATCH)


def test_ddp_loss_weighter_parameters_stay_identical(drift_run):
    _, results = drift_run
    assert torch.equal(results["rank0"]["weighter"], results["rank1"]["weighter"])


def test_ddp_best_weights_reach_every_rank_without_shared_storage(drift_run):
    _, results = drift_run
    assert results["rank0"]["best_score"] == results["rank1"]["best_score"] == DRIFT_SCORES[0]
    _assert_weights_equal(results["rank0"]["weights"], results["rank1"]["weights"])


def test_ddp_a_stop_asked_for_by_one_rank_stops_every_rank(tmp_path):
    results = _launch("local_stop", tmp_path, reference=False)
    assert results["rank0"]["current_epoch"] == results["rank1"]["current_epoch"] == 1
    _assert_weights_equal(results["rank0"]["weights"], results["rank1"]["weights"])
