"""Shared test setup: rec-core's test fixtures and the real-data location."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Built data sets (Frappe) are cached here rather than in the user's ~/.cache/rec.
os.environ.setdefault("REC_CACHE_DIR", tempfile.mkdtemp(prefix="rec-test-cache-"))

pytest_plugins = ["rec_core.testing"]
