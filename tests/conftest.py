"""Shared test setup: rec-core's test fixtures and the real-data location."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

pytest_plugins = ["rec_core.testing"]
