"""``rec train TASK`` runs a plugin's trainer end to end: run folder, resume, Ctrl-C, --json."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from typer.testing import CliRunner

from rec_core.cli import build_app
from rec_core.loggers import read_metrics_jsonl

from .cli_checks import fails_with

TINY_PLUGIN = '''
import torch
from torch import nn
from rec_core import BaseTrainer, hookimpl
from rec_core.data import ColumnarLoader
from rec_core.pipeline import PreparedRun


class TinyNet(nn.Module):
    def __init__(self, hidden=8):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.mlp(x["f"]).squeeze(-1)


class TinyTrainer(BaseTrainer):
    """Fit a tiny classifier (test plugin)."""

    config_defaults = {"max_epochs": 3, "batch_size": 16, "learning_rate": 0.05, "monitor": "val/loss",
                       "progress_bar": False}

    def training_step(self, batch):
        x, y = batch
        return nn.functional.binary_cross_entropy_with_logits(self.network(x), y)

    @classmethod
    def from_request(cls, request, *, config, loggers):
        gen = torch.Generator().manual_seed(5)
        n = int(request.data_params.get("rows", 400))
        x = torch.randn(n, 3, generator=gen)
        y = (x[:, 0] - x[:, 2] > 0).float()
        cut, cut2 = int(n * 0.7), int(n * 0.85)
        loader = lambda a, b, **kw: ColumnarLoader({"f": x[a:b]}, y[a:b], batch_size=config.batch_size, **kw)
        model = request.model.load()(**request.model_params) if request.model else TinyNet()
        trainer = cls(model, config, loggers=loggers)
        return PreparedRun(trainer, loader(0, cut, shuffle=True, seed=config.random_seed),
                           loader(cut, cut2), loader(cut2, n), info={"model": "tinynet", "data": "synthetic"})


@hookimpl
def rec_register_trainers(register):
    register("tiny", TinyTrainer)


@hookimpl
def rec_register_models(register):
    register("tinynet", TinyNet, task="tiny")
'''

runner = CliRunner()


@pytest.fixture
def tiny_site(rec_plugin_site):
    rec_plugin_site.install(
        "rec-tiny", entry_points={"rec": {"tiny": "tiny_plugin"}}, modules={"tiny_plugin.py": TINY_PLUGIN}
    )
    return rec_plugin_site


def test_the_summary_names_the_cpu_thread_count_a_run_trained_on(tiny_site, tmp_path):
    app = build_app(tiny_site.plugin_manager())
    plain = runner.invoke(app, ["train", "tiny", "--epochs", "1", "--output", str(tmp_path / "a"), "--json"])
    assert plain.exit_code == 0, plain.output
    assert "cpu_threads" not in json.loads(plain.output.strip().splitlines()[-1])  # not set: torch's own count
    fixed = runner.invoke(app, ["train", "tiny", "--epochs", "1", "--set", "cpu_threads=1",
                                "--output", str(tmp_path / "b")])
    assert fixed.exit_code == 0, fixed.output
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["cpu_threads"] == 1
    assert re.search(r"cpu_threads\s+.\s+1\s", fixed.output)


def test_the_summary_counts_the_captured_steps_and_a_cpu_run_refuses_capture(tiny_site, tmp_path,
                                                                             rec_capture_on_cpu):
    app = build_app(tiny_site.plugin_manager())
    captured = runner.invoke(app, ["train", "tiny", "--epochs", "1", "--set", "capture_step=true",
                                   "--output", str(tmp_path / "a"), "--json"])
    assert captured.exit_code == 0, captured.output
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["captured_steps"] == 280 // 16 - 3  # full batches after the three warm-up steps
    assert "capture_fallback" not in summary and rec_capture_on_cpu.built == 1


def test_capture_step_on_the_cpu_is_one_line_and_writes_no_run(tiny_site, tmp_path):
    app = build_app(tiny_site.plugin_manager())
    fails_with(app, ["train", "tiny", "--set", "capture_step=true", "--output", str(tmp_path / "a")],
               "capture_step: needs a CUDA device (this run trains on cpu)")
    assert not (tmp_path / "a").exists()


def test_rec_train_writes_the_run_folder(tiny_site, tmp_path):
    out = tmp_path / "run"
    app = build_app(tiny_site.plugin_manager())
    result = runner.invoke(app, ["train", "tiny", "--model", "tinynet", "--set", "model.hidden=4",
                                 "--epochs", "2", "--output", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["model"] == "tinynet"
    assert set(summary["best"]) == {"val/loss"} and set(summary["test"]) == {"test/loss"}
    assert summary["best"]["val/loss"] < 0.69  # learned something
    assert os.path.exists(summary["best_checkpoint"])
    assert (out / "checkpoints" / "last.ckpt").exists()
    config_text = (out / "config.toml").read_text()
    assert "max_epochs = 2" in config_text and f'checkpoint_dir = "{out / "checkpoints"}"' in config_text
    records = read_metrics_jsonl(out / "metrics.jsonl")
    assert records[0]["type"] == "hparams" and records[-1] == {"type": "finish", "status": "success"}
    epochs = [r["metrics"]["epoch"] for r in records if r["type"] == "metrics" and "epoch" in r["metrics"]]
    assert epochs == [0, 1]
    weights = torch.load(summary["best_checkpoint"], weights_only=True)["model"]
    assert weights["mlp.0.weight"].shape == (4, 3)  # model.hidden=4 reached the model


@pytest.mark.parametrize(("setting", "message"), [
    ("cpu_threads=fast", "config key 'cpu_threads' must be a positive integer or 'auto' (got 'fast')"),
    ("cpu_threads=0", "config key 'cpu_threads' must be a positive integer or 'auto' (got 0)"),
    ("embedding_layout=stacked", "config key 'embedding_layout' must be one of auto, per-field, fused"),
    ("data_on_device=sometimes", "config key 'data_on_device' must be true, false or 'auto'"),
])
def test_bad_speed_settings_are_one_line_and_write_nothing(tiny_site, tmp_path, setting, message):
    out = tmp_path / "run"
    fails_with(build_app(tiny_site.plugin_manager()), ["train", "tiny", "--set", setting, "--output", str(out)],
               message)
    assert not out.exists()


def test_rec_train_resume_continues_the_run(tiny_site, tmp_path):
    out = tmp_path / "run"
    app = build_app(tiny_site.plugin_manager())
    assert runner.invoke(app, ["train", "tiny", "--epochs", "2", "--output", str(out)]).exit_code == 0
    result = runner.invoke(app, ["train", "tiny", "--epochs", "4", "--resume", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["epochs"] == 4 and summary["output"] == str(out)
    records = read_metrics_jsonl(out / "metrics.jsonl")
    epochs = [r["metrics"]["epoch"] for r in records if r["type"] == "metrics" and "epoch" in r["metrics"]]
    assert epochs == [0, 1, 2, 3]  # the same metrics.jsonl, continued


def test_resume_alone_continues_with_the_runs_model_options_and_settings(tiny_site, tmp_path):
    out = tmp_path / "run"
    app = build_app(tiny_site.plugin_manager())
    first = runner.invoke(app, ["train", "tiny", "--model", "tinynet", "--set", "model.hidden=4", "--set",
                                "batch_size=8", "--set", "data.rows=320", "--epochs", "2", "--output", str(out)])
    assert first.exit_code == 0, first.output
    result = runner.invoke(app, ["train", "tiny", "--resume", str(out), "--epochs", "3", "--json"])
    assert result.exit_code == 0, result.output  # a hidden=8 TinyNet would not fit the checkpoint
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["epochs"] == 3 and summary["model"] == "tinynet"
    assert summary["global_step"] == 3 * 28  # data.rows=320 kept: 224 training rows in batches of 8
    config_text = (out / "config.toml").read_text()
    assert "batch_size = 8" in config_text and "max_epochs = 3" in config_text
    weights = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["model"]
    assert weights["mlp.0.weight"].shape == (4, 3)
    record = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**record, "task": "other"}))
    before = (out / "config.toml").read_bytes()
    wrong = runner.invoke(app, ["train", "tiny", "--resume", str(out)])
    assert wrong.exit_code == 1 and f"is a 'other' run: continue it with rec train other --resume {out}" in wrong.output
    assert (out / "config.toml").read_bytes() == before


def test_corrupt_resume_checkpoint_is_one_line_and_leaves_files_alone(tiny_site, tmp_path):
    out = tmp_path / "run"
    app = build_app(tiny_site.plugin_manager())
    assert runner.invoke(app, ["train", "tiny", "--epochs", "1", "--output", str(out)]).exit_code == 0
    last = out / "checkpoints" / "last.ckpt"
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])
    summary_before = (out / "summary.json").read_text()
    result = runner.invoke(app, ["train", "tiny", "--epochs", "2", "--resume", str(out)])
    assert result.exit_code == 1
    assert str(last) in result.output and "Traceback" not in result.output
    assert last.read_bytes() == data[: len(data) // 2]
    assert (out / "summary.json").read_text() == summary_before


def test_ctrl_c_saves_and_exits_130(tiny_site, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(tiny_site.path), "REC_LOAD_PLUGINS": "tiny"}
    command = [sys.executable, "-m", "rec_core", "train", "tiny", "--epochs", "400", "--set", "data.rows=20000",
               "--output", str(out)]
    # A runner started in the background (SIGINT ignored) must not pass that on: Python keeps an ignored SIGINT.
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 90
        while not (out / "checkpoints" / "last.ckpt").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "no checkpoint written"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "--resume" in stderr
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["global_step"] > 0
    records = read_metrics_jsonl(out / "metrics.jsonl")
    assert records[-1] == {"type": "finish", "status": "interrupted"}


def test_nproc_per_node_runs_ddp_workers(tiny_site, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(tiny_site.path), "REC_LOAD_PLUGINS": "tiny", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "rec_core", "train", "tiny", "--epochs", "2", "--nproc-per-node", "2",
               "--output", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 2
    records = read_metrics_jsonl(out / "metrics.jsonl")
    assert records[0]["params"]["world_size"] == 2
    assert records[-1] == {"type": "finish", "status": "success"}
    assert sum(r["type"] == "hparams" for r in records) == 1  # only rank 0 logged
