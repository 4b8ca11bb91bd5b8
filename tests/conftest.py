"""Shared test setup: rec-core's test fixtures and the real-data location."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Built data sets (Frappe) are cached here rather than in the user's ~/.cache/rec.
os.environ.setdefault("REC_CACHE_DIR", tempfile.mkdtemp(prefix="rec-test-cache-"))

pytest_plugins = ["rec_core.testing"]


@pytest.fixture
def no_data_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Unset REC_DATA_DIR and point the cache at an empty folder; return that folder."""
    monkeypatch.delenv("REC_DATA_DIR", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("REC_CACHE_DIR", str(cache))
    return cache
