"""A run folder is a transaction: every input is validated before the first byte is written.

Each test feeds one class of bad input through the command line (one red line, exit 1, no
traceback) and through the Python API (the same error), and checks that no run folder
appears and that every existing file is byte-identical afterwards. The trainer is the
third-party fixture plugin (tests/fixtures/rec-toy-trainer), so these run with rec-core alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from rec_core.cli import build_app
from rec_core.config import read_toml
from rec_core.errors import CheckpointError, ConfigError, RecError
from rec_core.runfolder import RunFolder

from .cli_checks import fails_with, install_toy_trainer, runner, snapshot


@pytest.fixture
def toy(rec_plugin_site):
    install_toy_trainer(rec_plugin_site)
    pm = rec_plugin_site.plugin_manager()
    return build_app(pm), pm


@pytest.fixture
def finished_run(toy, tmp_path):
    app, _ = toy
    out = tmp_path / "done"
    result = runner.invoke(app, ["train", "rating", "--epochs", "1", "--output", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_unknown_monitor_fails_before_anything_is_written(toy, tmp_path):
    app, pm = toy
    out = tmp_path / "run"
    fails_with(app, ["train", "rating", "--set", "monitor=val/auc", "--output", str(out)],
               "monitored metric 'val/auc' is not computed by RatingTrainer (available: val/rmse)")
    assert not out.exists()
    # The API checks before the first epoch too: no checkpoint folder appears.
    trainer_cls = pm.registry("trainers").get("rating").load()
    data = pm.registry("datasets").get("toy-ratings").load().load(seed=1, rows=400)
    model = pm.registry("models").get("mf", task="rating").load().from_features(data.features)
    trainer = trainer_cls(model, monitor="val/auc", checkpoint_dir=str(tmp_path / "api"), progress_bar=False)
    loaders = trainer.make_loaders(data)
    with pytest.raises(ConfigError, match="'val/auc' is not computed"):
        trainer.fit(loaders["train"], loaders["val"])
    assert trainer.global_step == 0 and not (tmp_path / "api").exists()


def _damaged(kind: str, tmp_path: Path, good: Path) -> Path:
    path = tmp_path / f"{kind}.ckpt"
    data = good.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "random-bytes":
        path.write_bytes(os.urandom(4096))
    elif kind == "plain-state-dict":  # torch.save of something that is not a rec checkpoint
        torch.save({f"layer{i}.weight": torch.zeros(2) for i in range(2000)}, path)
    return path


@pytest.mark.parametrize(("kind", "message"), [
    ("truncated", "is truncated or corrupt"),
    ("random-bytes", "is truncated or corrupt"),
    ("plain-state-dict", "lacks required key(s) 'format_version', 'model'"),
])
def test_a_bad_checkpoint_to_resume_leaves_no_new_run_folder(toy, finished_run, tmp_path, kind, message):
    app, _ = toy
    bad = _damaged(kind, tmp_path, finished_run / "checkpoints" / "last.ckpt")
    before = snapshot(tmp_path)
    out = tmp_path / "new"
    output = fails_with(app, ["train", "rating", "--resume", str(bad), "--output", str(out)], message)
    assert str(bad) in output and len(output) < 400  # names the file, not thousands of keys
    assert not out.exists() and snapshot(tmp_path) == before


def test_a_failed_resume_never_rewrites_the_runs_record(toy, finished_run):
    app, _ = toy
    last = finished_run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:100])
    before = snapshot(finished_run)
    fails_with(app, ["train", "rating", "--epochs", "3", "--resume", str(finished_run)], str(last))
    assert snapshot(finished_run) == before  # config.toml, run.json, model.json untouched


def test_a_foreign_checkpoint_names_the_first_mismatched_keys(toy, finished_run, tmp_path):
    app, _ = toy
    before = snapshot(finished_run)
    # The same trainer, another model shape: a checkpoint of a different model (or data set).
    output = fails_with(app, ["train", "rating", "--set", "model.dim=3", "--set", "data.users=50",
                              "--resume", str(finished_run)], "model weights do not match MF")
    assert "shape: user.weight" in output and len(output) < 400
    assert snapshot(finished_run) == before
    from rec_toy.model import MF
    from rec_toy.trainer import RatingTrainer

    trainer = RatingTrainer(MF(51, 101, dim=3), progress_bar=False)
    with pytest.raises(CheckpointError, match=r"3 shape: user\.weight \(201, 8\) vs \(51, 3\)"):
        trainer.resume_checkpoint(finished_run / "checkpoints" / "last.ckpt")


def test_config_paths_that_are_not_toml_files(toy, tmp_path):
    app, _ = toy
    folder = tmp_path / "conf.d"
    folder.mkdir()
    fails_with(app, ["train", "rating", "--config", str(folder)], f"config file {folder} is a folder")
    latin = tmp_path / "latin1.toml"
    latin.write_bytes('experiment_name = "caf\xe9"\n'.encode("latin-1"))
    fails_with(app, ["train", "rating", "--config", str(latin)], f"config file {latin} is not UTF-8 text")
    for path, message in ((folder, "is a folder"), (latin, "is not UTF-8")):
        with pytest.raises(ConfigError, match=message):
            read_toml(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf.d", "latin1.toml", "site-packages"]


def test_output_below_a_regular_file(toy, tmp_path):
    app, _ = toy
    blocker = tmp_path / "notes.txt"
    blocker.write_text("keep me")
    out = blocker / "run"
    fails_with(app, ["train", "rating", "--output", str(out)], f"{blocker} is a file, not a folder")
    assert blocker.read_text() == "keep me"
    with pytest.raises(RecError, match="is a file, not a folder"):
        RunFolder(out).check_can_start(resuming=False)


def test_output_in_a_read_only_folder(toy, tmp_path, monkeypatch):
    app, _ = toy
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.geteuid() == 0:  # root ignores permission bits: let access() answer as for a normal user
            real_access = os.access
            monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode))
        fails_with(app, ["train", "rating", "--output", str(locked / "run")], f"{locked} is not writable")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_a_folder_that_cannot_be_created_at_start_is_one_line(toy, tmp_path, monkeypatch):
    app, _ = toy
    out = tmp_path / "run"

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    fails_with(app, ["train", "rating", "--output", str(out)], f"cannot create run folder {out}: Permission denied")
    monkeypatch.undo()
    assert not out.exists()


def test_predict_output_below_a_regular_file(toy, tmp_path):
    app, _ = toy
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    table = pd.DataFrame({"user": rng.integers(1, 20, 300), "item": rng.integers(1, 20, 300)})
    table["rating"] = (table["item"] % 5 + 1).astype(float)
    table.to_csv(tmp_path / "r.csv", index=False)
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "rating", "--data", str(tmp_path / "r.csv"), "--set", "data.label=rating",
                                 "--set", "data.regression=rating", "--epochs", "1", "--output", str(out)])
    assert result.exit_code == 0, result.output
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    before = snapshot(tmp_path)
    fails_with(app, ["predict", str(out), "--data", str(tmp_path / "r.csv"), "--output", str(blocker / "p.csv")],
               f"cannot write {blocker / 'p.csv'}")
    assert snapshot(tmp_path) == before


FAILING_LOGGER = '''
from rec_core import RecError, hookimpl
from rec_core.loggers import BaseLogger


class Unreachable(BaseLogger):
    def __init__(self, project="x"):
        raise RecError("logger 'unreachable' could not start: server not reachable")


@hookimpl
def rec_register_loggers(register):
    register("unreachable", Unreachable)
'''


def test_a_logger_that_cannot_start_leaves_no_run_and_no_changed_record(rec_plugin_site, tmp_path):
    install_toy_trainer(rec_plugin_site)
    rec_plugin_site.install("rec-unreachable", entry_points={"rec": {"unreachable": "unreachable_plugin"}},
                            modules={"unreachable_plugin.py": FAILING_LOGGER})
    app = build_app(rec_plugin_site.plugin_manager())
    out = tmp_path / "run"
    fails_with(app, ["train", "rating", "--logger", "unreachable", "--output", str(out)], "server not reachable")
    assert not out.exists()  # the record written just before the loggers start is rolled back
    fails_with(app, ["train", "rating", "--logger", "unreachable", "--set", "logger.unreachable.colour=red",
                     "--output", str(out)], "logger 'unreachable': bad options {'colour': 'red'}")
    assert not out.exists()  # bad logger options are found before anything is written
    assert runner.invoke(app, ["train", "rating", "--epochs", "1", "--output", str(out)]).exit_code == 0
    before = snapshot(out)
    fails_with(app, ["train", "rating", "--epochs", "2", "--logger", "unreachable", "--resume", str(out)],
               "server not reachable")
    assert snapshot(out) == before
