"""Run wandb and SwanLab offline, quietly and without prompts, each test in its own folders.

The environment follows ``shared/notes/tracking-offline.md`` and is set when this conftest
is imported, before any test can call ``wandb.init``: ``WANDB_MODE=offline`` (plus
``WANDB_ERROR_REPORTING=false``) also keeps wandb's analytics exporter off the network at
interpreter exit, and SwanLab in offline, non-interactive mode never asks for a key.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.update(
    WANDB_MODE="offline",
    WANDB_SILENT="true",
    WANDB_ERROR_REPORTING="false",
    SWANLAB_MODE="offline",
    SWANLAB_INTERACTIVE="false",
)


@pytest.fixture(autouse=True)
def _tracker_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point wandb's folders into the test's tmp_path; finish any SwanLab run afterwards."""
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    yield
    swanlab = sys.modules.get("swanlab")
    if swanlab is not None and swanlab.has_run():  # SwanLab allows one active run per process
        swanlab.finish()
