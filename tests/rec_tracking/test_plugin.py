"""rec-tracking as a plugin: entry point, lazy registration, and no SDK or torch on import."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from rec_core import make_plugin_manager
from rec_core.cli import build_app
from rec_core.loggers import BaseLogger

NAMES = {"wandb": "WandbLogger", "swanlab": "SwanLabLogger", "tensorboardx": "TensorBoardXLogger"}


@pytest.fixture
def tracking_pm(monkeypatch):
    monkeypatch.setenv("REC_LOAD_PLUGINS", "tracking")
    return make_plugin_manager()


def test_the_distribution_declares_the_tracking_entry_point():
    eps = importlib.metadata.entry_points(group="rec")
    assert {ep.name: ep.value for ep in eps}.get("tracking") == "rec_tracking.plugin"
    assert importlib.metadata.distribution("rec-tracking").version == "0.1.0"


def test_loggers_are_registered_lazily_and_load_to_the_classes(tracking_pm):
    registry = tracking_pm.registry("loggers")
    entries = {e.name: e for e in registry.entries() if e.plugin == "tracking"}
    assert set(entries) == set(NAMES)
    assert all(isinstance(e.obj, str) for e in entries.values())  # "module:Class", imported on use
    assert all("rec-tracking[" in e.description for e in entries.values())
    for name, class_name in NAMES.items():
        cls = entries[name].load()
        assert cls.__name__ == class_name and cls.name == name
        assert issubclass(cls, BaseLogger) and callable(cls.from_run)
    assert tracking_pm.records["tracking"].errors == []


def test_public_api():
    import rec_tracking

    assert rec_tracking.__all__ == sorted(rec_tracking.__all__)
    assert {"WandbLogger", "SwanLabLogger", "TensorBoardXLogger"} <= set(dir(rec_tracking))
    with pytest.raises(AttributeError):
        rec_tracking.NoSuchLogger  # noqa: B018


def test_rec_list_loggers_shows_them(tracking_pm):
    result = CliRunner().invoke(build_app(tracking_pm), ["list", "loggers", "--json"])
    assert result.exit_code == 0, result.output
    listed = {row["name"]: row["plugin"] for row in json.loads(result.output)}
    assert listed == {"jsonl": "core", "wandb": "tracking", "swanlab": "tracking", "tensorboardx": "tracking"}


def test_importing_and_listing_loads_no_sdk_and_no_torch():
    code = """
import os, sys
os.environ["REC_LOAD_PLUGINS"] = "tracking"
import rec_tracking, rec_tracking.plugin
from rec_core import make_plugin_manager
from rec_core.cli import build_app
from typer.testing import CliRunner
pm = make_plugin_manager()
assert CliRunner().invoke(build_app(pm), ["list", "loggers"]).exit_code == 0
pm.registry("loggers").get("wandb").load()  # the logger class itself imports no SDK either
print(sorted(m for m in ("wandb", "swanlab", "tensorboardX", "torch", "numpy") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stderr
